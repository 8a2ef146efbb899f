"""Render resources/icons/deskfind.svg to the 256 px PNG that `deskfind desktop install`
puts into the hicolor theme.

The PNG is committed, so installing needs no Qt and no SVG renderer; run this again
after changing the SVG:  QT_QPA_PLATFORM=offscreen python packaging/render_icon.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZE = 256


def main() -> int:
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter needs the application
    renderer = QSvgRenderer(str(ICONS / "deskfind.svg"))
    if not renderer.isValid():
        print("cannot read deskfind.svg", file=sys.stderr)
        return 1
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    out = ICONS / f"deskfind-{SIZE}.png"
    if not image.save(str(out), "PNG"):
        print(f"cannot write {out}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
