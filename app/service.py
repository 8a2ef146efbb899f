"""`deskfind service`: keeps the index in step with the roots and answers queries.

One process owns every write.  A watchdog observer turns file events into paths on a
persistent queue (a table in the index, so a killed service resumes where it stopped);
the main loop re-checks queued paths (phase 1: text and FTS, so files are keyword-
searchable within seconds), then embeds passages in small batches (phase 2) whenever
the queue is empty.  Searches arrive over `app.ipc` and run on their own read
connection, so they never wait for indexing.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import signal
import sqlite3
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from app import logs
from app.config import Config, walk_rules
from app.context import Deskfind, Options
from app.errors import UsageError
from app.ipc import Server
from app.power import PowerSource, SysfsPower, embedding_pause_reason, set_idle_io_priority
from app.values import Failure, Found, Hit, IndexStatus, Phase, WatchState
from engine.errors import EngineError, StoreError
from engine.query import parse_filters
from engine.sentences import best_sentences
from indexer.pipeline import Indexer, IndexReport
from indexer.watch import Watcher

log = logging.getLogger("deskfind.service")

QUIET_SECONDS = 0.3  # a burst of events is handled once it pauses this long…
MAX_DEBOUNCE_SECONDS = 2.0  # …or after this long, whichever comes first
BATCH = 256
MAX_MARKED = 20  # passages per sentence-marking request
RETRY_FIRST_SECONDS = 1.0  # after a failed step the loop waits this long, doubling…
RETRY_MAX_SECONDS = 60.0  # …up to this


def _transient(exc: Exception) -> bool:
    """Whether an error is the environment's (busy, locked, full, gone), not a bug."""
    return isinstance(exc, (StoreError, sqlite3.OperationalError, OSError))


