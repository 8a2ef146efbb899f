"""The task runner: work off the GUI thread, outcomes back on it, stale answers dropped."""

from __future__ import annotations

import sys
import threading

from ui.tasks import TaskRunner


def _runner(qtbot) -> TaskRunner:  # qtbot brings up the QApplication
    return TaskRunner()


def test_work_runs_off_the_gui_thread_and_its_result_comes_back_on_it(qtbot):
    runner = _runner(qtbot)
    ran_on, delivered_on, got = [], [], []

    def op():
        ran_on.append(threading.current_thread())
        return 42

    runner.run(op, lambda r: (delivered_on.append(threading.current_thread()), got.append(r)))
    qtbot.waitUntil(lambda: got == [42], timeout=5000)
    assert ran_on[0] is not threading.main_thread()
    assert delivered_on == [threading.main_thread()]
    runner.wait(5000)


def test_an_error_reaches_its_handler_or_the_excepthook_never_vanishes(qtbot, monkeypatch):
    runner = _runner(qtbot)
    errors, hooked = [], []

    def fail():
        raise ValueError("bad query")

    runner.run(fail, lambda r: None, errors.append)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert isinstance(errors[0], ValueError) and str(errors[0]) == "bad query"
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc[1]))
    runner.run(fail, lambda r: None)  # no handler: the app's excepthook hears of it
    qtbot.waitUntil(lambda: len(hooked) == 1, timeout=5000)
    assert isinstance(hooked[0], ValueError)
    runner.wait(5000)


def test_an_older_answer_never_replaces_a_newer_one(qtbot):
    runner = _runner(qtbot)
    release_old = threading.Event()
    got = []

    def old():
        release_old.wait(10)
        return "old"

    runner.run(old, got.append, key="search")
    runner.run(lambda: "new", got.append, key="search")
    qtbot.waitUntil(lambda: got == ["new"], timeout=5000)
    release_old.set()
    runner.wait(5000)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert got == ["new"]  # the old one finished later and was dropped
    runner.run(lambda: "other key", got.append, key="status")
    runner.drop("status")  # e.g. the window closed: nothing may arrive
    runner.wait(5000)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert got == ["new"]


def test_progress_arrives_on_the_gui_thread_in_order_and_busy_is_signalled(qtbot):
    runner = _runner(qtbot)
    busy, steps, done = [], [], []
    runner.busy_changed.connect(busy.append)

    def op(report):
        for i in range(5):
            report("scan", i)
        return "finished"

    runner.run(op, done.append,
               on_progress=lambda phase, i: steps.append((phase, i,
                                                          threading.current_thread())))
    qtbot.waitUntil(lambda: done == ["finished"], timeout=5000)
    assert [(p, i) for p, i, _ in steps] == [("scan", i) for i in range(5)]
    assert {t for _, _, t in steps} == {threading.main_thread()}
    assert busy == [True, False]
    runner.wait(5000)
