"""The GUI's answer to a bug: the crash report is written, and a dialog says where."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from app import logs


class CrashNotice(QObject):
    """Shows one dialog per crash report; safe to call from any thread (the signal
    carries the report to the main thread, where widgets may be made)."""

    crashed = Signal(str, str)  # what happened, the report's path ("" if none)

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.box: QMessageBox | None = None
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(self, exc: BaseException, path: Path | None) -> None:
        self.crashed.emit(f"{type(exc).__name__}: {exc}", str(path or ""))

    def _show(self, what: str, path: str) -> None:
        if self.box is not None and self.box.isVisible():
            return  # one at a time: a bug in a repeating timer must not bury the screen
        where = (f"A crash report was written to\n{path}\n\nPlease attach it when you report "
                 "the problem." if path else
                 "No crash report could be written; the log file has the details.")
        self.box = QMessageBox(QMessageBox.Icon.Critical, "Deskfind hit a bug",
                               f"Something went wrong inside Deskfind: {what}\n\n{where}\n\n"
                               "Deskfind keeps running; if it misbehaves, restart it.")
        self.box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.box.setWindowModality(Qt.WindowModality.NonModal)
        self.box.show()


def install_crash_notice(app: QApplication) -> Callable[[], None]:
    """Route uncaught exceptions (Qt slots, task runner, threads) to a crash report and
    a dialog naming it; returns what puts the previous hooks back."""
    notice = CrashNotice(app)
    return logs.install_crash_handler("gui", then=notice.report)
