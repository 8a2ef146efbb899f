"""The one door the GUI uses into the index: search, status, folders, indexing.

The GUI calls these methods from worker threads.  A SQLite connection and the vector
index must not be used by two threads at once, so every call on the shared `Deskfind`
holds one lock.  Indexing opens its own `Deskfind` (its own connection): WAL lets the
searches go on while it writes, and the dense index notices new vectors by itself.

No Qt here: the facade is plain Python, so it can be tested and reused headless.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from app.context import Deskfind, Options
from engine.errors import EngineError, QueryError
from engine.query import parse_query
from engine.search import SearchResult
from engine.snippets import match_spans
from indexer import extract as extract_module
from indexer.errors import ExtractionError
from indexer.extract import extractor_for
from indexer.pipeline import IndexReport
from indexer.walk import DEFAULT_EXCLUDED_DIRS, DEFAULT_EXCLUDED_FILES, WalkRules

log = logging.getLogger("deskfind.backend")

SETTINGS_FILE = "settings.json"
PREVIEW_BYTES = 8 << 20  # previews read at most this much of a file
MAX_HIGHLIGHTS = 5000

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


@dataclass(frozen=True)
class UserSettings:
    """Choices made in the settings dialog, kept next to the index as JSON."""

    exclude_patterns: tuple[str, ...] = ()
    model_dir: str = ""
    threads: int = 0

    @classmethod
    def load(cls, path: Path) -> UserSettings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings %s: %s", path, exc)
            return cls()
        return cls(exclude_patterns=tuple(str(p) for p in raw.get("exclude_patterns", ())),
                   model_dir=str(raw.get("model_dir") or ""),
                   threads=max(0, int(raw.get("threads") or 0)))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({**asdict(self), "exclude_patterns": list(self.exclude_patterns)},
                      out, indent=2)
        os.replace(tmp, path)

    def walk_rules(self) -> WalkRules:
        """The default excludes plus the user's patterns (matched on names and paths)."""
        extra = tuple(p for p in self.exclude_patterns if p.strip())
        return WalkRules(excluded_dirs=DEFAULT_EXCLUDED_DIRS + extra,
                         excluded_files=DEFAULT_EXCLUDED_FILES + extra)


class Backend:
    """Search and manage one index on behalf of the GUI.  Safe to call from any thread."""

    def __init__(self, options: Options) -> None:
        self._lock = threading.RLock()
        self._indexing = threading.Lock()
        self._base_options = options
        self._df = Deskfind(options)  # raises EngineError for a damaged/foreign index
        self.data_dir = self._df.data_dir
        self.settings = UserSettings.load(self.data_dir / SETTINGS_FILE)
        self.options = self._effective_options()

    def _effective_options(self) -> Options:
        return replace(self._base_options,
                       model_dir=self.settings.model_dir or self._base_options.model_dir,
                       threads=self.settings.threads or self._base_options.threads)

    def close(self) -> None:
        with self._lock:
            self._df.close()

    # -- queries ------------------------------------------------------------------------

    def search(self, query: str, mode: str = "hybrid", limit: int = 50) -> list[SearchResult]:
        """Ranked documents for `query`; raises QueryError for a query that cannot run."""
        with self._lock:
            return self._df.searcher().search(query, limit=limit, mode=mode)

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

    @staticmethod
    def document_text(path: bytes, ext: str) -> str:
        """A text document as the indexer read it, so passage offsets line up."""
        extract = extractor_for(ext)
        # Formats whose parsers the indexer isolates in worker processes (office, HTML…)
        # are not parsed here, inside the GUI process.
        in_process = getattr(extract_module, "runs_in_process", lambda _ext: True)
        if extract is None or not in_process(ext):
            raise EngineError(f"no text preview for .{ext} files yet")
        try:
            with open(path, "rb") as f:
                data = f.read(PREVIEW_BYTES)
            return extract(data, os.fsdecode(os.path.basename(path))).text
        except OSError as exc:
            raise EngineError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        except ExtractionError as exc:
            raise EngineError(str(exc)) from exc

    def roots(self) -> list[bytes]:
        with self._lock:
            return self._df.store.roots()

    def failures(self, limit: int = 200) -> list[Failure]:
        with self._lock:
            return [Failure(*row) for row in self._df.store.failures(limit)]

    def status(self) -> IndexStatus:
        with self._lock:
            store = self._df.store
            counts = store.counts()
            roots = tuple(os.fsdecode(r) for r in store.roots())
            failures = tuple(Failure(*row) for row in store.failures(200))
        return IndexStatus(
            data_dir=str(self.data_dir), roots=roots, files=counts.files,
            searchable=counts.indexed, failed=counts.failed, skipped=counts.skipped,
            passages=counts.chunks, embedded=counts.embedded, failures=failures)

    # -- folders ------------------------------------------------------------------------

    def add_root(self, path: Path) -> None:
        """Remember a folder to index; the next `index_now` reads it."""
        root = os.fsencode(os.path.abspath(os.path.expanduser(os.fspath(path))))
        with self._lock, self._df.store.write():
            self._df.store.add_root(root)

    def remove_root(self, path: Path | bytes) -> int:
        """Forget a folder and every file under it that no other root still covers.

        Returns how many files were dropped from the index.
        """
        root = path if isinstance(path, bytes) else os.fsencode(os.fspath(path))
        with self._lock:
            store = self._df.store
            others = [r for r in store.roots() if r != root]
            doomed = [state.id for p, state in store.file_states(root).items()
                      if not any(_is_under(p, r) for r in others)]
            with store.write() as conn:
                # Store has no "forget root" yet; this is the one statement it would hold.
                conn.execute("DELETE FROM roots WHERE path = ?", (root,))
                return store.delete_files(doomed)

    # -- indexing -----------------------------------------------------------------------

    def index_now(self, progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> IndexReport:
        """Bring the index up to date with every root.  Blocks; run it off the GUI thread.

        Runs on its own connection so searches keep working meanwhile.  Roots that are
        missing right now (an unmounted drive) are left alone rather than emptied.
        """
        if not self._indexing.acquire(blocking=False):
            raise EngineError("indexing is already running")
        try:
            roots = [Path(os.fsdecode(r)) for r in self.roots()]
            present = [r for r in roots if r.exists()]
            for missing in set(roots) - set(present):
                log.warning("root not found, left as it was: %s", missing)

            def report(phase: str, done: int, total: int) -> None:
                if cancel is not None and cancel.is_set():
                    raise IndexingCancelled("indexing stopped")
                if progress is not None:
                    progress(phase, done, total)

            with Deskfind(self.options) as indexing:
                return indexing.index(present, report, self.settings.walk_rules())
        finally:
            self._indexing.release()

    @property
    def indexing(self) -> bool:
        return self._indexing.locked()

    # -- settings -----------------------------------------------------------------------

    def save_settings(self, settings: UserSettings) -> None:
        """Store new settings; a changed model or thread count reopens the index."""
        with self._lock:
            settings.save(self.data_dir / SETTINGS_FILE)
            old = self.options
            self.settings = settings
            self.options = self._effective_options()
            if (old.model_dir, old.threads) != (self.options.model_dir, self.options.threads):
                self._df.close()
                self._df = Deskfind(self.options)


def _is_under(path: bytes, root: bytes) -> bool:
    base = root.rstrip(b"/")
    return path == base or path.startswith(base + b"/")
