"""The GUI's view of one index: status, the background service, indexing runs and the
"index changed" signal.

Windows share one `Session`; it is passed in, never looked up globally.  Everything that
reaches the backend goes through the task runner.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.backend import (
    SERVICE_RUNNING,
    SERVICE_STOPPED,
    Backend,
    IndexingCancelled,
    IndexStatus,
)
from engine.errors import DeskfindError
from indexer.pipeline import IndexReport
from ui import desktop
from ui.tasks import TaskRunner

log = logging.getLogger("deskfind.ui.session")

MODES = (("hybrid", "Hybrid"), ("lexical", "Keyword"), ("dense", "Semantic"))
POLL_BUSY_MS = 1500  # status refresh while the service has work…
POLL_IDLE_MS = 5000  # …and while it is idle or absent


class Session(QObject):
    """Shared state of the open index; the backend may be missing if it failed to open.

    With `start_service`, the session starts a `deskfind service` when none runs and
    there are folders, and indexes in-process only when that fails.
    """

    status_changed = Signal(object)  # IndexStatus
    index_changed = Signal()  # files or folders changed: views decide whether to refresh
    indexing_changed = Signal(bool)  # an in-process indexing run started or ended
    indexing_progress = Signal(str, int, int)  # phase, done, total
    indexing_finished = Signal(object)  # IndexReport, or None when it failed/stopped
    message = Signal(str)  # something to tell the user, briefly

    def __init__(self, backend: Backend | None, runner: TaskRunner, *,
                 open_error: str = "", data_dir: str = "", start_service: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.runner = runner
        self.open_error = open_error
        self.data_dir = data_dir or (str(backend.data_dir) if backend else "")
        self.start_service_allowed = start_service
        self.status: IndexStatus | None = None
        self.indexing = False
        self.service_starting = False
        self._cancel = threading.Event()
        self._status_pending = False
        self._was_busy = False
        self._settled: tuple[int, int, int] | None = None
        self._last_error = ""
        self._embedding_held = False  # an indexing run here stopped before embedding all
        self.poll_ms = (POLL_BUSY_MS, POLL_IDLE_MS)
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_IDLE_MS)
        self.poll.timeout.connect(self._poll_status)

    @property
    def ok(self) -> bool:
        return self.backend is not None

    @property
    def service_running(self) -> bool:
        return self.status is not None and self.status.service == SERVICE_RUNNING

    # -- searching ----------------------------------------------------------------------

    def search(self, query: str, mode: str, limit: int, key: str,
               on_done: Callable[[Any], None], on_error: Callable[[BaseException], None],
               strict: bool = False) -> None:
        """Search off-thread (delivers a backend.Found); only the latest search of `key`
        delivers."""
        backend = self.backend
        if backend is None:
            return
        self.runner.run(lambda: backend.search(query, mode, limit, strict), on_done, on_error,
                        key=key)

    def mark_sentences(self, query: str, hits: list[Any], key: str,
                       on_done: Callable[[Any], None]) -> None:
        """Mark each hit's sentence closest in meaning, off-thread; failures are quiet."""
        backend = self.backend
        if backend is not None:
            self.runner.run(lambda: backend.mark_sentences(query, hits), on_done,
                            lambda exc: log.warning("sentence marking failed: %s", exc),
                            key=f"{key}-sentences")

    def open_document(self, path: bytes, ext: str, page: int | None = None) -> None:
        """Open a result with the desktop's app.  A document inside another file (an
        archive member, a mail message) is first copied out to a private folder, off
        the GUI thread; a failure is told as a message."""
        backend = self.backend
        if backend is None or os.path.isfile(path):
            desktop.open_file(path, page)
            return
        def open_copy(copy: bytes) -> None:
            desktop.open_file(copy, page)

        self.runner.run(lambda: backend.openable_path(path, ext), open_copy,
                        self._open_failed)

    def _open_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, DeskfindError):
            raise exc
        self.message.emit(f"Cannot open: {exc}")

    # -- status -------------------------------------------------------------------------

    def start_polling(self) -> None:
        """Refresh the status on a timer (each refresh runs off-thread)."""
        self.poll.start(self.poll_ms[1])

    def stop_polling(self) -> None:
        self.poll.stop()

    def _poll_status(self) -> None:
        if not self._status_pending:  # a slow service must not pile up requests
            self.refresh_status()

    def refresh_status(self) -> None:
        backend = self.backend
        if backend is not None:
            self._status_pending = True
            self.runner.run(backend.status, self._set_status, self._status_failed,
                            key="session.status")

    def _set_status(self, status: IndexStatus) -> None:
        self._status_pending = False
        self._last_error = ""
        self.status = status
        self.status_changed.emit(status)
        busy = status.background_busy
        self.poll.setInterval(self.poll_ms[0 if busy or self.service_starting else 1])
        if status.service == SERVICE_RUNNING:
            # The service changes the index by itself: tell the views once it settles.
            counts = (status.files, status.searchable, status.embedded)
            if not busy and (self._was_busy or self._settled not in (None, counts)):
                self.index_changed.emit()
            if not busy:
                self._settled = counts
        self._was_busy = busy
        self._resume_held_embedding(status)

    def _resume_held_embedding(self, status: IndexStatus) -> None:
        """Embedding held back here (on battery) resumes once nothing holds it, as the
        service's does; a service that runs now does it itself."""
        if not self._embedding_held or self.indexing or status.embedding_paused:
            return
        self._embedding_held = False
        if status.service != SERVICE_RUNNING and status.to_embed > 0:
            self.start_indexing()

    def _status_failed(self, exc: BaseException) -> None:
        self._status_pending = False
        if str(exc) != self._last_error:  # polled: say it once, not every few seconds
            self._last_error = str(exc)
            self._report_error(exc)

    def _report_error(self, exc: BaseException) -> None:
        log.warning("%s", exc)
        self.message.emit(str(exc))

    def _redraw(self) -> None:
        if self.status is not None:
            self.status_changed.emit(self.status)

    # -- the background service ---------------------------------------------------------

    def connect_service(self) -> None:
        """Use a running service, or start one when there are folders and none runs."""
        if self.start_service_allowed:
            self.start_service()
        else:
            self.refresh_status()

    def start_service(self, then_index: bool = False) -> None:
        """Start the service off-thread; with `then_index`, index here if it fails."""
        backend = self.backend
        if backend is None or self.service_starting:
            return
        self.service_starting = True
        self._redraw()

        def done(state: str) -> None:
            self.service_starting = False
            if state != SERVICE_RUNNING and backend.service_error:
                self.message.emit(f"Indexing in this window instead: {backend.service_error}")
            self.refresh_status()
            if then_index and state != SERVICE_RUNNING:
                self._index_in_process()

        def failed(exc: BaseException) -> None:
            self.service_starting = False
            self._report_error(exc)
            self.refresh_status()

        self.runner.run(backend.ensure_service, done, failed)

    def set_paused(self, paused: bool) -> None:
        backend = self.backend
        if backend is not None:
            self.runner.run(lambda: backend.set_paused(paused),
                            lambda _: self.refresh_status(), self._report_error)

    # -- folders and indexing -----------------------------------------------------------

    def add_folders(self, folders: Sequence[Path]) -> None:
        """Remember `folders`; the service (or an indexing run here) reads them."""
        backend = self.backend
        if backend is None or not folders:
            return

        def add() -> None:
            for folder in folders:
                backend.add_root(folder)

        self.runner.run(add, lambda _: self._after_folders_changed(), self._report_error)

    def remove_folder(self, folder: bytes | str) -> None:
        backend = self.backend
        if backend is not None:
            self.runner.run(lambda: backend.remove_root(folder),
                            lambda _: self._after_folders_changed(index=False),
                            self._report_error)

    def _after_folders_changed(self, index: bool = True) -> None:
        self.index_changed.emit()
        self.refresh_status()
        backend = self.backend
        if index and backend is not None and backend.service != SERVICE_RUNNING:
            self.start_indexing()  # a running service was told by the backend already

    def start_indexing(self) -> None:
        """"Update index now": the service's job when one runs (or can be started)."""
        backend = self.backend
        if backend is None or self.indexing:
            return
        if backend.service == SERVICE_RUNNING:
            self.runner.run(backend.index_now, self._indexing_done, self._report_error)
        elif self.start_service_allowed and backend.service == SERVICE_STOPPED:
            self.start_service(then_index=True)  # a new service scans every folder
        else:
            self._index_in_process()

    def _index_in_process(self) -> None:
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

    def _indexing_done(self, report: IndexReport | None) -> None:
        if self.indexing:
            self._end_indexing(report)
        if report is None:  # the service took it
            self.message.emit("The background service is checking your folders.")
            self.refresh_status()
            return
        changed = report.added + report.updated + report.deleted + report.chunks_embedded
        self._embedding_held = bool(report.embedding_paused)
        held = (f"; embedding paused ({report.embedding_paused}), keyword search is up to "
                "date" if report.embedding_paused else "")
        self.message.emit(f"Indexed {report.seen} files: {report.added} new, "
                          f"{report.updated} changed, {report.deleted} removed, "
                          f"{report.failed} failed{held}")
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

    def save_settings(self, changes: dict[str, Any]) -> None:
        """Write changed settings to the config file; a running service reloads them."""
        backend = self.backend
        if backend is not None:
            self.runner.run(lambda: backend.save_settings(changes), self._settings_saved,
                            self._report_error)

    def _settings_saved(self, note: str) -> None:
        self.message.emit(note)
        self.refresh_status()
