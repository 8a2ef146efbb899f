"""The one door the GUI uses into the index: search, status, folders, settings, service.

Settings live in the shared TOML config (`app.config`), the same file `deskfind config`
and `deskfind roots` edit.  When a `deskfind service` answers on the data directory,
searches and status go to it over `app.ipc` and "update now" asks it to reload: the
service owns every write.  When none answers, the GUI can start one (`ensure_service`);
only when that fails are folders indexed here, in-process.

Searches always work: if the service goes away, they fall back to the index opened
here.  A SQLite connection and the vector index must not be used by two threads at
once, so every call on that shared `Deskfind` holds one lock; in-process indexing opens
its own `Deskfind` (WAL lets searches go on while it writes).

No Qt here: the facade is plain Python, so it can be tested and reused headless.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from app import ipc, paths
from app.config import Config, config_path, run_options, walk_rules
from app.context import Deskfind, Options
from app.present import copy_from_json
from app.service import ServiceLock
from engine.errors import EngineError, QueryError
from engine.query import parse_query
from engine.search import Copy, SearchResult
from engine.sentences import best_sentences
from engine.snippets import Snippet, match_spans
from indexer.errors import ExtractionError
from indexer.extract import extractor_for, runs_in_process
from indexer.formats.unpack import member_bytes
from indexer.pipeline import IndexReport

log = logging.getLogger("deskfind.backend")

PREVIEW_BYTES = 8 << 20  # previews read at most this much of a file
MEMBER_SOURCE_BYTES = 64 << 20  # the largest archive or mailbox a member is opened from
MAX_HIGHLIGHTS = 5000
LEGACY_SETTINGS = "settings.json"  # the GUI's own settings before config.toml
SERVICE_LOG = "service.log"
SERVICE_LOG_MAX = 1 << 20  # started over when larger; the service has no log rotation
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # where `app` is importable from

# What the GUI knows about the background service.
SERVICE_RUNNING = "running"  # it answers: searches and status go to it
SERVICE_STOPPED = "stopped"  # none answers; one may be started
SERVICE_UNAVAILABLE = "unavailable"  # starting one failed: index in-process

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class IndexingCancelled(EngineError):
    """The user stopped an indexing run; what was committed so far stays."""


@dataclass(frozen=True)
class Failure:
    """A file that could not be indexed, and why."""

    path: str
    status: str  # 'failed' or 'skipped'
    reason: str


@dataclass(frozen=True)
class WatchState:
    """How the service watches one root: 'inotify', 'polling' or 'offline'."""

    root: str
    mode: str
    note: str = ""


@dataclass(frozen=True)
class IndexStatus:
    """What the status area shows, read in one go."""

    data_dir: str
    roots: tuple[str, ...]
    files: int
    searchable: int
    failed: int
    skipped: int
    passages: int
    embedded: int
    failures: tuple[Failure, ...] = ()
    not_embedded: int = 0  # passages left unembedded on purpose (generated text)
    service: str = SERVICE_STOPPED
    service_note: str = ""  # why the service could not start
    phase: str = ""  # the service's: starting, reading, embedding, idle, paused
    current_file: str = ""
    queue: int = 0
    paused: bool = False
    embedding_paused: str = ""  # why the service holds embedding back (on battery)
    watch: tuple[WatchState, ...] = ()

    @property
    def background_busy(self) -> bool:
        """The service has files queued or passages left to embed."""
        return self.service == SERVICE_RUNNING and (self.queue > 0
                                                    or self.to_embed > 0)

    @property
    def to_embed(self) -> int:
        """Passages still waiting for a vector (not those left out on purpose)."""
        return max(0, self.passages - self.embedded - self.not_embedded)


@dataclass(frozen=True)
class Hit:
    """One search result as the GUI shows it, from the engine or from the service."""

    path: bytes
    display_path: str
    title: str
    ext: str
    mtime_ns: int
    score: float
    lexical: float
    dense: float
    matched_by: str  # 'keyword', 'meaning' or 'both'
    page: int | None
    char_start: int  # the best passage's span in the document text
    char_end: int
    snippet: Snippet
    sentence: tuple[int, int] | None = None  # the snippet's sentence closest in meaning
    copies: tuple[Copy, ...] = ()  # other files holding the same text
    ocr: bool = False  # the passage was read off a page image by OCR

    @classmethod
    def from_result(cls, r: SearchResult) -> Hit:
        return cls(r.path, r.display_path, r.title, r.ext, r.mtime_ns, r.score, r.lexical,
                   r.dense, r.matched_by, r.page, r.char_start, r.char_end, r.snippet,
                   copies=r.copies, ocr=r.ocr)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Hit:
        """A result dict made by `app.present.result_json` (the service's answer)."""
        path = base64.b64decode(d["path_b64"]) if "path_b64" in d else os.fsencode(d["path"])
        passage = d.get("passage") or {}
        modified = datetime.fromisoformat(str(d["modified"])).timestamp()
        spans = tuple((int(a), int(b)) for a, b in d.get("highlights", ()))
        snippet = Snippet(str(d.get("snippet", "")), spans, int(d.get("snippet_offset", 0)))
        return cls(path=path, display_path=str(d["path"]), title=str(d.get("title") or ""),
                   ext=str(d.get("ext", "")), mtime_ns=int(modified * 1e9),
                   score=float(d.get("score", 0.0)), lexical=float(d.get("lexical", 0.0)),
                   dense=float(d.get("dense", 0.0)), matched_by=str(d.get("matched_by", "")),
                   page=d.get("page"), char_start=int(passage.get("start", 0)),
                   char_end=int(passage.get("end", 0)), snippet=snippet,
                   copies=tuple(copy_from_json(c) for c in d.get("copies", ())),
                   ocr=bool(d.get("ocr", False)))


@dataclass(frozen=True)
class Found:
    """The hits of one search, and what was loosened to find them (None: nothing was)."""

    hits: list[Hit]
    relaxed: str | None = None


class Backend:
    """Search and manage one index on behalf of the GUI.  Safe to call from any thread."""

    def __init__(self, options: Options, config_file: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._open_dir: str | None = None  # copies of archive members being opened
        self._config_lock = threading.RLock()
        self._indexing = threading.Lock()
        self._base_options = options
        self.config = Config.load(config_file or config_path())  # ConfigError if unreadable
        self._config_mtime = _mtime(self.config.path)
        self.options = self._effective_options()
        self._df = Deskfind(self.options)  # raises EngineError for a damaged/foreign index
        self.data_dir = self._df.data_dir
        self.service = SERVICE_STOPPED
        self.service_error = ""
        self._child: subprocess.Popen[bytes] | None = None
        self._migrate_legacy()

    def _effective_options(self) -> Options:
        base = self._base_options
        return run_options(self.config, data_dir=base.data_dir, model_dir=base.model_dir,
                           threads=base.threads, precision=base.precision, fusion=base.fusion,
                           graph_threshold=base.graph_threshold)

    def close(self) -> None:
        """Close the index (a service keeps running: stop it with `stop_service`) and
        remove the copies of documents taken out of archives and mailboxes to open."""
        with self._lock:
            self._df.close()
        if self._open_dir is not None:
            shutil.rmtree(self._open_dir, ignore_errors=True)
            self._open_dir = None

    def openable_path(self, path: bytes, ext: str) -> bytes:
        """A path another program can open for a result: the file itself, or a copy of a
        document that lives inside another file (an archive member, a mail message or
        attachment), taken out into a private (0700) temporary folder.

        The container is parsed by the standard library's zip, tar and email code,
        which cannot crash the process, under the same limits as indexing.
        """
        if os.path.isfile(path):
            return path
        with self._lock:
            container = self._df.container_of(path)
        if container is None or not path.startswith(container + b"/"):
            raise EngineError(f"{os.fsdecode(path)} is not in the index (any more)")
        inner = os.fsdecode(path[len(container) + 1:])
        try:
            with open(container, "rb") as f:
                data = f.read(MEMBER_SOURCE_BYTES + 1)
            if len(data) > MEMBER_SOURCE_BYTES:
                raise EngineError(f"{os.fsdecode(container)} is too large to open from")
            member = member_bytes(data, os.fsdecode(os.path.basename(container)), inner)
        except OSError as exc:
            raise EngineError(f"cannot read {os.fsdecode(container)}: {exc.strerror}") from exc
        except ExtractionError as exc:
            raise EngineError(str(exc)) from exc
        return self._private_copy(inner, ext, member)

    def _private_copy(self, inner: str, ext: str, data: bytes) -> bytes:
        if self._open_dir is None:
            self._open_dir = tempfile.mkdtemp(prefix="deskfind-open-")  # mode 0700
        folder = tempfile.mkdtemp(dir=self._open_dir)
        name = os.path.basename(inner) or "document"
        if ext and not name.lower().endswith("." + ext):
            name = f"{name}.{ext}"  # a message named by its id opens as .eml
        target = os.path.join(folder, name)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return os.fsencode(target)

    # -- queries ------------------------------------------------------------------------

    def search(self, query: str, mode: str = "hybrid", limit: int = 50,
               strict: bool = False) -> Found:
        """Ranked documents for `query`; raises QueryError for a query that cannot run.

        Unless `strict`, phrases or exclusions that leave nothing are relaxed (see
        Searcher.query) and `Found.relaxed` says how."""
        if self.service == SERVICE_RUNNING:
            try:
                reply = self._call({"op": "search", "query": query, "mode": mode,
                                    "limit": limit, "strict": strict}, timeout=30.0)
                return Found([Hit.from_json(d) for d in reply["results"]],
                             reply.get("relaxed"))
            except ipc.ServiceUnavailable:
                log.warning("the service stopped answering; searching here")
        with self._lock:
            response = self._df.searcher().query(query, limit=limit, mode=mode,
                                                 strict=strict)
        return Found([Hit.from_result(r) for r in response.results], response.relaxed)

    def mark_sentences(self, query: str, hits: list[Hit]) -> list[Hit]:
        """`hits` with the snippet sentence closest in meaning to `query` marked."""
        snippets = [h.snippet.text for h in hits]
        spans: list[Any] | None = None
        if self.service == SERVICE_RUNNING:
            try:
                reply = self._call({"op": "best_sentences", "query": query,
                                    "passages": snippets}, timeout=30.0)
                spans = list(reply["spans"])
            except ipc.ServiceUnavailable:
                log.warning("the service stopped answering; marking sentences here")
        if spans is None:
            with self._lock:
                spans = best_sentences(self._df.embedder(), query, snippets)
        return [replace(h, sentence=tuple(span) if span else None)  # type: ignore[arg-type]
                for h, span in zip(hits, spans, strict=True)]

    @staticmethod
    def highlight_terms(query: str) -> tuple[str, ...]:
        """The words a preview should highlight for `query` (none if it cannot parse)."""
        try:
            return parse_query(query).highlight_terms
        except QueryError:
            return ()

    @staticmethod
    def match_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
        """Where `terms` occur in `text`, by the same rule as result snippets."""
        return match_spans(text, terms)[:MAX_HIGHLIGHTS]

    def document_text(self, path: bytes, ext: str) -> str:
        """A document's text as the indexer read it, so passage offsets line up.

        Plain text is read again from the file.  Formats whose parsers the indexer
        isolates in worker processes (HTML, office, e-books…) are never parsed in the
        GUI process: their text is put back together from the passages the index holds.
        So is the text of a document inside another file (an archive member, a mail
        message), whose virtual path is no file to read.
        """
        extract = extractor_for(ext)
        if extract is None or not runs_in_process(ext) or not os.path.isfile(path):
            with self._lock:
                text = self._df.document_text(path)
            if text is None:
                raise EngineError(f"{os.fsdecode(path)} is not in the index (any more)")
            return text
        try:
            with open(path, "rb") as f:
                data = f.read(PREVIEW_BYTES)
            return extract(data, os.fsdecode(os.path.basename(path))).text
        except OSError as exc:
            raise EngineError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        except ExtractionError as exc:
            raise EngineError(str(exc)) from exc

    def status(self) -> IndexStatus:
        """The service's status when one answers (noticing one started elsewhere), else
        counts read here."""
        self._reap_child()
        if self.service != SERVICE_RUNNING and self._ping():
            self.service, self.service_error = SERVICE_RUNNING, ""
        if self.service == SERVICE_RUNNING:
            try:
                return self._service_status(self._call({"op": "status"}, timeout=5.0))
            except ipc.ServiceUnavailable as exc:
                log.warning("%s", exc)
        return self._local_status()

    def _service_status(self, d: dict[str, Any]) -> IndexStatus:
        return IndexStatus(
            data_dir=str(self.data_dir), roots=tuple(self.roots()), files=int(d["files"]),
            searchable=int(d["keyword_indexed"]), failed=int(d["failed"]),
            skipped=int(d["skipped"]), passages=int(d["chunks"]),
            embedded=int(d["embedded_chunks"]),
            not_embedded=sum(int(n) for n in d.get("not_embedded", {}).values()),
            failures=tuple(
                Failure(f["path"], f["status"], f["reason"]) for f in d.get("failures", ())),
            service=SERVICE_RUNNING, phase=str(d.get("phase", "")),
            current_file=str(d.get("current_file", "")), queue=int(d.get("queue", 0)),
            paused=bool(d.get("paused", False)),
            embedding_paused=str(d.get("embedding_paused") or ""), watch=tuple(
                WatchState(root, str(w.get("mode", "")), str(w.get("note", "")))
                for root, w in sorted(d.get("watch", {}).items())))

    def _local_status(self) -> IndexStatus:
        with self._lock:
            counts = self._df.counts()
            queue = self._df.queue_length()
            failures = tuple(Failure(*row) for row in self._df.failures(200))
            not_embedded = sum(self._df.unembedded().values())
        return IndexStatus(
            data_dir=str(self.data_dir), roots=tuple(self.roots()), files=counts.files,
            searchable=counts.indexed, failed=counts.failed, skipped=counts.skipped,
            passages=counts.chunks, embedded=counts.embedded, failures=failures,
            not_embedded=not_embedded, service=self.service, service_note=self.service_error,
            queue=queue)

    # -- folders and settings -----------------------------------------------------------

    def roots(self) -> list[str]:
        """The configured folders, re-read if another program changed the settings."""
        return list(self._fresh_config().get("roots"))

    def settings(self) -> dict[str, Any]:
        """Every setting's current value, by key."""
        config = self._fresh_config()
        return {key: config.get(key) for key in
                ("roots", "exclude", "include_hidden", "model_dir", "embedding_precision",
                 "threads")}

    def add_root(self, path: Path | str) -> None:
        """Add a folder to the settings; a running service starts watching it."""
        root = os.path.abspath(os.path.expanduser(os.fspath(path)))
        refusal = walk_rules(self.config).refusal(root, is_dir=True)
        if refusal is not None:
            raise EngineError(refusal)
        self._edit_roots(lambda roots: roots if root in roots else [*roots, root])

    def remove_root(self, path: Path | str | bytes) -> int:
        """Forget a folder and the files indexed under it.

        Returns how many files were dropped here; with a service running it drops them
        itself, and this returns 0.
        """
        root = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
        self._edit_roots(lambda roots: [r for r in roots if r != root])
        if self.service == SERVICE_RUNNING:
            return 0
        with self._lock:
            return self._df.remove_roots([os.fsencode(root)])

    def _edit_roots(self, change: Callable[[list[str]], list[str]]) -> None:
        with self._config_lock:
            config = self._editable_config()
            config.set("roots", change(config.get("roots")))
            self._save_config(config)
        self._notify_service()

    def save_settings(self, changes: dict[str, Any]) -> str:
        """Store changed settings and tell the service; returns what the user should know.

        A changed model or thread count reopens the index here and restarts a running
        service, which reads them only when it starts.
        """
        with self._config_lock:
            config = self._editable_config()
            for key, value in changes.items():
                config.set(key, value)
            self._save_config(config)
        with self._lock:
            old = self.options
            self.options = self._effective_options()
            engine_changed = (old.model_dir, old.precision, old.threads) != (
                self.options.model_dir, self.options.precision, self.options.threads)
            if engine_changed:
                self._df.close()
                self._df = Deskfind(self.options)
        if self.service == SERVICE_RUNNING and engine_changed:
            self.stop_service()
            if self.ensure_service() != SERVICE_RUNNING:
                return f"Settings saved; the background service did not restart: " \
                       f"{self.service_error}"
            return "Settings saved; the background service restarted with them."
        self._notify_service()
        return "Settings saved."

    def _fresh_config(self) -> Config:
        """The settings, re-read if the file changed (treat as read-only: it is shared)."""
        with self._config_lock:
            mtime = _mtime(self.config.path)
            if mtime != self._config_mtime:
                try:
                    self.config = Config.load(self.config.path)
                    self._config_mtime = mtime
                except EngineError as exc:  # half-written by an editor: keep what we had
                    log.warning("%s", exc)
            return self.config

    def _editable_config(self) -> Config:
        """A copy to change: readers keep seeing the saved settings until it is saved."""
        current = self._fresh_config()
        return Config(current.path, dict(current.values))

    def _save_config(self, config: Config) -> None:
        config.save()
        self.config, self._config_mtime = config, _mtime(config.path)

    def _migrate_legacy(self) -> None:
        """Once: take roots from the index and choices from settings.json (the GUI's
        settings before the shared config) into the config, where nothing is set yet."""
        legacy = self.data_dir / LEGACY_SETTINGS
        values: dict[str, Any] = {}
        if "roots" not in self.config.values:
            with self._lock:
                values["roots"] = [os.fsdecode(r) for r in self._df.roots()]
        if legacy.is_file():
            try:
                raw = json.loads(legacy.read_text(encoding="utf-8"))
                values.update(exclude=[str(p) for p in raw.get("exclude_patterns") or ()],
                              model_dir=str(raw.get("model_dir") or ""),
                              threads=max(0, int(raw.get("threads") or 0)))
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                log.warning("ignoring unreadable %s: %s", legacy, exc)
        values = {k: v for k, v in values.items() if v and k not in self.config.values}
        try:
            if values:
                self.save_settings(values)
            if legacy.is_file():
                legacy.rename(legacy.with_name(LEGACY_SETTINGS + ".migrated"))
        except OSError as exc:
            log.warning("could not move old settings into %s: %s", self.config.path, exc)

    # -- indexing -----------------------------------------------------------------------

    def index_now(self, progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> IndexReport | None:
        """Bring the index up to date with every root.  Blocks; run it off the GUI thread.

        With a service running this only asks it to reload and returns None.  Otherwise
        indexes here, on its own connection so searches keep working meanwhile.  Roots
        that are missing right now (an unmounted drive) are left alone, not emptied.
        """
        if self._ping():
            self.service = SERVICE_RUNNING
            self._notify_service()
            return None
        if not self._indexing.acquire(blocking=False):
            raise EngineError("indexing is already running")
        try:
            roots = [Path(r) for r in self.roots()]
            present = [r for r in roots if r.exists()]
            for missing in set(roots) - set(present):
                log.warning("root not found, left as it was: %s", missing)

            def report(phase: str, done: int, total: int) -> None:
                if cancel is not None and cancel.is_set():
                    raise IndexingCancelled("indexing stopped")
                if progress is not None:
                    progress(phase, done, total)

            with Deskfind(self.options) as indexing:
                return indexing.index(present, report, walk_rules(self._fresh_config()))
        finally:
            self._indexing.release()

    @property
    def indexing(self) -> bool:
        return self._indexing.locked()

    # -- the background service ---------------------------------------------------------

    def ensure_service(self, timeout: float = 60.0) -> str:
        """Use a running service, or start one when there are folders to watch.

        Returns the new service state; `service_error` says why when it is not running.
        """
        if self._ping():
            self.service, self.service_error = SERVICE_RUNNING, ""
        elif self.roots():
            self._start_service(timeout)
        return self.service

    def _start_service(self, timeout: float) -> None:
        """Start `deskfind service` detached (it outlives the GUI) and wait for it."""
        log_path = self.data_dir / SERVICE_LOG
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(SOURCE_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        try:
            if log_path.exists() and log_path.stat().st_size > SERVICE_LOG_MAX:
                log_path.unlink()
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as out:
                child = subprocess.Popen(self.service_argv(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        except OSError as exc:
            self._service_failed(f"cannot start the background service: {exc}")
            return
        self._child = child
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ping():
                self.service, self.service_error = SERVICE_RUNNING, ""
                return
            if child.poll() is not None:
                self._child = None
                self._service_failed("the background service stopped: "
                                     + _last_line(log_path, f"exit status {child.returncode}"))
                return
            time.sleep(0.1)  # a worker thread waiting for another process
        self._service_failed("the background service did not answer in time")

    def service_argv(self) -> list[str]:
        """The command that starts the service on this index and settings file."""
        bundle = paths.frozen_executable()
        program = [bundle] if bundle else [sys.executable, "-m", "app.cli"]
        argv = [*program, "service", "--config",
                str(self.config.path), "--data-dir", str(self.data_dir)]
        if self._base_options.model_dir:  # chosen on the command line: passed on
            argv += ["--model-dir", self._base_options.model_dir]
        if self._base_options.precision:
            argv += ["--precision", self._base_options.precision]
        if self._base_options.threads:
            argv += ["--threads", str(self._base_options.threads)]
        return argv

    def stop_service(self, timeout: float = 30.0) -> None:
        """Ask the service to stop and wait until it has let go of the index."""
        with contextlib.suppress(ipc.ServiceUnavailable):
            ipc.call(self.data_dir, {"op": "stop"}, timeout=5.0)
        self.service = SERVICE_STOPPED
        child, self._child = self._child, None
        if child is not None:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # started elsewhere: wait for its lock
            try:
                with ServiceLock(self.data_dir):
                    return
            except EngineError:
                time.sleep(0.1)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the service's indexing; changes keep being queued."""
        self._call({"op": "pause" if paused else "resume"})

    def _notify_service(self) -> None:
        if self.service == SERVICE_RUNNING:
            try:
                self._call({"op": "rescan"})
            except ipc.ServiceUnavailable as exc:
                log.warning("%s", exc)

    def _call(self, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        try:
            return ipc.call(self.data_dir, request, timeout=timeout)
        except ipc.ServiceUnavailable:
            if self.service == SERVICE_RUNNING:
                self.service = SERVICE_STOPPED
            raise

    def _ping(self) -> bool:
        try:
            ipc.call(self.data_dir, {"op": "ping"}, timeout=2.0)
            return True
        except EngineError:
            return False

    def _service_failed(self, why: str) -> None:
        log.warning("%s", why)
        self.service, self.service_error = SERVICE_UNAVAILABLE, why

    def _reap_child(self) -> None:
        """Collect a service we started that has exited (no zombie is left behind)."""
        child = self._child
        if child is not None and child.poll() is not None:
            self._child = None
            log.warning("the background service exited with status %s", child.returncode)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _last_line(path: Path, default: str) -> str:
    try:
        lines: Iterable[str] = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return default
    found = [line.strip() for line in lines if line.strip()]
    return found[-1] if found else default
