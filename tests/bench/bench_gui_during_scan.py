"""Does the window stay responsive while the service scans a large tree? (RELIABILITY row 28)

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_gui_during_scan.py [--files 100000]

Writes FILES small text files (as bench_first_scan.py does), starts `deskfind service`
on them and, in this process, the real main window on that index, connected to the
service and polling its status as the app does.  While the service works through the
tree, a 10 ms timer on the GUI thread records how late each tick runs (the longest a
user would wait for the window to react), and a query is typed into the search field
every two seconds (answered by the service).  Stops when every file is
keyword-searchable, or after --max-seconds.  Cold: fresh data dir and tree.  Reports
tick lateness (p50, p99, max, ticks later than 200 ms) and the searches' answer times.
Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.context import Options  # noqa: E402
from tests.bench.bench_first_scan import Service, write_tree  # noqa: E402
from ui.app import open_session  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.tasks import TaskRunner  # noqa: E402

TICK_MS = 10
TYPE_EVERY_MS = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="deskfind-guiscan-") as tmp:
        work = Path(tmp)
        root = work / "tree"
        write_tree(root, args.files)
        service = Service(work, [root])
        service.start()
        try:
            report = measure(app, service, args.files, args.max_seconds)
        finally:
            service.stop()
    print(json.dumps(report, indent=1))


def measure(app: QApplication, service: Service, files: int, max_seconds: float) -> dict:
    runner = TaskRunner()
    session = open_session(Options(data_dir=str(service.data)), runner, start_service=True,
                           config_file=service.config)
    window = MainWindow(session)
    window.show()
    session.connect_service()
    session.start_polling()

    lateness: list[float] = []
    last = [time.perf_counter()]
    answers: list[float] = []
    searchable = [0]
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now
        if done.is_set() or time.monotonic() - started > max_seconds:
            app.quit()

    def type_query() -> None:
        window.field.setText(f"token{int(time.monotonic() * 1000) % files}")

    def watch() -> None:  # off the GUI thread: the benchmark's own status polling
        while not done.is_set():
            searchable[0] = service.searchable()
            if searchable[0] >= files:
                done.set()
            time.sleep(1.0)  # a benchmark's polling interval, not synchronisation

    window.search.finished.connect(lambda q, n, seconds: answers.append(seconds * 1000))
    heartbeat, typing = QTimer(), QTimer()
    heartbeat.timeout.connect(tick)
    typing.timeout.connect(type_query)
    heartbeat.start(TICK_MS)
    typing.start(TYPE_EVERY_MS)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    app.exec()
    done.set()
    heartbeat.stop()
    typing.stop()
    elapsed = time.monotonic() - started
    session.stop_polling()
    runner.wait(20_000)
    window.close()
    late = np.array(lateness[1:] or [0.0])
    return {
        "files": files, "searchable_at_end": searchable[0], "seconds": round(elapsed, 1),
        "ticks": int(late.size),
        "tick_lateness_ms": {"p50": round(float(np.percentile(late, 50)), 1),
                             "p99": round(float(np.percentile(late, 99)), 1),
                             "max": round(float(late.max()), 1),
                             "over_200ms": int((late > 200).sum())},
        "searches_answered": len(answers),
        "search_ms": {"p50": round(float(np.percentile(answers, 50)), 1),
                      "max": round(float(max(answers)), 1)} if answers else None,
        "conditions": "cold: fresh data dir and tree; GUI offscreen in this process; the "
                      "service in its own; ends when every file is keyword-searchable",
    }


if __name__ == "__main__":
    main()
