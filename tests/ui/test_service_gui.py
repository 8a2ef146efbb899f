"""The GUI with a real `deskfind service`: searches and status through it, starting one,
pausing it, and working on without one."""

from __future__ import annotations

import os
import sys
from datetime import datetime

from app import backend as backend_module
from app.backend import (
    SERVICE_RUNNING,
    SERVICE_UNAVAILABLE,
    Backend,
    Hit,
    IndexStatus,
    WatchState,
)
from app.context import Options
from engine.ids import ChunkId, FileId
from engine.search import Copy, SearchResult
from engine.snippets import Snippet
from tests.app.test_service import Running
from tests.helpers import write_files
from ui.main_window import MainWindow
from ui.status import counts_text, service_text, watch_text

FILES = {
    "garden/tomatoes.md": "# Growing tomatoes\n\nWater the tomatoes deeply twice a week.",
    "work/incident.txt": "Incident report\n\nThe backup job failed with error 0x80070005.",
    "work/broken.txt": b"\x00\xff\x00binary",
}


def open_window(qtbot, make_session, backend: Backend) -> MainWindow:
    session = make_session(backend, start_service=True)
    session.poll_ms = (100, 200)
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    session.connect_service()
    session.start_polling()
    return win


def search(qtbot, win: MainWindow, text: str) -> list[str]:
    win.field.setText(text)
    qtbot.waitUntil(lambda: win.search.last_query == text and win.model.rowCount() > 0,
                    timeout=20_000)
    return [os.path.basename(r.display_path) for r in win.model.results]


def test_searches_and_status_come_from_a_running_service(qtbot, tmp_path, make_session,
                                                          ipc_ops):
    root = tmp_path / "root"
    write_files(root, FILES)
    offline = tmp_path / "usb-drive"  # configured, but not mounted
    svc = Running(tmp_path, [root, offline])
    svc.start()
    try:
        qtbot.waitUntil(lambda: svc.settled() is not None, timeout=30_000)
        backend = Backend(Options(data_dir=str(svc.data)), svc.config)
        win = open_window(qtbot, make_session, backend)
        session, area = win.session, win.status_area
        qtbot.waitUntil(lambda: session.service_running, timeout=10_000)

        assert search(qtbot, win, "tomatoes")[0] == "tomatoes.md"
        assert "search" in ipc_ops
        hit = win.model.results[0]
        assert hit.matched_by in ("keyword", "both")
        assert hit.snippet.text[slice(*hit.snippet.spans[0])].lower().startswith("tomato")
        qtbot.waitUntil(lambda: win.preview.text_preview is not None)
        assert len(win.preview.text_preview.spans) == 2  # highlighted in the preview

        service = svc.status()
        status = session.status
        assert (status.searchable, status.embedded, status.passages) == (
            service["searchable"], service["embedded"], service["passages"])
        assert area.counts.text() == (f"{service['searchable']} searchable  ·  "
                                      f"{service['embedded']} of {service['passages']} "
                                      "passages embedded")
        assert area.service.text() == "Up to date"
        assert area.failed.text() == "1 failed" and not area.failed.isHidden()
        assert [(f.path.endswith("broken.txt"), f.status) for f in status.failures] == [
            (True, "failed")]
        assert area.watch.text() == "".join(
            watch_text(status)) == f"{offline}: offline (folder not found (unmounted?))"

        ops = len(ipc_ops)
        win.update_action.trigger()  # "Update index now" asks the service to rescan
        qtbot.waitUntil(lambda: "rescan" in ipc_ops[ops:])

        area.pause.click()
        qtbot.waitUntil(lambda: session.status.paused and area.pause.text() == "Resume")
        write_files(root, {"late.txt": "a wombat arrived while indexing was paused"})
        # The file and its folder changed: both wait, and stay unread, while paused.
        qtbot.waitUntil(lambda: session.status.queue > 0, timeout=20_000)
        assert area.service.text() == f"Indexing paused: {session.status.queue} queued"
        assert session.status.phase == "paused"
        assert backend.search("wombat", "lexical").hits == []
        assert not area.bar.isHidden()
        area.pause.click()
        qtbot.waitUntil(lambda: area.service.text() == "Up to date", timeout=20_000)
        assert search(qtbot, win, "wombat")[0] == "late.txt"
    finally:
        svc.stop()
    qtbot.waitUntil(lambda: area.service.text() == "Service not running", timeout=20_000)
    assert not area.start.isHidden()
    ops = len(ipc_ops)
    assert search(qtbot, win, "tomatoes")[0] == "tomatoes.md"  # searched here now
    assert "search" not in ipc_ops[ops:]
    backend.close()


