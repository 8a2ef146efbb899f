"""Full-window pages shown instead of the search view: first run, and a broken index."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend import IndexStatus
from ui.icons import app_icon
from ui.session import Session
from ui.status import progress_text, service_text


def _centered_column(parent: QWidget) -> QVBoxLayout:
    outer = QHBoxLayout(parent)
    outer.addStretch(1)
    column = QVBoxLayout()
    column.setSpacing(14)
    outer.addLayout(column, 0)
    outer.addStretch(1)
    column.addStretch(1)
    return column


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _body(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setMaximumWidth(460)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class FirstRunPage(QWidget):
    """Asks which folders to search, then shows the first indexing run."""

    folders_chosen = Signal(list)  # list[Path]

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        column = _centered_column(self)
        logo = QLabel(self)
        logo.setPixmap(app_icon().pixmap(88, 88))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(logo)
        column.addWidget(_heading("Welcome to Deskfind", self))
        column.addWidget(_body(
            "Choose the folders you want to search. Deskfind reads them on this computer; "
            "nothing is sent anywhere. Keys, password stores and caches are skipped.", self))
        self.choose = QPushButton("Choose folders…", self)
        self.choose.setDefault(True)
        self.choose.setMinimumHeight(34)
        self.choose.clicked.connect(self.ask_for_folders)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.choose)
        row.addStretch(1)
        column.addLayout(row)
        self.progress_label = _body("", self)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        column.addWidget(self.bar)
        column.addWidget(self.progress_label)
        column.addStretch(1)
        self.set_running(False)
        session.indexing_changed.connect(self.set_running)
        session.indexing_progress.connect(self.set_progress)
        session.status_changed.connect(self.set_status)

    def ask_for_folders(self) -> None:
        start = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to search", start)
        if folder:
            self.folders_chosen.emit([Path(folder)])

    def set_running(self, running: bool) -> None:
        self.bar.setVisible(running)
        self.progress_label.setVisible(running)
        self.choose.setText("Add another folder…" if running else "Choose folders…")

    def set_progress(self, phase: str, done: int, total: int) -> None:
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        self.progress_label.setText(
            progress_text(phase, done, total)
            + "\nFiles become searchable as soon as they are read.")


    def set_status(self, status: IndexStatus) -> None:
        """The first files being read by the background service."""
        if self.session.indexing:
            return  # an in-process run reports its own progress
        self.set_running(status.background_busy)
        if status.background_busy:
            self.bar.setRange(0, 0)
            self.progress_label.setText(service_text(status)
                                        + "\nFiles become searchable as soon as they are read.")


class ErrorPage(QWidget):
    """The index could not be opened: say what happened and what can be done."""

    retry = Signal()

    def __init__(self, message: str, data_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = _centered_column(self)
        column.addWidget(_heading("The index could not be opened", self))
        detail = QLabel(message, self)
        detail.setWordWrap(True)
        detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail.setMaximumWidth(520)
        detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(detail)
        column.addWidget(_body(
            f"Index folder: {data_dir}\nYour files are untouched. If the index is damaged, "
            "move that folder aside and start Deskfind again to rebuild it.", self))
        again = QPushButton("Try again", self)
        again.clicked.connect(self.retry)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(again)
        row.addStretch(1)
        column.addLayout(row)
        column.addStretch(1)
