"""Handing files to the desktop: open with the default app, show the folder, copy path.

Always through QDesktopServices with a file URL, never through a shell.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication


def open_file(path: bytes) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.fsdecode(path)))


def reveal_file(path: bytes) -> bool:
    """Open the folder holding `path` (file managers differ in how to select a file)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.fsdecode(os.path.dirname(path))))


def copy_path(path: bytes) -> None:
    QGuiApplication.clipboard().setText(os.fsdecode(path))
