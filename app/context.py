"""Putting the pieces together for one data directory: store, model, indexer, searcher."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app import paths
from engine.dense import DEFAULT_GRAPH_THRESHOLD, DenseIndex
from engine.duplicates import DuplicateGroup, duplicate_groups
from engine.embedder import Embedder, OnnxEmbedder
from engine.errors import EngineError
from engine.ids import FileId
from engine.precision import index_precision, resolve_model
from engine.query import ParsedQuery
from engine.ranking import DEFAULT_ALPHA
from engine.related import Related, related_files
from engine.search import Searcher, SearchSettings
from engine.storage import IndexStore, open_store
from engine.store import Counts
from indexer.ocr import DEFAULT_OCR
from indexer.pipeline import Hold, Indexer, IndexReport, Progress
from indexer.walk import WalkRules

log = logging.getLogger("deskfind")


@dataclass(frozen=True)
class Options:
    """Run-time choices, from the command line or the environment."""

    data_dir: str | None = None
    model_dir: str | None = None
    threads: int = 0
    precision: str | None = None  # of the bundled model; None: auto
    alpha: float = DEFAULT_ALPHA
    fusion: str = "convex"
    graph_threshold: int = DEFAULT_GRAPH_THRESHOLD
    embed_generated: bool = False  # embed generated text (engine.generated) too
    database: str | None = None  # a postgresql:// index shared by a team; None: SQLite
    ocr: bool = True  # read scanned pages and images by OCR (indexer.ocr)


class Deskfind:
    """One open index.  Owns the store; makes the model only when something needs it."""

    def __init__(self, options: Options, *, readonly: bool = False) -> None:
        self.options = options
        self.data_dir = self.resolve_data_dir(options)
        self.store = open_store(options.database, paths.database_path(self.data_dir),
                                readonly=readonly)
        self._embedder: Embedder | None = None
        self._dense: DenseIndex | None = None
        self._dense_store: IndexStore | None = None  # the dense index's own connection

    @staticmethod
    def resolve_data_dir(options: Options) -> Path:
        return paths.data_dir(options.data_dir)

    def share_model_with(self, other: Deskfind) -> None:
        """Use `other`'s embedder (onnxruntime sessions are safe to share across threads)."""
        self._embedder = other.embedder()

    def close(self) -> None:
        if self._dense is not None:
            # A graph build still running on its thread must not outlive the store
            # (or the interpreter, which would abort it half-way through native code);
            # once done it is kept, so the next process loads it instead.
            if self._dense.building:
                log.info("finishing the vector index of %d passages", len(self._dense))
            self._dense.wait_for_refit()
            try:
                self._dense.settle()
            except (EngineError, sqlite3.Error) as exc:  # the next start builds it again
                log.warning("could not keep the vector index: %s", exc)
        if self._dense_store is not None:
            self._dense_store.close()
        self.store.close()

    def __enter__(self) -> Deskfind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embedder(self) -> Embedder:
        if self._embedder is None:
            precision = index_precision(self.options.precision or "auto", self.store.shared)
            spec = resolve_model(self.options.model_dir, precision, threads=self.options.threads)
            self._embedder = OnnxEmbedder(spec, threads=self.options.threads)
        return self._embedder

    def dense(self) -> DenseIndex:
        if self._dense is None:
            emb = self.embedder()
            cache = paths.vector_cache_path(self.data_dir, emb.model_id)
            # A graph of a large index is built on a thread, an exact scan answering
            # meanwhile: no search waits minutes for it.  Its reads have a connection
            # of their own, so a hybrid query's two sides run at once (engine.search).
            self._dense_store = self.store.reader()
            self._dense = DenseIndex(self._dense_store, emb.model_id, emb.dim, cache,
                                     graph_threshold=self.options.graph_threshold,
                                     background=True)
        return self._dense

    def preload(self) -> int:
        """Have the OS read the index into memory, for the first searches (Store.preload)."""
        return self.store.preload()

    def vector_index_state(self) -> str:
        """"building" while a graph is built, else "graph", "exact" or "" (not loaded)."""
        if self._dense is None:
            return ""
        return "building" if self._dense.building else self._dense.kind

    def settle_vector_index(self) -> None:
        """Adopt a graph finished in the background and write its cache file."""
        if self._dense is not None:
            self._dense.settle()

    def save_vector_cache(self) -> None:
        """Bring the vector cache file up to date, if this process loaded the vectors
        (a process that never searched by meaning has nothing newer to save)."""
        if self._dense is not None:
            self._dense.refresh()
            self._dense.save()

    def searcher(self, fusion: str | None = None) -> Searcher:
        """A searcher with the options' settings (`fusion` None: the options')."""
        settings = SearchSettings(alpha=self.options.alpha,
                                  fusion=fusion or self.options.fusion)
        return Searcher(self.store, lambda: (self.embedder(), self.dense()), settings)

    # -- what the entry points read and change: none of them reaches into the store --

    def counts(self) -> Counts:
        return self.store.counts()

    def queue_length(self) -> int:
        return self.store.queue_length()

    def failures(self, limit: int = 50) -> list[tuple[str, str, str]]:
        """(path, status, reason) of files that could not be indexed, newest first."""
        return self.store.failures(limit)

    def roots(self) -> list[bytes]:
        return self.store.roots()

    def add_roots(self, roots: Sequence[bytes]) -> None:
        """Remember folders and queue each for a scan, in one transaction."""
        with self.store.write():
            for root in roots:
                self.store.add_root(root)
            self.store.enqueue(roots)

    def remove_roots(self, roots: Sequence[bytes]) -> int:
        """Forget folders and every file indexed under them; how many files went."""
        with self.store.write():
            return sum(self.store.remove_root(root) for root in roots)

    def enqueue(self, paths: Iterable[bytes]) -> None:
        with self.store.write():
            self.store.enqueue(paths)

    def queued(self, limit: int) -> list[bytes]:
        return self.store.queued(limit)

    def document_text(self, path: bytes) -> str | None:
        """A file's text as the index holds it (None: not indexed)."""
        return self.store.document_text(path)

    def integrity_problems(self) -> list[str]:
        return self.store.integrity_problems()

    def rebuild_fulltext(self) -> int:
        """Rebuild the full-text index from the stored passages; how many there were."""
        with self.store.write():
            return self.store.rebuild_fulltext()

    def indexer(self, rules: WalkRules | None = None, stop: threading.Event | None = None,
                *, skip_generated: bool = True, ocr: bool = True) -> Indexer:
        """An indexer writing to this index (a long-running one, for the service)."""
        return Indexer(self.store, rules, stop=stop, skip_generated=skip_generated,
                       ocr=DEFAULT_OCR if ocr else None)

    def unembedded(self) -> dict[str, int]:
        """Passages left unembedded on purpose, by reason (generated text)."""
        return self.store.unembedded()

    def container_of(self, path: bytes) -> bytes | None:
        """The file on disk that holds the archive member or message at `path`."""
        return self.store.container_of(path)

    def duplicate_groups(self) -> list[DuplicateGroup]:
        """Files that are byte-identical or hold the same text (engine.duplicates)."""
        files = self.store.duplicate_candidates()
        prints = self.store.fingerprints([FileId(f.id) for f in files])
        return duplicate_groups(files, {int(k): v for k, v in prints.items()})

    def related(self, path: bytes, *, limit: int, method: str,
                filters: ParsedQuery | None) -> list[Related]:
        """The files closest in meaning to the indexed file at `path` (engine.related)."""
        return related_files(self.store, self.dense(), path, limit=limit, method=method,
                             filters=filters)

    def index(self, roots: list[Path], progress: Progress | None = None,
              rules: WalkRules | None = None, hold: Hold | None = None) -> IndexReport:
        """Index `roots`: text first (keyword-searchable), then embeddings, which stop
        early when `hold` gives a reason (on battery power)."""
        report = IndexReport()
        indexer = Indexer(self.store, rules, skip_generated=not self.options.embed_generated,
                          ocr=DEFAULT_OCR if self.options.ocr else None)
        indexer.scan([bytes(r) for r in roots], report, progress)
        indexer.fingerprint_pending()
        indexer.embed_pending(self.embedder(), report, progress, hold=hold)
        dense = self.dense()
        dense.refresh()  # brings the graph up to date with the new vectors
        if dense.building:  # the command's job is an index ready to search: finish it
            if progress:
                progress("graph", 0, 1)
            dense.wait_for_refit()
            if progress:
                progress("graph", 1, 1)
        dense.settle()
        return report
