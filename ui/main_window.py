"""The main window: search field, mode and filters, results, preview and status."""

from __future__ import annotations

import os
from datetime import date, timedelta
from functools import partial

from PySide6.QtCore import (
    QDate,
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.backend import Hit, IndexStatus
from app.present import copies_label
from ui import desktop
from ui.icons import app_icon, search_icon
from ui.pages import ErrorPage, FirstRunPage
from ui.preview import PreviewPane
from ui.related import RelatedPane
from ui.results import ResultDelegate, ResultsModel, short_path
from ui.search import FILE_TYPES, Filters, SearchController
from ui.session import MODES, Session
from ui.status import StatusArea

DATE_CHOICES = (("Any time", None), ("Past week", 7), ("Past month", 31),
                ("Past year", 365), ("Since…", -1))
EMPTY_HINT = ("Type to search by words or by meaning.\n\n"
              '"exact phrase"   -exclude   ext:pdf   path:notes   after:2024-01-31')


def handle_result_keys(event: QKeyEvent, view: QListView, on_open, on_reveal,
                       on_copy, on_escape) -> bool:
    """Up/Down move, Enter opens, Ctrl+Enter reveals, Ctrl+C copies, Esc clears."""
    key, mods = event.key(), event.modifiers()
    ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
    if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
        move_selection(view, -1 if key == Qt.Key.Key_Up else 1)
        return True
    if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        (on_reveal if ctrl else on_open)()
        return True
    if event.matches(QKeySequence.StandardKey.Copy):
        return on_copy()
    if key == Qt.Key.Key_Escape:
        on_escape()
        return True
    return False


def _reveal(path: bytes) -> None:
    desktop.reveal_file(path)


def move_selection(view: QListView, delta: int) -> None:
    model = view.model()
    rows = model.rowCount()
    if not rows:
        return
    current = view.currentIndex().row()
    row = 0 if current < 0 else max(0, min(rows - 1, current + delta))
    index = model.index(row, 0)
    view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    view.scrollTo(index)


class MainWindow(QMainWindow):
    """Search, results and preview; first-run and error pages when there is nothing yet."""

    hidden_to_tray = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.keep_in_tray = False  # set by the tray when one is available
        self.setWindowTitle("Deskfind")
        self.setWindowIcon(app_icon())
        self.resize(1180, 760)
        self.model = ResultsModel(self)
        self.search = SearchController(session, self.model, "main.search", parent=self)
        self.pages = QStackedWidget(self)
        self.setCentralWidget(self.pages)
        self.search_page = self._build_search_page()
        self.first_run = FirstRunPage(session, self)
        self.first_run.folders_chosen.connect(session.add_folders)
        self.pages.addWidget(self.search_page)
        self.pages.addWidget(self.first_run)
        if not session.ok:
            self.error_page = ErrorPage(session.open_error, session.data_dir, self)
            self.pages.addWidget(self.error_page)
            self.pages.setCurrentWidget(self.error_page)
        self.status_area = StatusArea(session, self)
        self.statusBar().addWidget(self.status_area, 1)
        self.statusBar().setSizeGripEnabled(False)
        session.status_changed.connect(self._status_changed)
        session.indexing_finished.connect(lambda _: self._choose_page())
        session.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self._wire_search()

    # -- building -----------------------------------------------------------------------

    def _build_search_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(14, 12, 14, 0)
        layout.setSpacing(8)
        layout.addLayout(self._build_query_row(page))
        layout.addLayout(self._build_filter_row(page))
        layout.addWidget(self._build_relaxed_banner(page))
        splitter = QSplitter(Qt.Orientation.Horizontal, page)
        splitter.setChildrenCollapsible(False)
        splitter.setHandleWidth(10)
        left = QWidget(splitter)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(4)
        self.summary = QLabel(left)
        self.summary.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.summary.setContentsMargins(6, 2, 0, 2)
        lv.addWidget(self.summary)
        self.list_stack = QStackedWidget(left)
        self.list = QListView(left)
        self.list.setModel(self.model)
        self.list.setItemDelegate(ResultDelegate(self.list))
        self.list.setMouseTracking(True)
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.empty = QLabel(EMPTY_HINT, left)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.list_stack.addWidget(self.empty)
        self.list_stack.addWidget(self.list)
        lv.addWidget(self.list_stack, 1)
        frame = QFrame(splitter)
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(0, 0, 0, 0)
        self.preview_split = QSplitter(Qt.Orientation.Vertical, frame)
        self.preview = PreviewPane(self.session, self.preview_split)
        self.related = RelatedPane(self.session, self.preview_split)
        self.preview_split.addWidget(self.preview)
        self.preview_split.addWidget(self.related)
        self.preview_split.setStretchFactor(0, 3)
        self.preview_split.setStretchFactor(1, 1)
        self.preview_split.setSizes([500, 220])
        fl.addWidget(self.preview_split)
        splitter.addWidget(left)
        splitter.addWidget(frame)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        splitter.setSizes([520, 620])
        layout.addWidget(splitter, 1)
        return page

    def _build_relaxed_banner(self, page: QWidget) -> QFrame:
        """Says when quote marks or exclusions were loosened to find anything, with one
        click to search exactly as typed."""
        self.relaxed_banner = QFrame(page)
        self.relaxed_banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.relaxed_banner.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.relaxed_banner.setAutoFillBackground(True)
        row = QHBoxLayout(self.relaxed_banner)
        row.setContentsMargins(10, 4, 6, 4)
        self.relaxed_label = QLabel(self.relaxed_banner)
        self.relaxed_label.setWordWrap(True)
        self.relaxed_label.setTextFormat(Qt.TextFormat.PlainText)
        row.addWidget(self.relaxed_label, 1)
        self.strict_button = QToolButton(self.relaxed_banner)
        self.strict_button.setText("Search exactly as typed")
        self.strict_button.setAutoRaise(True)
        self.strict_button.setStyleSheet("QToolButton { color: palette(link); }")
        self.strict_button.setCursor(Qt.CursorShape.PointingHandCursor)
        row.addWidget(self.strict_button)
        self.relaxed_banner.setVisible(False)
        return self.relaxed_banner

    def _build_query_row(self, page: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(10)
        self.field = QLineEdit(page)
        self.field.setPlaceholderText("Search your files…")
        self.field.setClearButtonEnabled(True)
        self.field.setMinimumHeight(36)
        font = self.field.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.field.setFont(font)
        self.field.addAction(search_icon(self.palette().color(QPalette.ColorRole.PlaceholderText)),
                             QLineEdit.ActionPosition.LeadingPosition)
        row.addWidget(self.field, 1)
        self.mode_group = QButtonGroup(page)
        self.mode_group.setExclusive(True)
        modes = QHBoxLayout()
        modes.setSpacing(0)
        tips = {"hybrid": "Words and meaning together (best for most searches)",
                "lexical": "Only documents containing your words",
                "dense": "Documents about the same thing, even in other words"}
        for i, (mode, label) in enumerate(MODES):
            button = QToolButton(page)
            button.setText(label)
            button.setCheckable(True)
            button.setChecked(mode == "hybrid")
            button.setToolTip(tips[mode])
            button.setMinimumHeight(30)
            button.setProperty("mode", mode)
            self.mode_group.addButton(button, i)
            modes.addWidget(button)
        row.addLayout(modes)
        self.menu_button = QToolButton(page)
        self.menu_button.setText("⋮")
        self.menu_button.setToolTip("Index and settings")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_button.setMinimumHeight(30)
        self.menu_button.setMenu(self._build_menu())
        row.addWidget(self.menu_button)
        return row

    def _build_menu(self) -> QMenu:
        menu = QMenu(self)
        self.update_action = QAction("Update index now", self)
        self.update_action.triggered.connect(self.session.start_indexing)
        self.settings_action = QAction("Folders and settings…", self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.failures_action = QAction("Files not indexed…", self)
        self.failures_action.triggered.connect(lambda: self.status_area.show_failures())
        self.duplicates_action = QAction("Duplicate files…", self)
        self.duplicates_action.triggered.connect(lambda: self.status_area.show_duplicates())
        self.quit_action = QAction("Quit Deskfind", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        for action in (self.update_action, self.settings_action, self.failures_action,
                       self.duplicates_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        self.addAction(self.quit_action)
        self.addAction(self.settings_action)
        return menu

    def _build_filter_row(self, page: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(8)
        self.type_box = QComboBox(page)
        for label, exts in FILE_TYPES:
            self.type_box.addItem(label, exts)
        self.folder_box = QComboBox(page)
        self.folder_box.setMinimumContentsLength(14)
        self.folder_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._shown_roots: tuple[str, ...] = ()
        self._fill_folders(())
        self.date_box = QComboBox(page)
        for label, days in DATE_CHOICES:
            self.date_box.addItem(label, days)
        self.date_edit = QDateEdit(page)
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setDate(QDate.currentDate().addMonths(-1))
        self.date_edit.setVisible(False)
        for label, box in (("Type", self.type_box), ("Folder", self.folder_box),
                           ("Modified", self.date_box)):
            caption = QLabel(label, page)
            caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            row.addWidget(caption)
            row.addWidget(box)
            row.addSpacing(6)
        row.addWidget(self.date_edit)
        row.addStretch(1)
        return row

    def _fill_folders(self, roots: tuple[str, ...]) -> None:
        current = self.folder_box.currentData()
        self.folder_box.blockSignals(True)
        self.folder_box.clear()
        self.folder_box.addItem("All folders", "")
        for root in roots:
            self.folder_box.addItem(os.path.basename(root) or root, root)
            self.folder_box.setItemData(self.folder_box.count() - 1, short_path(root),
                                        Qt.ItemDataRole.ToolTipRole)
        self.folder_box.addItem("Other folder…", None)
        found = self.folder_box.findData(current) if current else 0
        self.folder_box.setCurrentIndex(max(found, 0))
        self.folder_box.blockSignals(False)

    # -- wiring -------------------------------------------------------------------------

    def _wire_search(self) -> None:
        self.field.textChanged.connect(self.search.set_text)
        self.mode_group.idClicked.connect(lambda i: self.search.set_mode(MODES[i][0]))
        self.type_box.currentIndexChanged.connect(self._filters_changed)
        self.folder_box.activated.connect(self._folder_chosen)
        self.date_box.currentIndexChanged.connect(self._filters_changed)
        self.date_edit.dateChanged.connect(self._filters_changed)
        self.search.searching.connect(self._searching)
        self.search.finished.connect(self._finished)
        self.search.failed.connect(self._failed)
        self.search.cleared.connect(self._cleared)
        self.search.relaxed.connect(self._relaxed)
        self.strict_button.clicked.connect(self.search.search_strictly)
        self.list.selectionModel().currentChanged.connect(self._current_changed)
        self.list.doubleClicked.connect(lambda _: self.open_current())
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_result_menu)
        self.related.chosen.connect(lambda hit: self.preview.show_result(hit, self.model.query))
        self.related.open_requested.connect(
            lambda hit: self.session.open_document(hit.path, hit.ext, hit.page))
        self.field.installEventFilter(self)
        self.list.installEventFilter(self)
        self._cleared()

    def filters(self) -> Filters:
        days = self.date_box.currentData()
        after: date | None = None
        if days == -1:
            picked = self.date_edit.date().toPython()
            after = picked if isinstance(picked, date) else None
        elif days:
            after = date.today() - timedelta(days=days)
        self.date_edit.setVisible(days == -1)
        return Filters(exts=tuple(self.type_box.currentData() or ()),
                       folder=self.folder_box.currentData() or "", after=after)

    def _filters_changed(self) -> None:
        self.search.set_filters(self.filters())

    def _folder_chosen(self, index: int) -> None:
        if self.folder_box.itemData(index) is None:  # "Other folder…"
            folder = QFileDialog.getExistingDirectory(self, "Search in folder")
            if folder:
                self.folder_box.insertItem(index, os.path.basename(folder) or folder, folder)
                self.folder_box.setCurrentIndex(index)
            else:
                self.folder_box.setCurrentIndex(0)
        self._filters_changed()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.KeyPress and watched in (self.field, self.list):
            assert isinstance(event, QKeyEvent)
            return handle_result_keys(event, self.list, self.open_current, self.reveal_current,
                                      self._copy_path, self._escape)
        return super().eventFilter(watched, event)

    # -- reacting -----------------------------------------------------------------------

    def _searching(self, busy: bool) -> None:
        if busy and not self.model.rowCount():
            self.summary.setText("Searching…")

    def _finished(self, query: str, count: int, seconds: float) -> None:
        self.list_stack.setCurrentWidget(self.list if count else self.empty)
        if count:
            noun = "document" if count == 1 else "documents"
            self.summary.setText(f"{count} {noun}  ·  {seconds * 1000:.0f} ms")
            self.list.setCurrentIndex(self.model.index(0, 0))
        else:
            self.summary.setText("No results")
            hint = "" if self.search.mode == "dense" else " Try Semantic to search by meaning,"
            self.empty.setText(f"Nothing matches “{self.search.text.strip()}”.{hint}"
                               " or remove a filter.")
            self.preview.clear("No document to preview.")
            self.related.clear()

    def _relaxed(self, note: str) -> None:
        self.relaxed_label.setText(note[:1].upper() + note[1:] + "." if note else "")
        self.relaxed_banner.setVisible(bool(note))

    def _failed(self, message: str) -> None:
        self.summary.setText(message)
        self.list_stack.setCurrentWidget(self.empty)
        self.empty.setText(message)
        self.preview.clear("No document to preview.")
        self.related.clear()

    def _cleared(self) -> None:
        self.summary.setText("")
        status = self.session.status
        count = f"Search {status.searchable:,} documents. " if status else ""
        self.empty.setText(count + EMPTY_HINT)
        self.list_stack.setCurrentWidget(self.empty)
        self.preview.clear()
        self.related.clear()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        hit = self.model.result(current.row())
        self.preview.show_result(hit, self.model.query)
        self.related.show_for(hit)

    def _status_changed(self, status: IndexStatus) -> None:
        # Arrives every few seconds: touch only what changed, never an open popup.
        if status.roots != self._shown_roots:
            self._shown_roots = status.roots
            self._fill_folders(status.roots)
        if not self.field.text().strip():
            self.empty.setText(f"Search {status.searchable:,} documents. " + EMPTY_HINT)
        self._choose_page()

    def _choose_page(self) -> None:
        status = self.session.status
        if not self.session.ok or status is None:
            return
        busy = self.session.indexing or status.background_busy
        first_run = not status.roots or (busy and status.files == 0)
        target = self.first_run if first_run else self.search_page
        if self.pages.currentWidget() is not target:
            self.pages.setCurrentWidget(target)
            if target is self.search_page:
                self.field.setFocus()

    # -- actions ------------------------------------------------------------------------

    def current_result(self) -> Hit | None:
        return self.model.result(self.list.currentIndex().row())

    def open_current(self) -> None:
        r = self.current_result()
        if r is not None:
            self.session.open_document(r.path, r.ext, r.page)

    def reveal_current(self) -> None:
        r = self.current_result()
        if r is not None:
            desktop.reveal_file(r.path)

    def result_menu(self, r: Hit) -> QMenu:
        """Open, show in folder and copy the path of a result, and open each of its
        copies (files holding the same text, grouped into its row)."""
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.session.open_document(r.path, r.ext, r.page))
        menu.addAction("Show in folder", lambda: desktop.reveal_file(r.path))
        menu.addAction("Copy path", lambda: desktop.copy_path(r.path))
        menu.addAction("Related files", lambda: self.show_related(r))
        if r.copies:
            menu.addSection(f"The same text ({copies_label(len(r.copies))})")
            for c in r.copies:
                menu.addAction(f"Open {short_path(c.display_path)}",
                               partial(self.session.open_document, c.path, c.ext))
                menu.addAction(f"Show {os.path.basename(c.display_path)} in folder",
                               partial(_reveal, c.path))
        return menu

    def show_related(self, r: Hit) -> None:
        """Select `r`, make room for its Related list and move the focus there."""
        row = next((i for i, h in enumerate(self.model.results) if h.path == r.path), -1)
        if row >= 0 and row != self.list.currentIndex().row():
            self.list.setCurrentIndex(self.model.index(row, 0))
        top, bottom = self.preview_split.sizes()
        if bottom < 120:  # dragged out of sight: give it a third
            total = top + bottom
            self.preview_split.setSizes([total * 2 // 3, total - total * 2 // 3])
        self.related.list.setFocus()

    def _show_result_menu(self, pos: QPoint) -> None:
        r = self.model.result(self.list.indexAt(pos).row())
        if r is not None:
            self.result_menu(r).popup(self.list.viewport().mapToGlobal(pos))

    def _copy_path(self) -> bool:
        if self.field.hasFocus() and self.field.hasSelectedText():
            return False  # let the field copy its own selection
        r = self.current_result()
        if r is None:
            return False
        desktop.copy_path(r.path)
        self.statusBar().showMessage(f"Copied {r.display_path}", 3000)
        return True

    def _escape(self) -> None:
        self.field.clear()
        self.field.setFocus()

    def focus_search(self) -> None:
        self.field.setFocus()
        self.field.selectAll()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.keep_in_tray:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
        else:
            super().closeEvent(event)
