"""The window's offer to put Deskfind in the application menu: Install, Not now, or
Don't ask again.

A banner, not a dialog: the window works underneath it.  It is shown at start until the
user installs or declines (`offer_desktop_install` in the settings), and never when a
Deskfind menu entry exists already.  Install writes what `deskfind desktop install`
writes (`app.desktop.install_this`), off the GUI thread like every file access here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from app import desktop
from app.desktop import DesktopDirs
from engine.errors import DeskfindError
from ui.session import Session

SETTING = "offer_desktop_install"
QUESTION = ("Add Deskfind to your applications menu? It will also keep your index up to "
            "date from when you log in.")


class InstallOffer(QFrame):
    """The banner; `check()` decides whether it shows."""

    decided = Signal(bool)  # after check(): whether the offer is shown
    installed = Signal(list)  # the files written

    def __init__(self, session: Session, dirs: DesktopDirs | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dirs = dirs or DesktopDirs.from_environment()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.setAutoFillBackground(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 8, 6)
        self.label = QLabel(QUESTION, self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        row.addWidget(self.label, 1)
        self.install_button = QPushButton("Install", self)
        self.install_button.setToolTip("Menu entry with a Quick Search action, icon, and the "
                                       "background indexer at login (deskfind desktop "
                                       "install; deskfind desktop uninstall removes them)")
        self.later_button = QPushButton("Not now", self)
        self.later_button.setToolTip("Ask again the next time Deskfind starts")
        self.never_button = QPushButton("Don't ask again", self)
        self.never_button.setToolTip("`deskfind desktop install` adds it at any time")
        for button in (self.install_button, self.later_button, self.never_button):
            button.setAutoDefault(False)
            row.addWidget(button)
        self.install_button.clicked.connect(self.install)
        self.later_button.clicked.connect(self.hide)
        self.never_button.clicked.connect(self.never)
        self.setVisible(False)

    def check(self) -> None:
        """Show the offer if the settings allow it and no menu entry exists."""
        backend = self.session.backend
        if backend is None or not desktop.integrates_here():
            self.decided.emit(False)
            return
        dirs = self.dirs

        def wanted() -> bool:
            return bool(backend.settings().get(SETTING)) and not desktop.entry_installed(dirs)

        self.session.runner.run(wanted, self._decided, self._check_failed)

    def _decided(self, show: bool) -> None:
        self.setVisible(show)
        self.decided.emit(show)

    def _check_failed(self, exc: BaseException) -> None:
        self.session.message.emit(f"Cannot read the settings: {exc}")
        self._decided(False)

    def install(self) -> None:
        self._busy(True)
        dirs = self.dirs
        self.session.runner.run(lambda: desktop.install_this(dirs), self._installed,
                                self._failed)

    def _installed(self, written: list[Path]) -> None:
        self._busy(False)
        self.hide()
        self.session.message.emit("Deskfind is in your applications menu now; "
                                  "`deskfind desktop uninstall` removes it.")
        self.installed.emit(written)

    def never(self) -> None:
        backend = self.session.backend
        if backend is None:
            return
        self._busy(True)
        self.session.runner.run(lambda: backend.save_settings({SETTING: False}),
                                lambda _: self._declined(), self._failed)

    def _declined(self) -> None:
        self._busy(False)
        self.hide()
        self.session.message.emit("Deskfind will not ask again; `deskfind desktop install` "
                                  "adds it to the menu at any time.")

    def _failed(self, exc: BaseException) -> None:
        """Say what went wrong in the banner itself, and let the user try again."""
        if not isinstance(exc, (OSError, DeskfindError)):
            raise exc
        self._busy(False)
        self.label.setText(f"Could not do that: {exc}")

    def _busy(self, busy: bool) -> None:
        for button in (self.install_button, self.later_button, self.never_button):
            button.setEnabled(not busy)
