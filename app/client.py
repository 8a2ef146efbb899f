"""One door to an index: the client contract, its two implementations, and `connect`.

`connect(options)` returns the running service of the options' data directory when one
answers (`ServiceClient`, over app.ipc) and the index opened in this process otherwise
(`LocalIndex`, over app.context).  The CLI and the GUI ask both the same questions
through `Client` and get the same types back (app.values), and the same errors: a bad
query is a QueryError from either.

Writes have one owner: while a service runs, it indexes (`index` is refused: add the
folder to the roots instead) and drops the files of a forgotten root itself.  Questions
the service does not answer over its socket (related files, duplicates) are read from
the index file next to it, read-only, as a second reader (SQLite's WAL allows it).
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from app import ipc
from app.context import Deskfind, Options
from app.errors import UsageError
from app.values import Failure, Found, Hit, IndexStatus
from engine.duplicates import DuplicateGroup
from engine.errors import DeskfindError
from engine.query import parse_filters
from engine.related import Related
from engine.sentences import best_sentences
from indexer.pipeline import Hold, IndexReport, Progress
from indexer.walk import WalkRules

Span = tuple[int, int]
T = TypeVar("T")
PING_SECONDS = 5.0  # how long `connect` waits for a service to answer


class Client(Protocol):
    """What the CLI and the GUI ask of an index, wherever it is open."""

    data_dir: Path
    is_service: bool  # True: the running service; False: the index opened in this process

    def search(self, query: str, *, mode: str = "hybrid", limit: int = 10,
               strict: bool = False, fusion: str | None = None) -> Found:
        """Ranked documents for `query` (QueryError if it cannot run).  Unless `strict`,
        phrases or exclusions that leave nothing are relaxed and `Found.relaxed` says
        how.  `fusion` None: the index's own setting."""
        ...

    def best_sentences(self, query: str, passages: Sequence[str]) -> list[Span | None]:
        """For each passage, the sentence closest in meaning to `query`."""
        ...

    def status(self) -> IndexStatus:
        """Counts, failed files, and what the service is doing when one runs."""
        ...

    def related(self, path: bytes, *, limit: int = 10, method: str = "mean",
                filters: str = "") -> list[Related]:
        """The files closest in meaning to the indexed file at `path`."""
        ...

    def duplicates(self) -> list[DuplicateGroup]:
        """Files that are byte-identical or hold the same text."""
        ...

    def index(self, roots: Sequence[Path], progress: Progress | None = None,
              rules: WalkRules | None = None, hold: Hold | None = None) -> IndexReport:
        """Index `roots` now, text first, then embeddings, which stop early when `hold`
        gives a reason (refused while a service runs: it owns the index)."""
        ...

    def reload(self, *, rescan: bool = False) -> bool:
        """Tell a service the settings changed (`rescan`: re-read every root too);
        whether one was there to tell."""
        ...

    def forget_roots(self, roots: Sequence[bytes]) -> int:
        """Drop the files indexed under `roots` (already gone from the settings); how
        many went here (a service drops them itself when it reloads: 0)."""
        ...

    def pause(self, paused: bool) -> None:
        """Pause or resume a service's indexing; changes keep being queued."""
        ...

    def stop(self) -> None:
        """Ask a service to stop (it finishes the current file first)."""
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> Self:
        ...

    def __exit__(self, *exc: object) -> None:
        ...


class _Closing:
    """`with` closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalIndex(_Closing):
    """The contract on an index opened in this process.  The index opens on first use
    (so indexing a new folder never needs a read-only open of an index not made yet),
    and every call holds one lock: a SQLite connection and the vector index must not be
    used by two threads at once.  Indexing writes on a connection of its own, so
    searches go on meanwhile."""

    is_service = False

    def __init__(self, options: Options, *, readonly: bool = True) -> None:
        self.options = options
        self.readonly = readonly
        self.data_dir = Deskfind.resolve_data_dir(options)
        self._lock = threading.RLock()
        self._df: Deskfind | None = None
        self._closed = False

    def _use(self, call: Callable[[Deskfind], T]) -> T:
        with self._lock:
            if self._closed:  # a window's request still out when the app shut down
                raise DeskfindError("the index is closed")
            if self._df is None:
                self._df = Deskfind(self.options, readonly=self.readonly)
            return call(self._df)

    def open(self) -> LocalIndex:
        """Open the index now (EngineError for a damaged or foreign one)."""
        self._use(lambda df: None)
        return self

    def search(self, query: str, *, mode: str = "hybrid", limit: int = 10,
               strict: bool = False, fusion: str | None = None) -> Found:
        response = self._use(lambda df: df.searcher(fusion).query(
            query, limit=limit, mode=mode, strict=strict))
        return Found([Hit.from_result(r) for r in response.results], response.relaxed)

    def best_sentences(self, query: str, passages: Sequence[str]) -> list[Span | None]:
        return self._use(lambda df: best_sentences(df.embedder(), query, list(passages)))

    def status(self) -> IndexStatus:
        def read(df: Deskfind) -> IndexStatus:
            counts = df.counts()
            return IndexStatus(
                data_dir=str(self.data_dir), roots=tuple(os.fsdecode(r) for r in df.roots()),
                files=counts.files, searchable=counts.indexed, failed=counts.failed,
                skipped=counts.skipped, passages=counts.chunks, embedded=counts.embedded,
                failures=tuple(Failure(*row) for row in df.failures()),
                not_embedded=df.unembedded(), queue=df.queue_length())
        return self._use(read)

    def related(self, path: bytes, *, limit: int = 10, method: str = "mean",
                filters: str = "") -> list[Related]:
        parsed = parse_filters(filters) if filters.strip() else None
        return self._use(lambda df: df.related(path, limit=limit, method=method,
                                               filters=parsed))

    def duplicates(self) -> list[DuplicateGroup]:
        return self._use(lambda df: df.duplicate_groups())

    def index(self, roots: Sequence[Path], progress: Progress | None = None,
              rules: WalkRules | None = None, hold: Hold | None = None) -> IndexReport:
        with Deskfind(self.options) as writer:
            return writer.index(list(roots), progress, rules, hold)

    def reload(self, *, rescan: bool = False) -> bool:
        return False  # no service to tell: the next command reads the settings itself

    def forget_roots(self, roots: Sequence[bytes]) -> int:
        if self.readonly:
            with Deskfind(self.options) as writer:
                return writer.remove_roots(roots)
        return self._use(lambda df: df.remove_roots(roots))

    def pause(self, paused: bool) -> None:
        raise UsageError("no Deskfind service is running to pause or resume")

    def stop(self) -> None:
        """Nothing runs to stop."""

    def document_text(self, path: bytes) -> str | None:
        """A file's text as the index holds it (None: not indexed)."""
        return self._use(lambda df: df.document_text(path))

    def container_of(self, path: bytes) -> bytes | None:
        """The file on disk that holds the archive member or message at `path`."""
        return self._use(lambda df: df.container_of(path))

    def roots(self) -> list[bytes]:
        """The folders the index itself remembers (the settings file may name others)."""
        return self._use(lambda df: df.roots())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._df is not None:
                self._df.close()
                self._df = None


