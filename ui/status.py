"""The status area: counts, indexing progress, and the list of files that failed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.backend import IndexStatus
from ui.session import Session

PHASES = {"starting": "Preparing", "reading": "Reading files", "embedding": "Understanding"}


def counts_text(status: IndexStatus) -> str:
    parts = [f"{status.searchable:,} searchable",
             f"{status.embedded:,} of {status.passages:,} passages embedded"]
    return "  ·  ".join(parts)


def progress_text(phase: str, done: int, total: int) -> str:
    label = PHASES.get(phase, phase.capitalize())
    return f"{label} {done:,} / {total:,}" if total else f"{label}…"


class StatusArea(QWidget):
    """One line at the bottom of the main window."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 4, 0)
        layout.setSpacing(10)
        self.counts = QLabel(self)
        self.counts.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.failed = QPushButton(self)
        self.failed.setFlat(True)
        self.failed.setCursor(Qt.CursorShape.PointingHandCursor)
        self.failed.setToolTip("Show the files that could not be read, and why")
        self.failed.clicked.connect(self.show_failures)
        self.phase = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(180)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.stop = QPushButton("Stop", self)
        self.stop.setFlat(True)
        self.stop.clicked.connect(session.stop_indexing)
        layout.addWidget(self.counts)
        layout.addWidget(self.failed)
        layout.addStretch(1)
        layout.addWidget(self.phase)
        layout.addWidget(self.bar)
        layout.addWidget(self.stop)
        session.status_changed.connect(self.set_status)
        session.indexing_changed.connect(self.set_indexing)
        session.indexing_progress.connect(self.set_progress)
        self.set_indexing(session.indexing)
        self.failed.setVisible(False)
        if session.status is not None:
            self.set_status(session.status)

    def set_status(self, status: IndexStatus) -> None:
        self.counts.setText(counts_text(status))
        self.failed.setVisible(status.failed > 0)
        self.failed.setText(f"{status.failed:,} failed")

    def set_indexing(self, running: bool) -> None:
        for w in (self.phase, self.bar, self.stop):
            w.setVisible(running)

    def set_progress(self, phase: str, done: int, total: int) -> None:
        self.phase.setText(progress_text(phase, done, total))
        self.bar.setRange(0, total)  # 0..0 shows a busy bar
        self.bar.setValue(done)

    def show_failures(self) -> None:
        if self.session.status is not None:
            FailuresDialog(self.session.status, self.window()).exec()


class FailuresDialog(QDialog):
    """Files that could not be indexed (or were skipped) with the reason."""

    def __init__(self, status: IndexStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files not indexed")
        self.resize(720, 420)
        layout = QVBoxLayout(self)
        intro = QLabel("These files were not indexed. Deskfind tries again when they change.",
                       self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["File", "Status", "Reason"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        for f in status.failures:
            item = QTreeWidgetItem([f.path, f.status, f.reason])
            item.setToolTip(0, f.path)
            self.tree.addTopLevelItem(item)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
