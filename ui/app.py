"""Starting the GUI: compose backend, task runner, windows and tray; screenshot mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from app import paths
from app.backend import Backend
from app.context import Options
from engine.errors import DeskfindError
from ui.install_offer import InstallOffer
from ui.main_window import MainWindow
from ui.session import Session
from ui.settings import SettingsDialog
from ui.tasks import TaskRunner
from ui.tray import QuickSearch, Tray

log = logging.getLogger("deskfind.ui")


def open_session(options: Options, runner: TaskRunner, *, start_service: bool = False,
                 config_file: Path | None = None) -> Session:
    """A session on the index, or one that explains why the index could not be opened.

    With `start_service`, the session uses (or starts) the background service.
    """
    try:
        return Session(Backend(options, config_file), runner, start_service=start_service)
    except DeskfindError as exc:
        log.error("cannot open the index: %s", exc)
        return Session(None, runner, open_error=str(exc),
                       data_dir=str(paths.data_dir(options.data_dir)),
                       start_service=start_service)


class DeskfindGui(QObject):
    """The windows of one running app, wired to one session."""

    def __init__(self, app: QApplication, session: Session, options: Options,
                 tray: bool | None = None, config_file: Path | None = None) -> None:
        super().__init__(app)
        self.app = app
        self.session = session
        self.options = options
        self.config_file = config_file
        self.window = MainWindow(session)
        # Above the window's pages, full width; the window has no menu bar of its own.
        self.install_offer = InstallOffer(session, parent=self.window)
        self.window.setMenuWidget(self.install_offer)
        self.popup = QuickSearch(session)
        self.settings: SettingsDialog | None = None
        use_tray = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
        self.tray = Tray(session, self.popup, self) if use_tray else None
        self.window.keep_in_tray = self.tray is not None
        app.setQuitOnLastWindowClosed(self.tray is None)
        if self.tray is not None:
            self.tray.show_window.connect(self.show_window)
            self.tray.quit_requested.connect(app.quit)
            self.tray.show()
        self.window.settings_action.triggered.connect(self.show_settings)
        self.window.quit_action.triggered.connect(app.quit)
        if hasattr(self.window, "error_page"):
            self.window.error_page.retry.connect(self.retry_open)
        self.popup.show_all.connect(self._show_all)
        app.aboutToQuit.connect(self.shutdown)
        session.refresh_status()
        session.connect_service()
        session.start_polling()
        self.install_offer.check()

    def show_window(self) -> None:
        self.window.show()
        self.window.setWindowState(self.window.windowState() & ~Qt.WindowState.WindowMinimized)
        self.window.raise_()
        self.window.activateWindow()
        self.window.focus_search()

    def handle_request(self, request: str) -> None:
        """Another `deskfind gui` start: show the popup (--quick) or the window."""
        if request == "quick":
            self.popup.popup()
        else:
            self.show_window()

    def _show_all(self, text: str) -> None:
        self.popup.hide()
        self.window.field.setText(text)
        self.show_window()

    def show_settings(self) -> SettingsDialog:
        if self.settings is None:
            self.settings = SettingsDialog(self.session, self.window)
        self.settings.show()
        self.settings.raise_()
        return self.settings

    def retry_open(self) -> None:
        try:
            backend = Backend(self.options, self.config_file)
        except DeskfindError as exc:
            self.window.statusBar().showMessage(f"Still cannot open the index: {exc}", 8000)
            return
        self.session.backend = backend
        self.session.open_error = ""
        self.window.pages.setCurrentWidget(self.window.search_page)
        self.session.refresh_status()
        self.session.connect_service()

    def shutdown(self) -> None:
        """Stop work in this process; a background service goes on keeping the index."""
        self.session.stop_polling()
        self.session.stop_indexing()
        self.session.runner.wait(10_000)
        if self.session.backend is not None:
            self.session.backend.close()


def wait_until(predicate: Callable[[], bool], timeout_ms: int = 60_000) -> bool:
    """Let the event loop run until `predicate()` holds (screenshot mode only)."""
    waited = 0
    while not predicate():
        if waited >= timeout_ms:
            return False
        QTest.qWait(20)
        waited += 20
    return True