class ServiceClient(_Closing):
    """The contract on the running service of a data directory, over app.ipc."""

    is_service = True

    def __init__(self, options: Options, timeout: float = 60.0) -> None:
        self.options = options
        self.data_dir = Deskfind.resolve_data_dir(options)
        self.timeout = timeout
        self._reader: LocalIndex | None = None  # for what the service does not answer

    def call(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return ipc.call(self.data_dir, request, timeout=timeout or self.timeout)

    def running(self, timeout: float = PING_SECONDS) -> bool:
        """Whether the service answers (a service of another protocol version does:
        its error says so on the first real request)."""
        try:
            self.call({"op": "ping"}, timeout=timeout)
        except ipc.ProtocolError:
            return True
        except DeskfindError:  # none answers, or no socket can be made here
            return False
        return True

    def search(self, query: str, *, mode: str = "hybrid", limit: int = 10,
               strict: bool = False, fusion: str | None = None) -> Found:
        request = {"op": "search", "query": query, "mode": mode, "limit": limit,
                   "strict": strict, **({"fusion": fusion} if fusion else {})}
        return Found.from_json(self.call(request))

    def best_sentences(self, query: str, passages: Sequence[str]) -> list[Span | None]:
        reply = self.call({"op": "best_sentences", "query": query,
                           "passages": list(passages)})
        return [(int(s[0]), int(s[1])) if s else None for s in reply["spans"]]

    def status(self) -> IndexStatus:
        reply = self.call({"op": "status"})
        return IndexStatus.from_json({**reply, "service": True,
                                      "data_dir": str(self.data_dir)})

    def _read(self) -> LocalIndex:
        if self._reader is None:
            self._reader = LocalIndex(self.options, readonly=True)
        return self._reader

    def related(self, path: bytes, *, limit: int = 10, method: str = "mean",
                filters: str = "") -> list[Related]:
        # The service's vector index answers: a second process loading every vector
        # would double the memory at scale.
        reply = self.call({"op": "related", "path_b64": base64.b64encode(path).decode(),
                           "limit": limit, "method": method, "filters": filters},
                          timeout=max(self.timeout, 30.0))
        return [Related.from_json(d) for d in reply["related"]]

    def duplicates(self) -> list[DuplicateGroup]:
        reply = self.call({"op": "duplicates"}, timeout=max(self.timeout, 60.0))
        return [DuplicateGroup.from_json(d) for d in reply["groups"]]

    def index(self, roots: Sequence[Path], progress: Progress | None = None,
              rules: WalkRules | None = None, hold: Hold | None = None) -> IndexReport:
        raise UsageError("a Deskfind service is running on this index; add folders with "
                         "`deskfind roots add PATH` and it indexes them")

    def reload(self, *, rescan: bool = False) -> bool:
        self.call({"op": "rescan" if rescan else "reload"})
        return True

    def forget_roots(self, roots: Sequence[bytes]) -> int:
        self.reload()
        return 0

    def pause(self, paused: bool) -> None:
        self.call({"op": "pause" if paused else "resume"})

    def stop(self) -> None:
        self.call({"op": "stop"}, timeout=5.0)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def connect(options: Options, *, readonly: bool = True, local: LocalIndex | None = None,
            timeout: float = PING_SECONDS) -> Client:
    """The running service of `options`' data directory if one answers within
    `timeout`, else the index opened here: `local` when the caller keeps one open (the
    GUI), else a new one (read-only unless `readonly` is False; opened on first use)."""
    service = ServiceClient(options)
    if service.running(timeout):
        return service
    return local if local is not None else LocalIndex(options, readonly=readonly)
