"""The results list: a model over `Hit`s (from the engine or the service) and a
delegate that draws each one."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextLayout,
)
from PySide6.QtWidgets import (
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QWidget,
)

from app.backend import Hit
from app.present import copies_label
from ui.icons import file_icon

ResultRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex

WHY_LABELS = {"keyword": "keyword", "meaning": "meaning", "both": "keyword + meaning"}
WHY_TIPS = {"keyword": "Contains your words",
            "meaning": "Matched by meaning; your exact words may not appear",
            "both": "Contains your words and matches their meaning"}


def friendly_date(mtime_ns: int, now: datetime | None = None) -> str:
    """'Today 14:02', 'Yesterday', '12 Mar' or '12 Mar 2023'."""
    when = datetime.fromtimestamp(mtime_ns / 1e9)
    now = now or datetime.now()
    days = (now.date() - when.date()).days
    if days == 0:
        return f"Today {when:%H:%M}"
    if days == 1:
        return "Yesterday"
    if when.year == now.year:
        return f"{when.day} {when:%b}"
    return f"{when.day} {when:%b %Y}"


def short_path(path: str, home: str | None = None) -> str:
    """The path with the home folder written as ~."""
    home = home if home is not None else os.path.expanduser("~")
    if home and home != "/" and (path == home or path.startswith(home + os.sep)):
        return "~" + path[len(home):]
    return path


def file_tree(parent: QWidget, headers: Sequence[str]) -> QTreeWidget:
    """A table of files: the first column (the path) takes the width, the others fit."""
    tree = QTreeWidget(parent)
    tree.setHeaderLabels(list(headers))
    tree.setAlternatingRowColors(True)
    header = tree.header()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(headers)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return tree


def flatten(text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """Collapse runs of whitespace to one space, moving the highlight spans along."""
    out: list[str] = []
    mapping: list[int] = []  # old offset → new offset
    length = 0
    last_space = True
    for ch in text:
        mapping.append(length)
        if ch.isspace():
            if last_space:
                continue
            out.append(" ")
            last_space = True
        else:
            out.append(ch)
            last_space = False
        length += 1
    mapping.append(length)
    flat = "".join(out)
    trimmed = flat.rstrip()
    moved = [(mapping[a], min(mapping[b], len(trimmed))) for a, b in spans
             if 0 <= a < b <= len(text)]
    return trimmed, [(a, b) for a, b in moved if a < b]


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a fraction `t` of the way toward `b`."""
    return QColor(round(a.red() + (b.red() - a.red()) * t),
                  round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def match_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """Background and text colour for highlighted words, from the palette."""
    base = palette.color(QPalette.ColorRole.Base)
    accent = palette.color(QPalette.ColorRole.Highlight)
    dark = base.lightnessF() < 0.5
    return mix(base, accent, 0.45 if dark else 0.25), palette.color(QPalette.ColorRole.Text)


def meaning_color(palette: QPalette) -> QColor:
    """Background of the sentence closest in meaning: a wash, fainter than word marks."""
    base = palette.color(QPalette.ColorRole.Base)
    accent = palette.color(QPalette.ColorRole.Highlight)
    return mix(base, accent, 0.2 if base.lightnessF() < 0.5 else 0.1)


class ResultsModel(QAbstractListModel):
    """Search results in rank order, with the query that produced them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: list[Hit] = []
        self.query = ""

    def set_results(self, results: Sequence[Hit], query: str) -> None:
        self.beginResetModel()
        self.results = list(results)
        self.query = query
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.results)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self.results):
            return None
        r = self.results[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return r.title or os.path.basename(r.display_path)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{r.display_path}\n{WHY_TIPS.get(r.matched_by, '')}"
            if r.copies:
                tip += "\n\nThe same text is also in:\n" + "\n".join(
                    c.display_path for c in r.copies)
            return tip
        if role == ResultRole:
            return r
        return None

    def mark(self, query: str, hits: Sequence[Hit]) -> None:
        """Replace the first results by the same hits with their sentence marked."""
        if query != self.query or not hits:
            return  # a newer search has replaced these results
        rows = min(len(hits), len(self.results))
        for row, hit in enumerate(hits[:rows]):
            shown = self.results[row]
            if (hit.path, hit.char_start) == (shown.path, shown.char_start):
                self.results[row] = hit
        if rows:
            self.dataChanged.emit(self.index(0), self.index(rows - 1))

    def result(self, row: int) -> Hit | None:
        return self.results[row] if 0 <= row < len(self.results) else None


class ResultDelegate(QStyledItemDelegate):
    """Icon, title, why-matched cue, path and date, and the best passage highlighted."""

    PAD = 10
    ICON = 32

    def __init__(self, parent: QWidget | None = None, *, snippet_lines: int = 2,
                 show_date: bool = True) -> None:
        super().__init__(parent)
        self.snippet_lines = snippet_lines
        self.show_date = show_date

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont, QFont]:
        base = QFont(option.font)
        title = QFont(base)
        title.setPointSizeF(base.pointSizeF() * 1.08)
        title.setWeight(QFont.Weight.DemiBold)
        small = QFont(base)
        small.setPointSizeF(base.pointSizeF() * 0.9)
        return title, small, base

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        title, small, base = self._fonts(option)
        height = (QFontMetrics(title).height() + 3 + QFontMetrics(small).height() + 5
                  + self.snippet_lines * QFontMetrics(base).lineSpacing())
        return QSize(320, height + 2 * self.PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        r: Hit | None = index.data(ResultRole)
        if r is None:
            return super().paint(painter, option, index)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = QRect(option.rect)
        self._background(painter, option, rect)
        title_font, small_font, base_font = self._fonts(option)
        text_color = pal.color(QPalette.ColorRole.Text)
        dim = mix(text_color, pal.color(QPalette.ColorRole.Base), 0.42)

        x0 = rect.left() + self.PAD + 4
        y = rect.top() + self.PAD
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        painter.drawPixmap(x0, y + 1, file_icon(r.ext, self.ICON, ratio))
        x = x0 + self.ICON + 12
        right = rect.right() - self.PAD - 4

        cue = WHY_LABELS.get(r.matched_by, r.matched_by)
        painter.setFont(small_font)
        fm_small = QFontMetrics(small_font)
        cue_w = fm_small.horizontalAdvance(cue) + 14
        title_h = QFontMetrics(title_font).height()
        cue_rect = QRectF(right - cue_w, y + (title_h - fm_small.height() - 2) / 2,
                          cue_w, fm_small.height() + 2)
        accent = pal.color(QPalette.ColorRole.Highlight)
        cue_color = accent if r.matched_by != "meaning" else dim
        painter.setPen(mix(cue_color, pal.color(QPalette.ColorRole.Base), 0.55))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(cue_rect, cue_rect.height() / 2, cue_rect.height() / 2)
        painter.setPen(cue_color if r.matched_by != "meaning" else dim)
        painter.drawText(cue_rect, Qt.AlignmentFlag.AlignCenter, cue)

        painter.setFont(title_font)
        painter.setPen(text_color)
        title = r.title or os.path.basename(r.display_path)
        fm_title = QFontMetrics(title_font)
        painter.drawText(QRect(x, y, int(cue_rect.left()) - x - 10, title_h),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm_title.elidedText(title, Qt.TextElideMode.ElideRight,
                                             int(cue_rect.left()) - x - 10))
        y += title_h + 3

        painter.setFont(small_font)
        painter.setPen(dim)
        meta = [copies_label(len(r.copies))] if r.copies else []
        if r.page:
            meta.append(f"page {r.page}")
        if self.show_date:
            meta.append(friendly_date(r.mtime_ns))
        meta_text = "  ·  ".join(meta)
        meta_w = fm_small.horizontalAdvance(meta_text) if meta_text else 0
        path_w = right - x - (meta_w + 16 if meta_text else 0)
        painter.drawText(QRect(x, y, path_w, fm_small.height()), Qt.AlignmentFlag.AlignLeft,
                         fm_small.elidedText(short_path(r.display_path),
                                             Qt.TextElideMode.ElideMiddle, path_w))
        if meta_text:
            painter.drawText(QRect(right - meta_w, y, meta_w, fm_small.height()),
                             Qt.AlignmentFlag.AlignRight, meta_text)
        y += fm_small.height() + 5

        painter.setPen(text_color)
        self._snippet(painter, r, base_font, pal, QRectF(x, y, right - x, 0))
        painter.restore()

    def _background(self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect) -> None:
        pal = option.palette
        base = pal.color(QPalette.ColorRole.Base)
        accent = pal.color(QPalette.ColorRole.Highlight)
        card = QRectF(rect).adjusted(4, 2, -4, -2)
        painter.setPen(Qt.PenStyle.NoPen)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setBrush(mix(base, accent, 0.16))
            painter.drawRoundedRect(card, 7, 7)
            painter.setBrush(accent)
            painter.drawRoundedRect(QRectF(card.left(), card.top() + 8, 3.5,
                                           card.height() - 16), 1.5, 1.5)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setBrush(mix(base, pal.color(QPalette.ColorRole.Text), 0.04))
            painter.drawRoundedRect(card, 7, 7)

    def _snippet(self, painter: QPainter, r: Hit, font: QFont, pal: QPalette,
                 area: QRectF) -> None:
        marked = [r.sentence] if r.sentence else []
        text, moved = flatten(r.snippet.text, [*marked, *r.snippet.spans])
        if r.snippet.offset > 0 or r.char_start > 0:
            text, moved = "…" + text, [(a + 1, b + 1) for a, b in moved]
        sentence = moved[0] if marked and moved else None
        spans = moved[1:] if sentence else moved
        draw_highlighted(painter, text, spans, font, pal, area, self.snippet_lines, sentence)


def draw_highlighted(painter: QPainter, text: str, spans: Sequence[tuple[int, int]],
                     font: QFont, pal: QPalette, area: QRectF, max_lines: int,
                     sentence: tuple[int, int] | None = None) -> None:
    """Wrap `text` into at most `max_lines` lines, highlighted words bold on a tint and
    the sentence closest in meaning on a fainter wash (word marks are drawn over it)."""
    back, fore = match_colors(pal)
    ranges = []
    if sentence is not None:
        meaning = QTextCharFormat()
        meaning.setBackground(meaning_color(pal))
        rng = QTextLayout.FormatRange()
        rng.start, rng.length, rng.format = sentence[0], sentence[1] - sentence[0], meaning
        ranges.append(rng)
    fmt = QTextCharFormat()
    fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setBackground(back)
    fmt.setForeground(fore)
    for a, b in spans:
        rng = QTextLayout.FormatRange()
        rng.start, rng.length, rng.format = a, b - a, fmt
        ranges.append(rng)
    layout = QTextLayout(text, font)
    layout.setFormats(ranges)
    ellipsis = QFontMetrics(font).horizontalAdvance(" …")
    layout.beginLayout()
    y = 0.0
    last = None
    for n in range(max_lines):
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(area.width() - (ellipsis if n == max_lines - 1 else 0))
        line.setPosition(QPointF(0, y))
        y += line.height()
        last = line
    layout.endLayout()
    layout.draw(painter, area.topLeft())
    if last is not None and last.textStart() + last.textLength() < len(text.rstrip()):
        painter.setFont(font)
        painter.drawText(QPointF(area.left() + last.naturalTextWidth(),
                                 area.top() + last.y() + last.ascent()), " …")
