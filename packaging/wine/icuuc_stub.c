/*
 * icuuc.dll for Wine only -- NEVER part of the product build.
 *
 * Qt6Core.dll (PySide6's Windows wheel) imports the 20 ucnv_* functions below from icuuc.dll,
 * a system DLL of Windows 10 and 11 that Wine 8 does not have; without it `import
 * PySide6.QtCore` fails with "DLL load failed". Qt uses ICU only for text codecs beyond its own
 * UTF-8/UTF-16/Latin-1 ones, and falls back to those when a converter does not open. So every
 * converter here fails to open, and the rest never see a converter.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -shared -s -o icuuc.dll icuuc_stub.c
 * (packaging/wine/check.sh builds it into the Wine prefix's system32.)
 */
#include <stddef.h>
#include <stdint.h>

#define EXPORT __declspec(dllexport)

typedef int UErrorCode;
typedef void UConverter;
typedef uint16_t UChar;

static const UErrorCode U_FILE_ACCESS_ERROR = 4;  /* "the requested file cannot be found" */
static const UErrorCode U_UNSUPPORTED_ERROR = 16;

static void fail(UErrorCode *err, UErrorCode why) {
    if (err != NULL && *err <= 0) *err = why;
}

EXPORT UConverter *ucnv_open(const char *name, UErrorCode *err) {
    (void)name;
    fail(err, U_FILE_ACCESS_ERROR);
    return NULL;
}

EXPORT void ucnv_close(UConverter *cnv) { (void)cnv; }
EXPORT void ucnv_reset(UConverter *cnv) { (void)cnv; }
EXPORT int8_t ucnv_getMaxCharSize(const UConverter *cnv) { (void)cnv; return 1; }

EXPORT const char *ucnv_getName(const UConverter *cnv, UErrorCode *err) {
    (void)cnv;
    fail(err, U_UNSUPPORTED_ERROR);
    return NULL;
}

EXPORT int32_t ucnv_countAvailable(void) { return 0; }
EXPORT const char *ucnv_getAvailableName(int32_t n) { (void)n; return NULL; }

EXPORT const char *ucnv_getStandardName(const char *name, const char *standard, UErrorCode *err) {
    (void)name; (void)standard;
    fail(err, U_UNSUPPORTED_ERROR);
    return NULL;
}

/* The callbacks Qt installs on a converter; no converter exists, so they never run. */
EXPORT void UCNV_FROM_U_CALLBACK_SUBSTITUTE(const void *context, void *args, const UChar *units,
                                            int32_t length, int32_t codePoint, int reason,
                                            UErrorCode *err) {
    (void)context; (void)args; (void)units; (void)length; (void)codePoint; (void)reason;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void UCNV_TO_U_CALLBACK_SUBSTITUTE(const void *context, void *args, const char *units,
                                          int32_t length, int reason, UErrorCode *err) {
    (void)context; (void)args; (void)units; (void)length; (void)reason;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void ucnv_getToUCallBack(const UConverter *cnv, void **action, const void **context) {
    (void)cnv;
    if (action != NULL) *action = NULL;
    if (context != NULL) *context = NULL;
}

EXPORT void ucnv_getFromUCallBack(const UConverter *cnv, void **action, const void **context) {
    (void)cnv;
    if (action != NULL) *action = NULL;
    if (context != NULL) *context = NULL;
}

EXPORT void ucnv_setToUCallBack(UConverter *cnv, void *action, const void *context, void **oldAction,
                                const void **oldContext, UErrorCode *err) {
    (void)cnv; (void)action; (void)context; (void)oldAction; (void)oldContext;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void ucnv_setFromUCallBack(UConverter *cnv, void *action, const void *context, void **oldAction,
                                  const void **oldContext, UErrorCode *err) {
    (void)cnv; (void)action; (void)context; (void)oldAction; (void)oldContext;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void ucnv_cbToUWriteUChars(void *args, const UChar *source, int32_t length, int32_t offsetIndex,
                                  UErrorCode *err) {
    (void)args; (void)source; (void)length; (void)offsetIndex;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void ucnv_cbFromUWriteUChars(void *args, const UChar **source, const UChar *sourceLimit,
                                    int32_t offsetIndex, UErrorCode *err) {
    (void)args; (void)source; (void)sourceLimit; (void)offsetIndex;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void ucnv_toUnicode(UConverter *cnv, UChar **target, const UChar *targetLimit, const char **source,
                           const char *sourceLimit, int32_t *offsets, int8_t flush, UErrorCode *err) {
    (void)cnv; (void)target; (void)targetLimit; (void)source; (void)sourceLimit; (void)offsets; (void)flush;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT void ucnv_fromUnicode(UConverter *cnv, char **target, const char *targetLimit, const UChar **source,
                             const UChar *sourceLimit, int32_t *offsets, int8_t flush, UErrorCode *err) {
    (void)cnv; (void)target; (void)targetLimit; (void)source; (void)sourceLimit; (void)offsets; (void)flush;
    fail(err, U_UNSUPPORTED_ERROR);
}

EXPORT int32_t ucnv_toUCountPending(const UConverter *cnv, UErrorCode *err) {
    (void)cnv; (void)err;
    return 0;
}

EXPORT int32_t ucnv_fromUCountPending(const UConverter *cnv, UErrorCode *err) {
    (void)cnv; (void)err;
    return 0;
}
