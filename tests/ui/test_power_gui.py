"""The window indexing in its own process (no service could start) on battery power:
text first, embedding held with the reason in the status line, resumed when plugged in."""

from __future__ import annotations

import sys

from app.backend import SERVICE_UNAVAILABLE, Backend
from app.context import Options
from tests.app.test_power import FakePower
from tests.helpers import write_files
from tests.ui.test_service_gui import FILES, open_window, search


def test_on_battery_the_window_holds_embedding_and_resumes_when_plugged_in(
        qtbot, tmp_path, make_session, config_file, monkeypatch):
    root = tmp_path / "root"
    write_files(root, FILES)
    config_file.parent.mkdir()
    config_file.write_text(f'roots = ["{root}"]\n')
    power = FakePower(battery=True)
    backend = Backend(Options(data_dir=str(tmp_path / "data")), power=power)
    monkeypatch.setattr(backend.launcher, "argv", lambda: [
        sys.executable, "-c", "raise SystemExit('deskfind: error: no service today')"])
    win = open_window(qtbot, make_session, backend)
    session, area = win.session, win.status_area
    messages: list[str] = []
    session.message.connect(messages.append)
    qtbot.waitUntil(lambda: backend.service == SERVICE_UNAVAILABLE, timeout=20_000)

    with qtbot.waitSignal(session.indexing_finished, timeout=60_000) as finished:
        win.update_action.trigger()  # no service: this window indexes
    assert finished.args[0].embedding_paused == "on battery power"
    assert any("Indexed 3 files" in m and "embedding paused (on battery power)" in m
               for m in messages)
    qtbot.waitUntil(lambda: "embedding paused (on battery power)" in area.service.text())
    assert area.service.text().startswith("Background service unavailable")
    assert session.status is not None and session.status.embedded == 0
    assert search(qtbot, win, "tomatoes")[0] == "tomatoes.md"  # keywords work meanwhile

    power.battery = False  # plugged in: the window embeds without being asked
    qtbot.waitUntil(lambda: session.status is not None and not session.indexing
                    and session.status.passages > 0
                    and session.status.embedded == session.status.passages, timeout=60_000)
    qtbot.waitUntil(lambda: area.service.text() == "Background service unavailable")
    backend.close()
