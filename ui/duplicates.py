"""The duplicates window of the status area: groups of files that are byte-identical or
hold nearly the same text, with sizes and paths.  Deskfind never deletes any of them:
each path can be opened or shown in the file manager, where the user decides.
"""

from __future__ import annotations

import os
from datetime import datetime

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QPushButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.duplicates import DuplicateGroup, FileEntry
from engine.errors import DeskfindError
from ui import desktop
from ui.results import file_tree, short_path
from ui.session import Session

PathRole = Qt.ItemDataRole.UserRole + 1
INTRO = ("Files that are copies of each other: the same bytes, or the same text in "
         "another format (a page and its source, a document and its export). Deskfind "
         "never deletes anything; use Show in folder to decide in your file manager.")


def human_size(size: int) -> str:
    """'812 bytes', '4.2 KB', '17.0 MB' (powers of 1,000, as file managers show them)."""
    if size < 1000:
        return f"{size:,} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def group_title(group: DuplicateGroup) -> str:
    kind = "Identical" if group.identical else "Same text"
    return (f"{kind} · {len(group.files)} files · {human_size(group.extra_bytes)} "
            "in copies")


def summary_text(groups: list[DuplicateGroup]) -> str:
    if not groups:
        return "No duplicates: no two indexed files hold the same bytes or text."
    noun = "group" if len(groups) == 1 else "groups"
    extra = sum(g.extra_bytes for g in groups)
    return f"{len(groups):,} {noun} of duplicates; the copies take {human_size(extra)}."


class DuplicatesDialog(QDialog):
    """Loads the groups off-thread, then lists them; Open and Show in folder per file."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.groups: list[DuplicateGroup] | None = None
        self.setWindowTitle("Duplicate files")
        self.resize(820, 480)
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO, self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.summary = QLabel("Looking for duplicates…", self)
        layout.addWidget(self.summary)
        self.tree = file_tree(self, ["File", "Size", "Modified"])
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._show_menu)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._reveal(item))
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.reveal_button = QPushButton("Show in folder", self)
        self.open_button = QPushButton("Open", self)
        for button in (self.reveal_button, self.open_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.reveal_button.clicked.connect(lambda: self._reveal(self.tree.currentItem()))
        self.open_button.clicked.connect(lambda: self._open(self.tree.currentItem()))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._update_buttons()
        runner = session.runner  # closed while loading: the answer has nowhere to go
        self.destroyed.connect(lambda *_: runner.drop("duplicates"))
        self.load()

    def load(self) -> None:
        backend = self.session.backend
        if backend is not None:
            self.session.runner.run(backend.duplicates, self._show, self._failed,
                                    key="duplicates")

    def _show(self, groups: list[DuplicateGroup]) -> None:
        self.groups = groups
        self.summary.setText(summary_text(groups))
        self.tree.clear()
        for group in groups:
            top = QTreeWidgetItem([group_title(group), human_size(group.total_bytes), ""])
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            for f in group.files:
                top.addChild(self._file_item(f))
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        self._update_buttons()

    @staticmethod
    def _file_item(f: FileEntry) -> QTreeWidgetItem:
        modified = datetime.fromtimestamp(f.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M")
        item = QTreeWidgetItem([short_path(f.display_path), human_size(f.size), modified])
        item.setData(0, PathRole, f.path)
        item.setToolTip(0, f.display_path)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def _failed(self, exc: BaseException) -> None:
        if not isinstance(exc, DeskfindError):  # a closed index, a gone service too
            raise exc
        self.summary.setText(f"Cannot look for duplicates: {exc}")

    # -- acting on one file -----------------------------------------------------------

    @staticmethod
    def path_of(item: QTreeWidgetItem | None) -> bytes | None:
        path = item.data(0, PathRole) if item is not None else None
        return bytes(path) if path is not None else None

    def _update_buttons(self) -> None:
        chosen = self.path_of(self.tree.currentItem()) is not None
        self.reveal_button.setEnabled(chosen)
        self.open_button.setEnabled(chosen)

    def _reveal(self, item: QTreeWidgetItem | None) -> None:
        path = self.path_of(item)
        if path is not None:
            desktop.reveal_file(path)

    def _open(self, item: QTreeWidgetItem | None) -> None:
        path = self.path_of(item)
        if path is not None:
            ext = os.fsdecode(os.path.splitext(path)[1]).lstrip(".").lower()
            self.session.open_document(path, ext)

    def menu_for(self, item: QTreeWidgetItem) -> QMenu | None:
        path = self.path_of(item)
        if path is None:
            return None
        menu = QMenu(self)
        menu.addAction("Open", lambda: self._open(item))
        menu.addAction("Show in folder", lambda: self._reveal(item))
        menu.addAction("Copy path", lambda: desktop.copy_path(path))
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        menu = self.menu_for(item) if item is not None else None
        if menu is not None:
            menu.popup(self.tree.viewport().mapToGlobal(pos))
