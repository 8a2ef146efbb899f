"""The status area: counts, the background service, indexing progress, failed files."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.backend import SERVICE_RUNNING, SERVICE_UNAVAILABLE, IndexStatus
from ui.duplicates import DuplicatesDialog
from ui.results import file_tree, short_path
from ui.session import Session

PHASES = {"starting": "Preparing", "reading": "Reading files", "embedding": "Understanding"}
WATCH_MODES = {"polling": "watched by polling", "offline": "offline"}


def counts_text(status: IndexStatus) -> str:
    parts = [f"{status.searchable:,} searchable",
             f"{status.embedded:,} of {status.passages:,} passages embedded"]
    if status.left_out:
        parts.append(f"not embedded: generated text {status.left_out:,} passages")
    return "  ·  ".join(parts)


def progress_text(phase: str, done: int, total: int) -> str:
    label = PHASES.get(phase, phase.capitalize())
    return f"{label} {done:,} / {total:,}" if total else f"{label}…"


def service_text(status: IndexStatus, starting: bool = False) -> str:
    """One line on what the background service is doing."""
    if status.service == SERVICE_RUNNING:
        left = status.to_embed
        if status.queue:
            work = f"{status.queue:,} queued"
        elif left > 0 and status.embedding_paused and not status.paused:
            return f"Embedding paused ({status.embedding_paused}): {left:,} passages wait"
        elif left > 0:
            work = f"{left:,} passages to embed"
        else:
            return "Indexing paused" if status.paused else "Up to date"
        return f"Indexing paused: {work}" if status.paused else \
            f"Indexing in the background: {work}"
    if starting:
        return "Starting the background service…"
    state = ("Background service unavailable" if status.service == SERVICE_UNAVAILABLE
             else "Service not running")
    if status.embedding_paused and status.to_embed > 0:  # what a run here waits for
        return f"{state}; embedding paused ({status.embedding_paused}): " \
               f"{status.to_embed:,} passages wait"
    return state


def watch_text(status: IndexStatus) -> str:
    """The folders the service cannot watch natively, and why ('' when all can)."""
    return "\n".join(
        f"{short_path(w.root)}: {WATCH_MODES.get(w.mode, w.mode)}"
        + (f" ({w.note})" if w.note else "")
        for w in status.watch if w.mode != "inotify")


class StatusArea(QWidget):
    """The bottom of the main window: counts and the service's state; watch problems
    on a second line when there are any."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 0, 4, 0)
        outer.setSpacing(0)
        layout = QHBoxLayout()
        layout.setSpacing(10)
        outer.addLayout(layout)
        self.counts = QLabel(self)
        self.counts.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.failed = self._flat_button("", "Show the files that could not be read, and why")
        self.failed.clicked.connect(self.show_failures)
        self.duplicates = self._flat_button("Duplicates…", "Files that are copies of each "
                                            "other, with sizes and paths (nothing is deleted)")
        self.duplicates.clicked.connect(self.show_duplicates)
        self.service = QLabel(self)
        self.phase = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(180)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.pause = self._flat_button("Pause", "Pause background indexing; changes are "
                                                "remembered and read when you resume")
        self.pause.clicked.connect(lambda: session.set_paused(not self._paused()))
        self.start = self._flat_button("Start", "Start the background service, which keeps "
                                                "the index up to date as files change")
        self.start.clicked.connect(lambda: session.start_service())
        self.stop = self._flat_button("Stop", "Stop this indexing run")
        self.stop.clicked.connect(session.stop_indexing)
        layout.addWidget(self.counts)
        layout.addWidget(self.failed)
        layout.addWidget(self.duplicates)
        layout.addStretch(1)
        for w in (self.service, self.phase, self.bar, self.pause, self.start, self.stop):
            layout.addWidget(w)
        self.watch = QLabel(self)
        self.watch.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        outer.addWidget(self.watch)
        session.status_changed.connect(self.set_status)
        session.indexing_changed.connect(self.set_indexing)
        session.indexing_progress.connect(self.set_progress)
        for w in (self.failed, self.duplicates, self.service, self.pause, self.start,
                  self.watch):
            w.setVisible(False)
        self.set_indexing(session.indexing)
        if session.status is not None:
            self.set_status(session.status)

    def _flat_button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setFlat(True)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setToolTip(tip)
        return button

    def _paused(self) -> bool:
        status = self.session.status
        return status is not None and status.paused

    def set_status(self, status: IndexStatus) -> None:
        self.counts.setText(counts_text(status))
        self.failed.setVisible(status.failed > 0)
        self.failed.setText(f"{status.failed:,} failed")
        self.duplicates.setVisible(status.searchable > 1)
        running = status.service == SERVICE_RUNNING
        in_process = self.session.indexing
        self.service.setVisible(not in_process)
        self.service.setText(service_text(status, self.session.service_starting))
        self.service.setToolTip(status.current_file if running else status.service_note)
        self.pause.setVisible(running and not in_process)
        self.pause.setText("Resume" if status.paused else "Pause")
        self.start.setVisible(not running and not in_process and bool(status.roots)
                              and not self.session.service_starting)
        if not in_process:
            busy = status.background_busy
            self.bar.setVisible(busy)
            if busy and status.queue and not status.paused:
                self.bar.setRange(0, 0)  # files waiting: how many more will come is unknown
            else:
                self.bar.setRange(0, max(status.passages - status.left_out, 1))
                self.bar.setValue(status.embedded)
            self.bar.setToolTip(f"{status.searchable:,} files searchable by keyword, "
                                f"{status.embedded:,} of {status.passages:,} passages "
                                "searchable by meaning")
        text = watch_text(status)
        self.watch.setText(text)
        self.watch.setVisible(bool(text))

    def set_indexing(self, running: bool) -> None:
        for w in (self.phase, self.bar, self.stop):
            w.setVisible(running)
        if running:
            self.service.setVisible(False)
            self.pause.setVisible(False)
            self.start.setVisible(False)
        elif self.session.status is not None:
            self.set_status(self.session.status)

    def set_progress(self, phase: str, done: int, total: int) -> None:
        self.phase.setText(progress_text(phase, done, total))
        self.bar.setRange(0, total)  # 0..0 shows a busy bar
        self.bar.setValue(done)

    def show_duplicates(self) -> DuplicatesDialog:
        """The groups of copies among the indexed files (loaded off-thread)."""
        dialog = DuplicatesDialog(self.session, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

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
        self.tree = file_tree(self, ["File", "Status", "Reason"])
        self.tree.setRootIsDecorated(False)
        for f in status.failures:
            item = QTreeWidgetItem([f.path, f.status, f.reason])
            item.setToolTip(0, f.path)
            self.tree.addTopLevelItem(item)
        layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
