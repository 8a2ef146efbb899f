"""Watching roots with watchdog: events become paths to re-check, bursts coalesce.

Events are hints, not truth: a path that changed is queued and the indexer looks at the
disk to decide what happened.  That makes coalescing safe (ten events for one file are
one re-check) and lets a periodic reconcile scan repair whatever watchdog dropped.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger("deskfind.watch")

INOTIFY_LIMIT_HINT = (
    "the inotify watch limit is reached (sysctl fs.inotify.max_user_watches); "
    "watching by polling instead"
)


@dataclass
class RootWatch:
    """How one root is watched: 'inotify' (native events), 'polling' or 'offline'."""

    root: str
    mode: str
    note: str = ""


class _Handler(FileSystemEventHandler):
    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads do not change anything
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if path:
                self.sink(os.fsencode(path))


class Watcher:
    """Observers for a set of roots, restarted if their threads die."""

    def __init__(self, on_path: Callable[[bytes], None], *, poll_interval: float = 5.0) -> None:
        self.on_path = on_path
        self.poll_interval = poll_interval
        self._observers: dict[str, BaseObserver] = {}
        self.roots: dict[str, RootWatch] = {}
        self._lock = threading.Lock()

    def watch(self, root: str) -> RootWatch:
        """Start watching `root` natively, falling back to polling when inotify is full."""
        with self._lock:
            self._stop(root)
            if not os.path.isdir(root):
                state = RootWatch(root, "offline", "folder not found (unmounted?)")
            else:
                state = self._start(root)
            self.roots[root] = state
            return state

    def _start(self, root: str) -> RootWatch:
        handler = _Handler(self.on_path)
        observer = Observer()
        try:
            observer.schedule(handler, root, recursive=True)
            observer.start()
            self._observers[root] = observer
            return RootWatch(root, "inotify")
        except OSError as exc:
            observer.stop()
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                return RootWatch(root, "offline", f"cannot watch: {exc.strerror}")
            log.warning("%s: %s", root, INOTIFY_LIMIT_HINT)
        poller = PollingObserver(timeout=self.poll_interval)
        poller.schedule(handler, root, recursive=True)
        poller.start()
        self._observers[root] = poller
        return RootWatch(root, "polling", INOTIFY_LIMIT_HINT)

    def unwatch(self, root: str) -> None:
        with self._lock:
            self._stop(root)
            self.roots.pop(root, None)

    def _stop(self, root: str) -> None:
        observer = self._observers.pop(root, None)
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def dead_roots(self) -> list[str]:
        """Roots whose observer thread died, or whose offline folder came back."""
        with self._lock:
            dead = [r for r, o in self._observers.items() if not o.is_alive()]
            back = [r for r, s in self.roots.items() if s.mode == "offline" and os.path.isdir(r)]
        return dead + back

    def stop(self) -> None:
        with self._lock:
            for root in list(self._observers):
                self._stop(root)
