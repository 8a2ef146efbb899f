"""A bug in the GUI leaves a crash report and a dialog that says where it is."""

from __future__ import annotations

import sys
import threading

from PySide6.QtWidgets import QApplication, QMessageBox

from app.paths import LOG_DIR_ENV
from ui.crash import install_crash_notice


def visible_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()]


def test_an_uncaught_exception_in_a_thread_is_reported_in_a_dialog(qtbot, qapp, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    hooks = sys.excepthook
    restore = install_crash_notice(qapp)
    try:
        def boom() -> None:
            raise LookupError("injected GUI bug")

        worker = threading.Thread(target=boom)
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(visible_boxes()) == 1)
    finally:
        restore()
    assert sys.excepthook is hooks
    [report] = (tmp_path / "logs").glob("crash-gui-*.txt")
    assert "LookupError: injected GUI bug" in report.read_text()
    [box] = visible_boxes()
    assert str(report) in box.text() and "injected GUI bug" in box.text()
    box.close()
