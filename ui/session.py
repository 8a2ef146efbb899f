"""The GUI's view of one index: status, indexing runs and the "index changed" signal.

Windows share one `Session`; it is passed in, never looked up globally.  Everything that
reaches the backend goes through the task runner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.backend import Backend, IndexingCancelled, IndexStatus, UserSettings
from indexer.pipeline import IndexReport
from ui.tasks import TaskRunner

log = logging.getLogger("deskfind.ui.session")

MODES = (("hybrid", "Hybrid"), ("lexical", "Keyword"), ("dense", "Semantic"))


class Session(QObject):
    """Shared state of the open index; the backend may be missing if it failed to open."""

    status_changed = Signal(object)  # IndexStatus
    index_changed = Signal()  # files or folders changed: views decide whether to refresh
    indexing_changed = Signal(bool)
    indexing_progress = Signal(str, int, int)  # phase, done, total
    indexing_finished = Signal(object)  # IndexReport, or None when it failed/stopped
    message = Signal(str)  # something to tell the user, briefly

    def __init__(self, backend: Backend | None, runner: TaskRunner, *,
                 open_error: str = "", data_dir: str = "",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.runner = runner
        self.open_error = open_error
        self.data_dir = data_dir or (str(backend.data_dir) if backend else "")
        self.status: IndexStatus | None = None
        self.indexing = False
        self._cancel = threading.Event()

    @property
    def ok(self) -> bool:
        return self.backend is not None

    # -- searching ----------------------------------------------------------------------

    def search(self, query: str, mode: str, limit: int, key: str,
               on_done: Callable[[Any], None], on_error: Callable[[BaseException], None]) -> None:
        """Search off-thread; only the latest search of `key` delivers."""
        backend = self.backend
        if backend is None:
            return
        self.runner.run(lambda: backend.search(query, mode, limit), on_done, on_error, key=key)

    # -- status -------------------------------------------------------------------------

    def refresh_status(self) -> None:
        backend = self.backend
        if backend is not None:
            self.runner.run(backend.status, self._set_status, self._report_error,
                            key="session.status")

    def _set_status(self, status: IndexStatus) -> None:
        self.status = status
        self.status_changed.emit(status)

    def _report_error(self, exc: BaseException) -> None:
        log.warning("%s", exc)
        self.message.emit(str(exc))

    # -- folders and indexing -----------------------------------------------------------

    def add_folders(self, folders: Sequence[Path]) -> None:
        """Remember `folders` and index them in the background."""
        backend = self.backend
        if backend is None or not folders:
            return

        def add() -> None:
            for folder in folders:
                backend.add_root(folder)

        self.runner.run(add, lambda _: self._after_folders_changed(), self._report_error)

    def remove_folder(self, folder: bytes) -> None:
        backend = self.backend
        if backend is not None:
            self.runner.run(lambda: backend.remove_root(folder),
                            lambda _: self._after_folders_changed(index=False),
                            self._report_error)

    def _after_folders_changed(self, index: bool = True) -> None:
        self.index_changed.emit()
        self.refresh_status()
        if index:
            self.start_indexing()

    def start_indexing(self) -> None:
        backend = self.backend
        if backend is None or self.indexing:
            return
        self.indexing = True
        self._cancel.clear()
        self.indexing_changed.emit(True)
        self.indexing_progress.emit("starting", 0, 0)
        cancel = self._cancel
        self.runner.run(lambda progress: backend.index_now(progress, cancel),
                        self._indexing_done, self._indexing_failed,
                        on_progress=self._on_progress)

    def stop_indexing(self) -> None:
        self._cancel.set()

    def _on_progress(self, phase: str, done: int, total: int) -> None:
        self.indexing_progress.emit(phase, done, total)

    def _indexing_done(self, report: IndexReport) -> None:
        self._end_indexing(report)
        changed = report.added + report.updated + report.deleted + report.chunks_embedded
        self.message.emit(f"Indexed {report.seen} files: {report.added} new, "
                          f"{report.updated} changed, {report.deleted} removed, "
                          f"{report.failed} failed")
        if changed:
            self.index_changed.emit()

    def _indexing_failed(self, exc: BaseException) -> None:
        self._end_indexing(None)
        if isinstance(exc, IndexingCancelled):
            self.message.emit("Indexing stopped; what was read so far is searchable.")
        else:
            self._report_error(exc)
        self.index_changed.emit()

    def _end_indexing(self, report: IndexReport | None) -> None:
        self.indexing = False
        self.indexing_changed.emit(False)
        self.indexing_finished.emit(report)
        self.refresh_status()

    # -- settings -----------------------------------------------------------------------

    def save_settings(self, settings: UserSettings) -> None:
        backend = self.backend
        if backend is not None:
            self.runner.run(lambda: backend.save_settings(settings),
                            lambda _: self.message.emit("Settings saved."),
                            self._report_error)
