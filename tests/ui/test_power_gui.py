"""The window indexing in its own process (no service could start) on battery power:
text first, embedding held with the reason in the status line, resumed when plugged in."""

from __future__ import annotations

from tests.app.test_power import FakePower
from tests.ui.test_service_gui import search, window_without_service


def test_on_battery_the_window_holds_embedding_and_resumes_when_plugged_in(
        qtbot, tmp_path, make_session, config_file, monkeypatch):
    power = FakePower(battery=True)
    backend, win, messages = window_without_service(qtbot, tmp_path, make_session,
                                                    config_file, monkeypatch, power=power)
    session, area = win.session, win.status_area

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