class ServiceLock:
    """An exclusive lock on the data directory: one service (one writer) at a time."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "service.lock"
        self.fd = -1

    def __enter__(self) -> ServiceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self.fd)
            raise StoreError(f"a Deskfind service is already running on {self.path.parent}") \
                from exc
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class Service:
    """The background indexer and query server for one data directory."""

    def __init__(self, options: Options, config: Config,
                 power: PowerSource | None = None) -> None:
        self.options = options
        self.config = config
        self.power = power or SysfsPower()
        self.embedding_paused = ""  # why embedding waits ("" when it does not)
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self._pending: set[bytes] = set()
        self._pending_lock = threading.Lock()
        self._search_lock = threading.Lock()
        self._reload = False
        self._rescan = False
        self.paused = False  # honoured between work steps; events are still queued
        self.current = ""
        self.phase = Phase.STARTING
        self.report = IndexReport()
        self._reported: set[tuple[object, ...]] = set()  # bugs with a crash report
        self.watcher = Watcher(self._on_path)

    # -- events ---------------------------------------------------------------------------

    def _on_path(self, path: bytes) -> None:
        with self._pending_lock:
            self._pending.add(path)
        self.wake.set()

    def _take_pending(self) -> set[bytes]:
        with self._pending_lock:
            taken, self._pending = self._pending, set()
        return taken

    def _debounce(self) -> None:
        """Let a burst of events finish before working on it."""
        started = time.monotonic()
        while time.monotonic() - started < MAX_DEBOUNCE_SECONDS:
            if self.stop_event.is_set():
                return
            self.wake.clear()
            if not self.wake.wait(QUIET_SECONDS):
                return

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "ping":
            return {"pid": os.getpid()}
        if op == "search":
            with self._search_lock:
                response = self.reader.searcher(request.get("fusion") or None).query(
                    str(request.get("query", "")), limit=int(request.get("limit", 10)),
                    mode=str(request.get("mode", "hybrid")),
                    strict=bool(request.get("strict", False)))
            return Found([Hit.from_result(r) for r in response.results],
                         response.relaxed).to_json()
        if op == "best_sentences":
            passages = [str(p) for p in request.get("passages", [])][:MAX_MARKED]
            with self._search_lock:
                if self.stop_event.is_set():  # shutting down: never start the model now
                    return {"spans": [None] * len(passages)}
                spans = best_sentences(self.reader.embedder(), str(request.get("query", "")),
                                       passages)
            return {"spans": [list(s) if s else None for s in spans]}
        if op == "status":
            return self.status()
        if op == "related":
            try:
                path = base64.b64decode(str(request.get("path_b64", "")), validate=True)
            except ValueError as exc:
                raise EngineError("bad request: path_b64 is not base64") from exc
            filters = str(request.get("filters", "")).strip()
            with self._search_lock:
                found = self.reader.related(
                    path, limit=int(request.get("limit", 10)),
                    method=str(request.get("method", "mean")),
                    filters=parse_filters(filters) if filters else None)
            return {"related": [r.to_json() for r in found]}
        if op == "duplicates":
            with self._search_lock:
                groups = self.reader.duplicate_groups()
            return {"groups": [g.to_json() for g in groups]}
        if op == "reload":
            self.config = Config.load(self.config.path)
            self._reload = True
            self.wake.set()
            return {}
        if op == "rescan":  # "update now": re-read every root, not only new ones
            self.config = Config.load(self.config.path)
            self._reload = self._rescan = True
            self.wake.set()
            return {}
        if op in ("pause", "resume"):
            self.paused = op == "pause"
            self.wake.set()
            return {}
        if op == "stop":
            self.stop_event.set()
            self.wake.set()
            return {}
        raise UsageError(f"unknown request '{op}'")

    def status(self) -> dict[str, Any]:
        with self._search_lock:
            counts = self.reader.counts()
            queued = self.reader.queue_length()
            failures = self.reader.failures()
            unembedded = self.reader.unembedded()
        watched = sorted(self.watcher.roots.items())
        return IndexStatus(
            data_dir=str(self.reader.data_dir), roots=tuple(r for r, _ in watched),
            files=counts.files, searchable=counts.indexed, failed=counts.failed,
            skipped=counts.skipped, passages=counts.chunks, embedded=counts.embedded,
            failures=tuple(Failure(*row) for row in failures), not_embedded=unembedded,
            phase=self.phase, current_file=self.current, queue=queued, paused=self.paused,
            embedding_paused=self.embedding_paused,
            vector_index=self.reader.vector_index_state(),
            watch=tuple(WatchState(r, w.mode, w.note) for r, w in watched)).to_json()

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        data_dir = Deskfind.resolve_data_dir(self.options)
        with ServiceLock(data_dir):
            with contextlib.suppress(OSError):  # not allowed: run at normal priority
                os.nice(max(0, int(self.config.get("nice"))))
            # The disk serves the indexer (and the extraction workers it starts, which
            # inherit this) only when nothing else asks for it.
            if not set_idle_io_priority():
                log.info("could not lower the I/O priority (not Linux?)")
            self.writer = Deskfind(self.options)
            self.reader = Deskfind(self.options, readonly=True)
            self.reader.share_model_with(self.writer)
            server = Server(data_dir, self.handle)
            previous = self._stop_on_sigterm()
            try:
                self._loop()
            finally:
                server.close()
                self.watcher.stop()
                # A request still embedding on a handler thread must finish first: the
                # process exiting under onnxruntime's threads aborts it.
                with self._search_lock:
                    self._save_vector_cache()
                    self.reader.close()
                self.writer.close()
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
        return 0

    def _stop_on_sigterm(self) -> Any:
        """Make SIGTERM (logout, systemd, `kill`) a graceful stop: the current file
        finishes, its transaction commits, the vector cache is saved, the socket goes."""
        if threading.current_thread() is not threading.main_thread():
            return None  # signals reach the main thread only (tests run services on others)

        def stop(_signum: int, _frame: object) -> None:
            self.stop_event.set()
            self.wake.set()

        return signal.signal(signal.SIGTERM, stop)

    def _save_vector_cache(self) -> None:
        try:
            self.reader.save_vector_cache()
        except (EngineError, OSError, sqlite3.Error) as exc:  # the next start rebuilds it
            log.warning("could not save the vector cache: %s", exc)

    def _roots(self) -> list[str]:
        return [os.path.abspath(os.path.expanduser(r)) for r in self.config.get("roots")]

    def _watch_roots(self, full_scan: bool) -> None:
        roots = self._roots()
        for gone in set(self.watcher.roots) - set(roots):
            self.watcher.unwatch(gone)
            self.writer.remove_roots([os.fsencode(gone)])
        for root in roots:
            if full_scan or root not in self.watcher.roots:
                self.watcher.watch(root)
                self.writer.add_roots([os.fsencode(root)])
        self.last_reconcile = time.monotonic()

    def _loop(self) -> None:
        """Work until stopped.  No error ends it: a busy index (another writer), a full
        disk or a bug in one step is logged, waited out with growing pauses, retried."""
        interval = max(1, int(self.config.get("reconcile_minutes"))) * 60
        delay = RETRY_FIRST_SECONDS
        started = False
        with self.writer.indexer(walk_rules(self.config), self.stop_event,
                                 skip_generated=not self.config.get("embed_generated_text"),
                                 ocr=self.config.get("ocr")) as indexer:
            while not self.stop_event.is_set():
                try:
                    if not started:
                        self._watch_roots(full_scan=True)
                        self._warm_vector_index()
                        started = True
                    busy = self._step(indexer, interval)
                    delay = RETRY_FIRST_SECONDS
                except Exception as exc:
                    self._failed_step(exc, delay)
                    self.phase, self.current = Phase.WAITING, ""
                    self.stop_event.wait(delay)
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
                if busy:
                    continue
                self.phase, self.current = (Phase.PAUSED if self.paused else Phase.IDLE), ""
                self._settle_vector_index()
                if not self.stop_event.is_set():
                    self.wake.wait(5.0)

    def _warm_vector_index(self) -> None:
        """Load the vector index before the first query asks: where its graph must be
        built (minutes at a million passages) the build starts now, on a thread, and
        queries meanwhile get an exact scan.  First ask the OS to read the index files
        in (at this process's idle I/O priority), so the first searches after a start
        do not wait for the disk."""
        self.reader.preload()
        if self.reader.counts().embedded == 0:
            return  # nothing to load; no reason to load the model for it
        try:
            with self._search_lock:
                self.reader.dense().refresh()
        except (EngineError, OSError, sqlite3.Error) as exc:  # the first query tries again
            log.warning("could not load the vector index yet: %s", exc)

    def _settle_vector_index(self) -> None:
        """Adopt and save a graph finished in the background, off the query path."""
        if self.reader.vector_index_state() == "building":
            with self._search_lock:
                self.reader.settle_vector_index()

    def _embedding_pause_reason(self) -> str:
        return embedding_pause_reason(self.config.get("pause_on_battery"), self.power)

    def _failed_step(self, exc: Exception, delay: float) -> None:
        """Log a step that failed; a bug (not the environment's doing) also leaves a
        crash report, once per place it happens, though the loop carries on."""
        at = f" at {self.current}" if self.current else ""
        if _transient(exc):
            log.warning("indexing stopped%s (%s); retrying in %g s", at, exc, delay)
            return
        frames = traceback.extract_tb(exc.__traceback__)
        where = (type(exc).__name__, *((frames[-1].filename, frames[-1].lineno)
                                       if frames else ()))
        report = None
        if where not in self._reported:
            self._reported.add(where)
            report = logs.write_crash_report("service", exc)
        log.error("indexing stopped%s (%s); retrying in %g s%s", at, exc, delay,
                  f"; crash report: {report}" if report else "", exc_info=exc)

    def _step(self, indexer: Indexer, interval: float) -> bool:
        """Take in events, keep the watches alive, do one piece of work; whether there
        may be more work right away."""
        self._absorb_events(indexer)
        for root in self.watcher.dead_roots():
            log.warning("restarting the watch on %s", root)
            self.watcher.watch(root)
            self._on_path(os.fsencode(root))
        if time.monotonic() - self.last_reconcile > interval:
            self._watch_roots(full_scan=True)
        return not self.paused and self._work(indexer)

    def _absorb_events(self, indexer: Indexer) -> None:
        if not self.wake.is_set():
            return
        self._debounce()
        paths = self._take_pending()
        if self._reload:
            self._reload = False
            indexer.rules = walk_rules(self.config)
            self._watch_roots(full_scan=self._rescan)
            self._rescan = False
        if paths:
            try:
                self.writer.enqueue(paths)
            except BaseException:  # not queued yet: keep them for the next try
                with self._pending_lock:
                    self._pending |= paths
                self.wake.set()
                raise

    def _work(self, indexer: Indexer) -> bool:
        """One step of work; False when there is nothing left to do."""
        roots = [os.fsencode(r) for r in self._roots()]
        batch = self.writer.queued(BATCH)
        if batch:
            self.phase = Phase.READING
            self.current = os.fsdecode(batch[0])
            indexer.sync_paths(batch, roots, self.report)
            return True
        if indexer.fingerprint_pending(limit=BATCH):  # an index from before fingerprints
            return True
        self.embedding_paused = self._embedding_pause_reason()
        if self.embedding_paused:
            return False  # the idle wait checks again every few seconds
        self.phase = Phase.EMBEDDING
        done = indexer.embed_pending(self.writer.embedder(), self.report, limit=64)
        if 0 < done < 64:  # caught up: bring the vector cache file up to date once
            # The searching side's index, not a second copy: at a million passages
            # each copy is hundreds of megabytes.
            with self._search_lock:
                dense = self.reader.dense()
                dense.refresh()
            dense.save()
        return bool(done)
