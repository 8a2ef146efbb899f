"""The GUI session against a scripted backend: folders, indexing runs, status and the
service, everything through the task runner."""

from __future__ import annotations

import threading

from app.backend import (
    SERVICE_RUNNING,
    SERVICE_STOPPED,
    SERVICE_UNAVAILABLE,
    IndexingCancelled,
    IndexStatus,
)
from indexer.pipeline import IndexReport
from ui.session import Session


def _status(service=SERVICE_STOPPED, files=2, queue=0, passages=4, embedded=4):
    return IndexStatus(data_dir="/tmp/data", roots=("/home/u/notes",), files=files,
                       searchable=files, failed=0, skipped=0, passages=passages,
                       embedded=embedded, service=service, queue=queue)


class ScriptedBackend:
    """Answers like app.backend.Backend; each call is recorded with its thread."""

    def __init__(self) -> None:
        self.data_dir = "/tmp/data"
        self.service = SERVICE_STOPPED
        self.service_error = ""
        self.calls: list[tuple[str, object, threading.Thread]] = []
        self.statuses: list[object] = []  # what status() returns (or raises), in turn
        self.block_indexing = threading.Event()
        self.block_indexing.set()

    def _call(self, name, arg=None):
        self.calls.append((name, arg, threading.current_thread()))

    def add_root(self, folder):
        self._call("add_root", str(folder))

    def remove_root(self, folder):
        self._call("remove_root", folder)

    def status(self):
        self._call("status")
        answer = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def index_now(self, progress=None, cancel=None):
        self._call("index_now")
        if progress is not None:
            progress("reading", 1, 2)
            progress("reading", 2, 2)
        self.block_indexing.wait(10)
        if cancel is not None and cancel.is_set():
            raise IndexingCancelled("stopped")
        return IndexReport(seen=2, added=2, chunks_embedded=4)

    def ensure_service(self, timeout=60.0):
        self._call("ensure_service")
        self.service_error = "no permission to run it here"
        self.service = SERVICE_UNAVAILABLE
        return SERVICE_UNAVAILABLE


def _session(make_session, backend, **kw) -> Session:
    session = make_session(backend, **kw)
    session.heard = {"messages": [], "changed": 0, "indexing": [], "progress": [],
                     "finished": []}
    heard = session.heard
    session.message.connect(heard["messages"].append)
    session.index_changed.connect(lambda: heard.__setitem__("changed", heard["changed"] + 1))
    session.indexing_changed.connect(heard["indexing"].append)
    session.indexing_progress.connect(lambda *a: heard["progress"].append(a))
    session.indexing_finished.connect(heard["finished"].append)
    return session


def test_adding_folders_without_a_service_indexes_them_here(qtbot, make_session):
    backend = ScriptedBackend()
    backend.statuses = [_status()]
    session = _session(make_session, backend)
    session.add_folders(["/home/u/notes", "/home/u/papers"])
    qtbot.waitUntil(lambda: bool(session.heard["finished"]), timeout=5000)
    added = [a for name, a, _ in backend.calls if name == "add_root"]
    assert added == ["/home/u/notes", "/home/u/papers"]
    assert all(t is not threading.main_thread() for _, _, t in backend.calls)
    heard = session.heard
    assert heard["indexing"] == [True, False]
    assert ("reading", 2, 2) in heard["progress"]
    assert heard["finished"][0].added == 2
    assert heard["changed"] >= 2  # the folders, then what the run indexed
    assert any(m.startswith("Indexed 2 files: 2 new") for m in heard["messages"])


def test_stopping_a_run_keeps_what_was_read_and_says_so(qtbot, make_session):
    backend = ScriptedBackend()
    backend.statuses = [_status()]
    backend.block_indexing.clear()
    session = _session(make_session, backend)
    session.start_indexing()
    qtbot.waitUntil(lambda: session.heard["indexing"] == [True], timeout=5000)
    session.stop_indexing()
    backend.block_indexing.set()
    qtbot.waitUntil(lambda: session.heard["indexing"] == [True, False], timeout=5000)
    assert session.heard["finished"] == [None]
    assert "Indexing stopped; what was read so far is searchable." in session.heard["messages"]
    assert not session.indexing


def test_a_service_that_cannot_start_leaves_the_indexing_to_this_window(qtbot, make_session):
    backend = ScriptedBackend()
    backend.statuses = [_status()]
    session = _session(make_session, backend, start_service=True)
    session.start_indexing()
    qtbot.waitUntil(lambda: bool(session.heard["finished"]), timeout=5000)
    names = [name for name, _, _ in backend.calls]
    assert names.index("ensure_service") < names.index("index_now")
    assert ("Indexing in this window instead: no permission to run it here"
            in session.heard["messages"])


def test_a_failing_status_is_told_once_and_a_new_failure_again(qtbot, make_session):
    backend = ScriptedBackend()
    backend.statuses = [OSError("service socket refused"), OSError("service socket refused"),
                        OSError("index is locked")]
    session = _session(make_session, backend)
    for expected_calls in (1, 2, 3):
        session.refresh_status()
        qtbot.waitUntil(lambda n=expected_calls: not session._status_pending
                        and sum(c[0] == "status" for c in backend.calls) == n, timeout=5000)
    assert session.heard["messages"] == ["service socket refused", "index is locked"]


def test_views_hear_once_when_the_running_service_settles(qtbot, make_session):
    backend = ScriptedBackend()
    backend.service = SERVICE_RUNNING
    busy = _status(SERVICE_RUNNING, files=3, queue=5, passages=6, embedded=2)
    settled = _status(SERVICE_RUNNING, files=3, queue=0, passages=6, embedded=6)
    backend.statuses = [busy, busy, settled, settled, settled]
    session = _session(make_session, backend)
    for _ in range(5):
        session.refresh_status()
        qtbot.waitUntil(lambda: not session._status_pending, timeout=5000)
    assert session.heard["changed"] == 1
    assert session.poll.interval() == session.poll_ms[1]  # idle again: the slow poll
