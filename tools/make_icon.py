"""Draw resources/icon.png: a red octagon (a stop sign) with a white power-off bar.

Run once after changing the drawing: ``python -m tools.make_icon``; the PNG is committed.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen, QPolygonF

SIZE = 256
OUT = Path(__file__).resolve().parent.parent / "resources" / "icon.png"


def draw(size: int = SIZE) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    centre = size / 2
    radius = size * 0.48
    octagon = QPolygonF(
        [
            QPointF(
                centre + radius * math.cos(math.radians(22.5 + 45 * i)),
                centre + radius * math.sin(math.radians(22.5 + 45 * i)),
            )
            for i in range(8)
        ]
    )
    painter.setPen(QPen(QColor("white"), size * 0.035))
    painter.setBrush(QColor("#c62828"))
    painter.drawPolygon(octagon)
    pen = QPen(QColor("white"), size * 0.085, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    ring = size * 0.23
    painter.drawArc(
        int(centre - ring), int(centre - ring + size * 0.03), int(2 * ring), int(2 * ring), 120 * 16, 300 * 16
    )
    painter.drawLine(QPointF(centre, centre - ring - size * 0.02), QPointF(centre, centre + size * 0.02))
    painter.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    ok = draw().save(str(OUT))
    del app
    print(f"wrote {OUT}" if ok else f"could not write {OUT}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