def test_the_gui_starts_a_service_when_none_runs(qtbot, tmp_path, make_session, config_file,
                                                 ipc_ops):
    root = tmp_path / "root"
    write_files(root, FILES)
    config_file.parent.mkdir()
    config_file.write_text(f'roots = ["{root}"]\n')
    backend = Backend(Options(data_dir=str(tmp_path / "data")))
    argv = backend.service_argv()
    assert argv[:4] == [sys.executable, "-m", "app.cli", "service"]
    assert argv[argv.index("--config") + 1] == str(config_file)
    try:
        win = open_window(qtbot, make_session, backend)
        qtbot.waitUntil(lambda: win.status_area.service.text() == "Up to date",
                        timeout=60_000)
        child = backend.launcher.child
        assert child is not None and os.getsid(child.pid) == child.pid  # own session
        log = tmp_path / "data" / backend_module.SERVICE_LOG
        assert log.stat().st_mode & 0o777 == 0o600
        assert search(qtbot, win, "backup error")[0] == "incident.txt"
        assert "search" in ipc_ops
        assert win.pages.currentWidget() is win.search_page
    finally:
        backend.stop_service()
    assert child.returncode == 0
    win.related.clear()  # the selected result's related files: asked no more
    win.session.runner.wait(20_000)  # nothing may be out when the index closes
    backend.close()


def test_the_gui_starts_a_service_on_a_postgresql_index(qtbot, tmp_path, make_session,
                                                         config_file, postgres_database):
    """A desktop of a team index: nothing in its data folder yet (the index is the
    database), and the GUI starts the service on that database and searches through it."""
    root = tmp_path / "root"
    write_files(root, FILES)
    config_file.parent.mkdir()
    config_file.write_text(f'roots = ["{root}"]\ndatabase = "{postgres_database}"\n')
    data = tmp_path / "data"
    backend = Backend(Options(data_dir=str(data), database=postgres_database))
    assert not data.exists()
    try:
        win = open_window(qtbot, make_session, backend)
        qtbot.waitUntil(lambda: win.status_area.service.text() == "Up to date",
                        timeout=90_000)
        assert data.stat().st_mode & 0o777 == 0o700
        assert search(qtbot, win, "backup error")[0] == "incident.txt"
        assert win.session.status is not None and win.session.status.files == 3
    finally:
        backend.stop_service()
    win.related.clear()
    win.session.runner.wait(20_000)
    backend.close()


def window_without_service(qtbot, tmp_path, make_session, config_file, monkeypatch,
                           **backend_args) -> tuple[Backend, MainWindow, list[str]]:
    """A window over FILES whose service cannot start, once it has given up on it;
    with the messages it shows."""
    root = tmp_path / "root"
    write_files(root, FILES)
    config_file.parent.mkdir()
    config_file.write_text(f'roots = ["{root}"]\n')
    backend = Backend(Options(data_dir=str(tmp_path / "data")), **backend_args)
    monkeypatch.setattr(backend.launcher, "argv", lambda: [
        sys.executable, "-c", "raise SystemExit('deskfind: error: no service today')"])
    win = open_window(qtbot, make_session, backend)
    messages: list[str] = []
    win.session.message.connect(messages.append)
    qtbot.waitUntil(lambda: backend.service == SERVICE_UNAVAILABLE, timeout=20_000)
    return backend, win, messages


