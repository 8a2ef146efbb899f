import errno
import os
import threading

import indexer.watch as watch_module
from indexer.watch import Watcher
from tests.helpers import wait_until


class _Collector:
    def __init__(self) -> None:
        self.paths: set[bytes] = set()
        self.lock = threading.Lock()

    def __call__(self, path: bytes) -> None:
        with self.lock:
            self.paths.add(path)

    def saw(self, path) -> bool:
        with self.lock:
            return os.fsencode(path) in self.paths


def test_native_watch_reports_creates_and_moves(tmp_path):
    seen = _Collector()
    watcher = Watcher(seen)
    try:
        assert watcher.watch(str(tmp_path)).mode == "inotify"
        (tmp_path / "a.txt").write_text("x")
        wait_until(lambda: seen.saw(tmp_path / "a.txt"), timeout=10)
        (tmp_path / "a.txt").rename(tmp_path / "b.txt")
        wait_until(lambda: seen.saw(tmp_path / "b.txt"), timeout=10)
    finally:
        watcher.stop()


def test_inotify_limit_falls_back_to_polling_and_says_so(tmp_path, monkeypatch):
    class FullInotify(watch_module.Observer):  # type: ignore[misc,valid-type]
        def start(self):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watch_module, "Observer", FullInotify)
    seen = _Collector()
    watcher = Watcher(seen, poll_interval=0.2)
    try:
        state = watcher.watch(str(tmp_path))
        assert state.mode == "polling" and "fs.inotify.max_user_watches" in state.note
        (tmp_path / "polled.txt").write_text("x")
        wait_until(lambda: seen.saw(tmp_path / "polled.txt"), timeout=20)
    finally:
        watcher.stop()


def test_a_dead_observer_and_a_returning_root_are_reported(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    watcher = Watcher(_Collector())
    try:
        watcher.watch(str(root))
        assert watcher.dead_roots() == []
        observer = watcher._observers[str(root)]
        observer.stop()
        observer.join()
        assert watcher.dead_roots() == [str(root)]
        assert watcher.watch(str(root)).mode == "inotify"
        root.rename(tmp_path / "away")
        assert watcher.watch(str(root)).mode == "offline"
        (tmp_path / "away").rename(root)
        assert watcher.dead_roots() == [str(root)]  # back: the service re-watches and rescans
    finally:
        watcher.stop()
