"""The tray icon and the quick-search popup it opens."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QGuiApplication,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from app.backend import Hit, IndexStatus
from ui import desktop
from ui.icons import app_icon
from ui.main_window import handle_result_keys
from ui.results import ResultDelegate, ResultsModel
from ui.search import SearchController
from ui.session import Session
from ui.status import counts_text, progress_text, service_text

KEYS_HINT = "↑↓ choose   ↵ open   Ctrl+↵ show in folder   Esc close"


class QuickSearch(QWidget):
    """A frameless popup: type, Up/Down, Enter opens, Ctrl+Enter reveals, Esc hides."""

    opened = Signal(object)  # the Hit handed to the desktop
    show_all = Signal(str)  # open the main window on this query

    RADIUS = 12
    VISIBLE_ROWS = 6

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setWindowTitle("Deskfind quick search")
        self.session = session
        self.model = ResultsModel(self)
        self.search = SearchController(session, self.model, "quick.search", delay_ms=150,
                                       limit=8, parent=self)
        self.resize(640, 112)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 10)
        layout.setSpacing(6)
        top = QHBoxLayout()
        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(26, 26))
        top.addWidget(icon)
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("Search your files")
        self.field.setFrame(False)
        font = self.field.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        self.field.setFont(font)
        self.field.setMinimumHeight(34)
        top.addWidget(self.field, 1)
        layout.addLayout(top)
        self.list = QListView(self)
        self.list.setModel(self.model)
        self.list.setItemDelegate(ResultDelegate(self.list, snippet_lines=1))
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setUniformItemSizes(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVisible(False)
        self.list.viewport().setAutoFillBackground(False)
        layout.addWidget(self.list, 1)
        self.hint = QLabel(KEYS_HINT, self)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        hint_font = self.hint.font()
        hint_font.setPointSizeF(hint_font.pointSizeF() * 0.88)
        self.hint.setFont(hint_font)
        layout.addWidget(self.hint)
        self.field.textChanged.connect(self.search.set_text)
        self.search.finished.connect(self._finished)
        self.search.failed.connect(self._failed)
        self.search.cleared.connect(lambda: self._show_list(False))
        self.search.relaxed.connect(lambda note: self.hint.setText(note or KEYS_HINT))
        self.list.clicked.connect(lambda index: self._open(index.row()))
        self.field.installEventFilter(self)

    def paintEvent(self, event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        path = QPainterPath()
        path.addRoundedRect(rect, self.RADIUS, self.RADIUS)
        pal = self.palette()
        painter.fillPath(path, pal.color(QPalette.ColorRole.Base))
        edge = QColor(pal.color(QPalette.ColorRole.Text))
        edge.setAlpha(60)
        painter.setPen(edge)
        painter.drawPath(path)

    def popup(self) -> None:
        """Show centred in the upper third of the screen, ready for typing."""
        screen = QGuiApplication.screenAt(self.cursor().pos()) or QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            self.move(area.center().x() - self.width() // 2, area.top() + area.height() // 5)
        self.show()
        self.raise_()
        self.activateWindow()
        self.field.setFocus()
        self.field.selectAll()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.KeyPress and watched is self.field:
            assert isinstance(event, QKeyEvent)
            return handle_result_keys(event, self.list, lambda: self._open(self._row()),
                                      self._reveal, self._copy, self._escape)
        return super().eventFilter(watched, event)

    def _row(self) -> int:
        return self.list.currentIndex().row()

    def current_result(self) -> Hit | None:
        return self.model.result(self._row())

    def _open(self, row: int) -> None:
        r = self.model.result(row)
        if r is not None:
            self.session.open_document(r.path, r.ext, r.page)
            self.opened.emit(r)
            self.hide()

    def _reveal(self) -> None:
        r = self.current_result()
        if r is not None:
            desktop.reveal_file(r.path)
            self.hide()

    def _copy(self) -> bool:
        r = self.current_result()
        if r is None or self.field.hasSelectedText():
            return False
        desktop.copy_path(r.path)
        return True

    def _escape(self) -> None:
        if self.field.text():
            self.field.clear()
        else:
            self.hide()

    def _finished(self, _query: str, count: int, _seconds: float) -> None:
        self._show_list(count > 0)
        self.hint.setText("↑↓ choose   ↵ open   Ctrl+↵ show in folder   Esc close"
                          if count else "No results. Esc to close.")
        if count:
            self.list.setCurrentIndex(self.model.index(0, 0))

    def _failed(self, message: str) -> None:
        self._show_list(False)
        self.hint.setText(message)

    def _show_list(self, visible: bool) -> None:
        self.list.setVisible(visible)
        rows = min(self.model.rowCount(), self.VISIBLE_ROWS)
        row_h = self.list.sizeHintForRow(0) if rows else 0
        self.list.setFixedHeight(rows * row_h + 2)
        self.resize(self.width(), 112 + (rows * row_h + 8 if visible else 0))
        if not visible:
            self.hint.setText("↑↓ choose   ↵ open   Ctrl+↵ show in folder   Esc close")


class Tray(QObject):
    """The tray icon: status in the tooltip, a menu, and the quick-search popup."""

    show_window = Signal()
    quit_requested = Signal()

    def __init__(self, session: Session, popup: QuickSearch, parent: QObject | None = None
                 ) -> None:
        super().__init__(parent)
        self.session = session
        self.popup = popup
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.menu = QMenu()
        search = QAction("Quick search…", self.menu)
        search.triggered.connect(popup.popup)
        window = QAction("Open Deskfind", self.menu)
        window.triggered.connect(self.show_window)
        self.update_action = QAction("Update index now", self.menu)
        self.update_action.triggered.connect(session.start_indexing)
        quit_action = QAction("Quit", self.menu)
        quit_action.triggered.connect(self.quit_requested)
        for action in (search, window, self.update_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.setToolTip("Deskfind")
        session.status_changed.connect(self._status)
        session.indexing_progress.connect(self._progress)
        session.indexing_changed.connect(lambda running: self.update_action.setEnabled(
            not running))

    def show(self) -> None:
        self.icon.show()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.popup.popup()
        elif reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.show_window.emit()

    def _status(self, status: IndexStatus) -> None:
        failed = f"\n{status.failed:,} files could not be read" if status.failed else ""
        self.icon.setToolTip(f"Deskfind\n{counts_text(status)}{failed}\n"
                             + service_text(status, self.session.service_starting))

    def _progress(self, phase: str, done: int, total: int) -> None:
        self.icon.setToolTip(f"Deskfind\n{progress_text(phase, done, total)}")
