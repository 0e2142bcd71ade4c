/*
 * libicudata for the Linux build: ICU's "stub data" -- an ICU data package with no items.
 *
 * PySide6's Linux wheels ship ICU 73; libQt6Core links libicuuc and libicui18n, and those link
 * libicudata, 30.6 MiB of locale, collation and converter tables. Qt uses them only for what
 * the app never asks for (QCollator, legacy text codecs, time-zone display names); its own
 * locale data, Unicode tables and UTF-8/UTF-16 codecs are built into QtCore. With this package
 * ICU opens, finds no item, and says so (U_MISSING_RESOURCE_ERROR / U_FILE_ACCESS_ERROR), which
 * Qt answers by falling back to its own code. The layout is ICU's own stubdata
 * (icu4c/source/stubdata/stubdata.cpp): a "ToCP" header with an empty table of contents.
 *
 * packaging/killswitch.spec builds it with the C compiler and puts it in place of the wheel's
 * libicudata: cc -O2 -shared -fPIC -s -DICUDATA_SYMBOL=icudt73_dat
 *                   -Wl,-soname,libicudata.so.73 -o libicudata.so.73 icudata_stub.c
 */
#include <stdint.h>
#ifndef ICUDATA_SYMBOL
#error "define ICUDATA_SYMBOL, e.g. -DICUDATA_SYMBOL=icudt73_dat"
#endif
typedef struct {
    uint16_t header_size;
    uint8_t magic1, magic2;
    uint16_t size, reserved;
    uint8_t is_big_endian, charset_family, sizeof_uchar, reserved_byte;
    uint8_t data_format[4], format_version[4], data_version[4];
    char padding[8];
    uint32_t count, reserved2;
    uint32_t toc[2];
    int32_t fake[4];
} __attribute__((aligned(16))) IcuData;

__attribute__((visibility("default"))) const IcuData ICUDATA_SYMBOL = {
    32, 0xda, 0x27,
    20, 0,
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    1,
#else
    0,
#endif
    0, 2, 0,
    {0x54, 0x6f, 0x43, 0x50}, {1, 0, 0, 0}, {0, 0, 0, 0},
    {0}, 0, 0, {0, 0}, {0, 0, 0, 0},
};
