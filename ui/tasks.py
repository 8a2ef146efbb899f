"""The one way GUI work leaves the main thread.

An operation runs on a worker thread and never touches widgets; its result (or its
exception) comes back on the main thread through a queued signal, where the caller's
callback may update the UI.  Operations that share a `key` (every keystroke's search,
say) are numbered: when an older one finishes after a newer one was started, its result
is dropped, so a slow query can never overwrite the answer to a later one.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("deskfind.ui.tasks")

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]
ProgressFn = Callable[..., None]


@dataclass
class _Pending:
    key: str | None
    on_done: Done
    on_error: Failed | None
    on_progress: ProgressFn | None


class _Job(QRunnable):
    def __init__(self, task_id: int, op: Callable[..., Any], runner: TaskRunner,
                 with_progress: bool) -> None:
        super().__init__()
        self.task_id = task_id
        self.op = op
        self.runner = runner
        self.with_progress = with_progress

    def run(self) -> None:
        # Signals emitted here cross to the runner's (main) thread as queued calls.
        task_id, relay = self.task_id, self.runner
        try:
            if self.with_progress:
                result = self.op(lambda *args: relay.progressed.emit(task_id, args))
            else:
                result = self.op()
        except BaseException as exc:  # delivered to the caller, never lost in a thread
            relay.finished.emit(task_id, False, exc)
        else:
            relay.finished.emit(task_id, True, result)


class TaskRunner(QObject):
    """Runs operations on a small thread pool; callbacks run on the GUI thread."""

    busy_changed = Signal(bool)
    finished = Signal(int, bool, object)  # internal relay: task id, ok, result or error
    progressed = Signal(int, object)  # internal relay: task id, progress args

    def __init__(self, parent: QObject | None = None, max_threads: int = 3) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._latest: dict[str, int] = {}
        self.finished.connect(self._deliver)
        self.progressed.connect(self._deliver_progress)

    def run(self, op: Callable[..., Any], on_done: Done, on_error: Failed | None = None, *,
            key: str | None = None, on_progress: ProgressFn | None = None) -> int:
        """Start `op()` off-thread; returns its task id.

        With `on_progress`, `op` is called with one argument, a thread-safe function whose
        arguments reach `on_progress` on the GUI thread.  With `key`, only the most
        recently started operation of that key delivers its outcome.
        """
        task_id = next(self._ids)
        was_busy = bool(self._pending)
        self._pending[task_id] = _Pending(key, on_done, on_error, on_progress)
        if key is not None:
            self._latest[key] = task_id
        self._pool.start(_Job(task_id, op, self, on_progress is not None))
        if not was_busy:
            self.busy_changed.emit(True)
        return task_id

    def is_current(self, task_id: int) -> bool:
        pending = self._pending.get(task_id)
        return pending is not None and (pending.key is None
                                        or self._latest.get(pending.key) == task_id)

    def drop(self, key: str) -> None:
        """Forget what operations of `key` still running would deliver."""
        self._latest[key] = -1

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, msecs: int = -1) -> bool:
        """Block until every running operation has ended (for shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def _deliver(self, task_id: int, ok: bool, payload: object) -> None:
        current = self.is_current(task_id)
        pending = self._pending.pop(task_id, None)
        if not self._pending:
            self.busy_changed.emit(False)
        if pending is None or not current:
            return  # stale: a newer operation of the same key owns the answer
        if ok:
            pending.on_done(payload)
        elif pending.on_error is not None and isinstance(payload, Exception):
            pending.on_error(payload)
        else:
            assert isinstance(payload, BaseException)
            sys.excepthook(type(payload), payload, payload.__traceback__)

    def _deliver_progress(self, task_id: int, args: tuple[Any, ...]) -> None:
        pending = self._pending.get(task_id)
        if pending is not None and pending.on_progress is not None and self.is_current(task_id):
            pending.on_progress(*args)
