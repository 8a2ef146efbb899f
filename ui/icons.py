"""The app icon and small file-type icons drawn to match it."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPixmap

from app import paths

ICON_DIR = paths.resource_dir("icons")

# Extension → (label, accent colour).  Accents are mid-tone so they read on light and
# dark palettes alike.
_KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("PDF", "#d64541"),
    **{e: ("MD", "#3d7be0") for e in ("md", "markdown", "mdown", "mkd")},
    **{e: ("TXT", "#7f8c8d") for e in ("txt", "text", "rst", "org", "adoc", "log", "")},
    **{e: ("CSV", "#27ae60") for e in ("csv", "tsv")},
    **{e: ("DOC", "#2b79c2") for e in ("doc", "docx", "odt", "rtf")},
    **{e: ("TEX", "#16a085") for e in ("tex",)},
    **{e: ("HTML", "#e67e22") for e in ("html", "htm", "xml")},
}
_CODE_ACCENT = "#8e44ad"


def app_icon() -> QIcon:
    svg = ICON_DIR / "deskfind.svg"
    icon = QIcon(str(svg)) if svg.exists() else QIcon()
    if icon.isNull():
        icon = QIcon(_draw_badge("", "#3d7be0", 64))
    return icon


def kind_of(ext: str) -> tuple[str, str]:
    """A short label and an accent colour for a file extension."""
    return _KINDS.get(ext.lower(), (ext.upper()[:4] or "FILE", _CODE_ACCENT))


@lru_cache(maxsize=128)
def file_icon(ext: str, size: int = 32, ratio: float = 1.0) -> QPixmap:
    label, accent = kind_of(ext)
    return _draw_badge(label, accent, size, ratio)


def _draw_badge(label: str, accent: str, size: int, ratio: float = 1.0) -> QPixmap:
    """A page with a folded corner and a coloured label: the file-type glyph."""
    px = QPixmap(int(size * ratio), int(size * ratio))
    px.setDevicePixelRatio(ratio)
    px.fill(Qt.GlobalColor.transparent)
    p = QPainter(px)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    w, h = s * 0.72, s * 0.9
    x, y = (s - w) / 2, (s - h) / 2
    fold = w * 0.3
    page = QPainterPath()
    page.moveTo(x + 3, y)
    page.lineTo(x + w - fold, y)
    page.lineTo(x + w, y + fold)
    page.lineTo(x + w, y + h - 3)
    page.quadTo(x + w, y + h, x + w - 3, y + h)
    page.lineTo(x + 3, y + h)
    page.quadTo(x, y + h, x, y + h - 3)
    page.lineTo(x, y + 3)
    page.quadTo(x, y, x + 3, y)
    color = QColor(accent)
    p.setPen(color.darker(115))
    p.setBrush(QColor("#fbfbfc"))
    p.drawPath(page)
    corner = QPainterPath()
    corner.moveTo(x + w - fold, y)
    corner.lineTo(x + w - fold, y + fold)
    corner.lineTo(x + w, y + fold)
    p.setBrush(color.lighter(160))
    p.drawPath(corner)
    if label:
        band = QRectF(x - s * 0.06, y + h * 0.5, w + s * 0.12, h * 0.3)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawRoundedRect(band, 2.5, 2.5)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, int(s * (0.2 if len(label) <= 3 else 0.16))))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(band, Qt.AlignmentFlag.AlignCenter, label)
    p.end()
    return px


def search_icon(color: QColor, size: int = 18, ratio: float = 2.0) -> QIcon:
    """A magnifier drawn in `color` (the palette's placeholder text colour)."""
    px = QPixmap(int(size * ratio), int(size * ratio))
    px.setDevicePixelRatio(ratio)
    px.fill(Qt.GlobalColor.transparent)
    p = QPainter(px)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = p.pen()
    pen.setColor(color)
    pen.setWidthF(size / 9)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    r = size * 0.3
    c = size * 0.42
    p.drawEllipse(QRectF(c - r, c - r, 2 * r, 2 * r))
    p.drawLine(QPointF(c + r * 0.72, c + r * 0.72), QPointF(size * 0.86, size * 0.86))
    p.end()
    return QIcon(px)
