"""Write resources/icon.ico (Windows) and resources/icon.icns (macOS) from resources/icon.png.

Both formats may hold PNG images as they are, behind a small header, so no image library is
needed beyond Qt (already a dependency), which scales the 256 px original down to the smaller
sizes each platform asks for. Run it again after changing icon.png:

    .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage

RESOURCES = Path(__file__).resolve().parent.parent / "resources"

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types that hold PNG data, with the pixel size of each (the @2x types are
# the same pixels as the next size up, labelled for Retina screens).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),  # 16@2x
    (b"icp6", 64),
    (b"ic12", 64),  # 32@2x
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic13", 256),  # 128@2x
)


def png_at(original: QImage, size: int) -> bytes:
    """The original as PNG bytes, scaled to size x size (unchanged if already that size)."""
    image = original
    if image.width() != size or image.height() != size:
        image = original.scaled(
            size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"could not encode a {size} px PNG")
    buffer.close()
    return bytes(data.data())


def ico(images: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are PNG images (Windows Vista and later read these)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in sorted(images.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset + len(blobs))
        blobs += png
    return header + entries + blobs


def icns(images: dict[int, bytes]) -> bytes:
    """An ICNS file whose elements are PNG images (macOS 10.7 and later read these)."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(images[size])) + images[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    original = QImage(str(RESOURCES / "icon.png"))
    if original.isNull():
        print("resources/icon.png is missing or not an image", file=sys.stderr)
        return 1
    original = original.convertToFormat(QImage.Format.Format_ARGB32)
    images = {size: png_at(original, size) for size in sorted({*ICO_SIZES, *(s for _, s in ICNS_TYPES)})}
    (RESOURCES / "icon.ico").write_bytes(ico({s: images[s] for s in ICO_SIZES}))
    (RESOURCES / "icon.icns").write_bytes(icns(images))
    print(f"wrote {RESOURCES / 'icon.ico'} and {RESOURCES / 'icon.icns'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