def test_without_a_service_the_gui_indexes_and_searches_in_process(
        qtbot, tmp_path, make_session, config_file, monkeypatch, ipc_ops):
    backend, win, messages = window_without_service(qtbot, tmp_path, make_session,
                                                    config_file, monkeypatch)
    session, area = win.session, win.status_area
    qtbot.waitUntil(lambda: area.service.text() == "Background service unavailable")
    assert "no service today" in area.service.toolTip()
    assert not area.start.isHidden()  # the user can try again

    with qtbot.waitSignal(session.indexing_finished, timeout=60_000):
        win.update_action.trigger()  # the service cannot start: index here
    assert any("Indexed 3 files" in m for m in messages)
    assert search(qtbot, win, "tomatoes")[0] == "tomatoes.md"
    assert "search" not in ipc_ops
    backend.close()


# -- plain data, no Qt event loop needed ------------------------------------------------

def test_service_results_convert_back_to_what_the_gui_draws():
    raw = b"/tmp/caf\xe9/notes.txt"  # not UTF-8: the exact bytes travel as path_b64
    mtime = datetime(2024, 5, 1, 12, 30).timestamp()
    result = SearchResult(file_id=FileId(3), path=raw, display_path=os.fsdecode(raw),
                          title="Notes", ext="txt", mtime_ns=int(mtime * 1e9), score=0.8,
                          lexical=0.9, dense=0.7, chunk_id=ChunkId(9), page=4,
                          char_start=120, char_end=480,
                          snippet=Snippet("water the tomatoes", ((10, 18),), 0),
                          copies=(Copy(raw + b".bak", os.fsdecode(raw + b".bak"), "Notes",
                                       "bak", int(mtime * 1e9), 0.5),))
    hit = Hit.from_json(Hit.from_result(result).to_json())
    assert hit == Hit.from_result(result)
    assert hit.copies[0].path == raw + b".bak"
    assert hit.path == raw and hit.matched_by == result.matched_by == "both"


def test_status_lines():
    base = IndexStatus("/d", ("/r",), 10, 9, 1, 0, 40, 40, service=SERVICE_RUNNING)
    assert service_text(base) == "Up to date"
    assert service_text(_with(base, queue=12)) == "Indexing in the background: 12 queued"
    assert service_text(_with(base, embedded=30)) == \
        "Indexing in the background: 10 passages to embed"
    # Left out on purpose, not pending:
    generated = _with(base, embedded=30, not_embedded={"generated": 10})
    assert service_text(generated) == "Up to date" and not generated.background_busy
    assert "not embedded: generated text 10 passages" in counts_text(generated)
    assert service_text(_with(base, queue=3, paused=True)) == "Indexing paused: 3 queued"
    assert service_text(_with(base, embedded=30, embedding_paused="on battery power")) == \
        "Embedding paused (on battery power): 10 passages wait"
    assert service_text(_with(base, service="stopped")) == "Service not running"
    assert service_text(_with(base, service="unavailable", embedded=30,
                              embedding_paused="on battery power")) == \
        "Background service unavailable; embedding paused (on battery power): 10 passages wait"
    assert service_text(_with(base, service="stopped"), starting=True).startswith("Starting")
    watched = _with(base, watch=(WatchState("/r", "inotify"),
                                 WatchState("/net", "polling", "inotify limit reached")))
    assert watch_text(watched) == "/net: watched by polling (inotify limit reached)"


def _with(status: IndexStatus, **changes) -> IndexStatus:
    from dataclasses import replace

    return replace(status, **changes)


def test_no_service_is_started_without_folders(tmp_path):
    data = tmp_path / "data"
    backend = Backend(Options(data_dir=str(data)), tmp_path / "config.toml")
    assert backend.ensure_service() != SERVICE_RUNNING
    assert backend.launcher.child is None and not (data / backend_module.SERVICE_LOG).exists()
    backend.close()
