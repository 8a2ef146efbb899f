"""Handing files to the desktop: open with the default app, show the folder, copy path.

Always through QDesktopServices with a file URL, never through a shell.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from ui.viewers import default_pdf_exec, page_argv


def open_file(path: bytes, page: int | None = None) -> bool:
    """Open with the default app; a PDF at `page` when its viewer can be told so."""
    name = os.fsdecode(path)
    if page and name.lower().endswith(".pdf"):
        exec_line = default_pdf_exec()
        argv = page_argv(exec_line, name, page) if exec_line else None
        if argv and QProcess.startDetached(argv[0], argv[1:])[0]:
            return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(name))


def reveal_file(path: bytes) -> bool:
    """Open the folder holding `path` (file managers differ in how to select a file)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.fsdecode(os.path.dirname(path))))


def copy_path(path: bytes) -> None:
    QGuiApplication.clipboard().setText(os.fsdecode(path))
