"""The "Related" list under the preview: files closest in meaning to the previewed one,
each with the pair of passages that links them.

Asked off-thread through the task runner (the service's `related` request when one
runs, else the index opened here); only the answer for the file shown last arrives.
"""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.backend import Hit
from engine.errors import DeskfindError
from engine.related import Related
from engine.snippets import Snippet
from ui import desktop
from ui.results import short_path
from ui.session import Session

LIMIT = 8
DELAY_MS = 150  # moving through results with the arrow keys asks only for where it stops
EXCERPT = 150  # characters of each passage of the linking pair, wrapped to the pane
NO_RESULT = "Select a result to see the files closest to it in meaning."
NOTHING_CLOSE = "No other indexed file is close to this one in meaning."


def related_hit(r: Related) -> Hit:
    """A related file as a result the preview can show, at its linking passage."""
    start, end = r.target_span
    return Hit(r.path, r.display_path, r.title, r.ext, 0, r.score, 0.0, r.score, "meaning",
               r.page, start, end, Snippet(r.target_text, (), start))


def excerpt(text: str, width: int = EXCERPT) -> str:
    """The passage on one line, cut at a word near `width` characters."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    cut = flat.rfind(" ", 0, width)
    return flat[:cut if cut > width // 2 else width].rstrip(",;:") + " …"


def item_html(r: Related, palette: QPalette) -> str:
    muted = palette.color(QPalette.ColorRole.PlaceholderText).name()
    title = html.escape(r.title or os.path.basename(r.display_path))
    where = html.escape(short_path(r.display_path))
    page = f" · page {r.page}" if r.page else ""
    return (f"<b>{title}</b> <span style='color:{muted}'>· {where}{page}</span>"
            f"<div style='margin-top:2px'><span style='color:{muted}'>this:</span> "
            f"{html.escape(excerpt(r.source_text))}</div>"
            f"<div><span style='color:{muted}'>there:</span> "
            f"{html.escape(excerpt(r.target_text))}</div>")


class RelatedPane(QWidget):
    """A heading, then the related files or a line saying why there are none."""

    chosen = Signal(object)  # Hit: preview this related file
    open_requested = Signal(object)  # Hit: open it with the desktop's app
    shown = Signal(object)  # the list of Related (or the error) once on screen

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.source: Hit | None = None
        self.related: list[Related] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self._ask)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(2)
        self.heading = QLabel("Related", self)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.heading.setContentsMargins(16, 0, 12, 2)
        layout.addWidget(self.heading)
        self.stack = QStackedWidget(self)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.note.setContentsMargins(16, 4, 12, 4)
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.list = QListWidget(self)
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_menu)
        self.list.clicked.connect(self._clicked)
        self.list.activated.connect(self._activated)  # Enter, or a double click
        self.stack.addWidget(self.note)
        self.stack.addWidget(self.list)
        layout.addWidget(self.stack, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        session.index_changed.connect(self.refresh)
        runner = session.runner  # not `self`: gone by the time `destroyed` arrives
        self.destroyed.connect(lambda *_: runner.drop("related"))
        self.clear()

    # -- asking ---------------------------------------------------------------------------

    def clear(self, message: str = NO_RESULT) -> None:
        self.source = None
        self._timer.stop()
        self.session.runner.drop("related")
        self._say(message)

    def show_for(self, hit: Hit | None) -> None:
        """Find the files related to `hit` (a moment later, off-thread)."""
        if hit is None:
            self.clear()
            return
        if self.source is not None and self.source.path == hit.path and self.related:
            return  # already shown (a related file chosen and chosen back, say)
        self.source = hit
        self.session.runner.drop("related")
        self._say("Finding related files…")
        self._timer.start()

    def refresh(self) -> None:
        """Ask again for the file shown: the index changed (vectors may exist now)."""
        if self.source is not None:
            self.related = []
            self._timer.start()

    def _ask(self) -> None:
        backend, source = self.session.backend, self.source
        if backend is None or source is None:
            return
        path = source.path
        self.session.runner.run(lambda: backend.related(path, LIMIT), self._show,
                                self._failed, key="related")

    # -- showing --------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self.related = []
        self.list.clear()
        self.note.setText(message)
        self.stack.setCurrentWidget(self.note)
        self.heading.setText("Related")

    def _show(self, found: list[Related]) -> None:
        if not found:
            self._say(NOTHING_CLOSE)
            self.shown.emit(found)
            return
        self.related = found
        self.list.clear()
        self.stack.setCurrentWidget(self.list)  # shown first: item widgets need a parent
        for r in found:
            item = QListWidgetItem(self.list)
            label = QLabel(item_html(r, self.palette()), self.list)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setContentsMargins(16, 6, 12, 6)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            item.setToolTip(f"{r.display_path}\nsimilarity {r.score:.2f}\n\n"
                            f"this: {excerpt(r.source_text, 400)}\n\n"
                            f"there: {excerpt(r.target_text, 400)}")
            self.list.setItemWidget(item, label)
        self._fit_items()
        self.heading.setText(f"Related · {len(found)} closest in meaning")
        self.shown.emit(found)

    def _fit_items(self) -> None:
        """Give each wrapped item the height its text needs at the list's width."""
        width = self.list.viewport().width()
        for row in range(self.list.count()):
            item = self.list.item(row)
            label = self.list.itemWidget(item)
            if label is not None:
                item.setSizeHint(QSize(width, label.heightForWidth(width)))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_items()

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, DeskfindError):  # a closed index, a gone service too
            raise exc
        text = str(exc)
        self._say(text[:1].upper() + text[1:] + ".")
        self.shown.emit(exc)

    # -- acting ---------------------------------------------------------------------------

    def hit(self, row: int) -> Hit | None:
        return related_hit(self.related[row]) if 0 <= row < len(self.related) else None

    def _clicked(self, index: QModelIndex) -> None:
        hit = self.hit(index.row())
        if hit is not None:
            self.chosen.emit(hit)

    def _activated(self, index: QModelIndex) -> None:
        hit = self.hit(index.row())
        if hit is not None:
            self.open_requested.emit(hit)

    def menu(self, hit: Hit) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Preview", lambda: self.chosen.emit(hit))
        menu.addAction("Open", lambda: self.open_requested.emit(hit))
        menu.addAction("Show in folder", lambda: desktop.reveal_file(hit.path))
        menu.addAction("Copy path", lambda: desktop.copy_path(hit.path))
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        hit = self.hit(self.list.indexAt(pos).row())
        if hit is not None:
            self.menu(hit).popup(self.list.viewport().mapToGlobal(pos))
