"""Searches run off the GUI thread, and an older answer never replaces a newer one."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer

from app.backend import Found, IndexStatus
from engine.errors import QueryError
from engine.ids import ChunkId, FileId
from engine.search import SearchResult
from engine.snippets import Snippet
from ui.main_window import MainWindow


def fake_result(name: str) -> SearchResult:
    return SearchResult(file_id=FileId(1), path=f"/tmp/{name}.txt".encode(),
                        display_path=f"/tmp/{name}.txt", title=name, ext="txt", mtime_ns=0,
                        score=1.0, lexical=1.0, dense=0.0, chunk_id=ChunkId(1), page=None,
                        char_start=0, char_end=len(name), snippet=Snippet(name, ((0, 4),), 0))


class SlowBackend:
    """Searches for words in `blocking` wait until `release` is set."""

    def __init__(self, blocking: set[str]) -> None:
        self.blocking = blocking
        self.release = threading.Event()
        self.started: list[str] = []
        self.data_dir = "/tmp/data"
        self.service = "stopped"

    def roots(self):
        return ["/tmp"]

    def search(self, query, mode="hybrid", limit=50, strict=False):
        self.started.append(query)
        if query in self.blocking:
            assert self.release.wait(20), "test never released the search"
        if query == "bad":
            raise QueryError("the query has no words to search for")
        return Found([fake_result(query)])

    def status(self):
        return IndexStatus("/tmp/data", ("/tmp",), 1, 1, 0, 0, 1, 1)

    def related(self, path, limit=8):
        return []

    @staticmethod
    def highlight_terms(query):
        return ()

    @staticmethod
    def match_spans(text, terms):
        return []

    @staticmethod
    def document_text(path, ext):
        return "text"


@pytest.fixture
def slow(qtbot, make_session):
    backend = SlowBackend({"slow"})
    session = make_session(backend)
    win = MainWindow(session)
    qtbot.addWidget(win)
    yield backend, win
    backend.release.set()


def test_a_slow_search_does_not_freeze_the_window(qtbot, slow):
    backend, win = slow
    win.field.setText("slow")
    win.search.run_now()
    qtbot.waitUntil(lambda: backend.started == ["slow"])
    # The search is blocked in its worker; the event loop still runs timers and input.
    timer = QTimer(win)
    timer.setSingleShot(True)
    with qtbot.waitSignal(timer.timeout, timeout=2000):
        timer.start(10)
    qtbot.keyClicks(win.field, "er")
    assert win.field.text() == "slower"
    assert win.model.rowCount() == 0
    backend.blocking.clear()
    backend.release.set()
    qtbot.waitUntil(lambda: [r.title for r in win.model.results] == ["slower"])


def test_stale_results_never_overwrite_newer_ones(qtbot, slow):
    backend, win = slow
    win.field.setText("slow")
    win.search.run_now()
    qtbot.waitUntil(lambda: "slow" in backend.started)
    win.field.setText("fast")
    win.search.run_now()
    qtbot.waitUntil(lambda: [r.title for r in win.model.results] == ["fast"])
    backend.release.set()  # the older search now finishes…
    qtbot.waitUntil(lambda: not win.session.runner.busy)
    assert [r.title for r in win.model.results] == ["fast"]  # …and is dropped


def test_typing_is_debounced_into_one_search(qtbot, slow):
    backend, win = slow
    qtbot.keyClicks(win.field, "quick")
    qtbot.waitUntil(lambda: win.model.rowCount() == 1)
    assert backend.started == ["quick"]


def test_query_errors_are_shown_to_the_user(qtbot, slow):
    _, win = slow
    win.field.setText("bad")
    win.search.run_now()
    qtbot.waitUntil(lambda: "no words" in win.summary.text())


def test_runner_delivers_errors_and_progress_on_the_gui_thread(qtbot):
    from ui.tasks import TaskRunner

    runner = TaskRunner()
    seen: list[object] = []
    gui_thread = threading.current_thread()

    def op(progress):
        progress("reading", 1, 2)
        raise QueryError("nope")

    runner.run(op, seen.append, lambda e: seen.append((str(e), threading.current_thread())),
               on_progress=lambda *a: seen.append(a))
    qtbot.waitUntil(lambda: len(seen) == 2)
    assert seen == [("reading", 1, 2), ("nope", gui_thread)]
    runner.wait()
