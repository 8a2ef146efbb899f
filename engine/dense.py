"""Semantic candidates: an exact scan while small, else an HNSW graph over PCA-reduced
vectors; either way the scores that reach the user come from the int8 vectors in the
store, which stay the source of truth.

Memory at scale is what this layout is for.  A float32 384-d hnswlib graph costs about
1,750 bytes per passage; the graph here holds 64 float32 components (plus its links),
and the int8 vectors are read from SQLite only for the ~100 candidates of a query.

Updates are incremental: the store logs which chunks' vectors changed (see
`Store.vector_changes`), and `refresh` applies just those, so a search after a batch of
new embeddings does not reload a million vectors.  One lock guards the index: a search
waits at most for one batch of adds, never for a reload.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.ids import ChunkId
from engine.projection import Projection, reduced_dim
from engine.quantize import QuantizedVectors
from engine.storage import IndexStore
from engine.vectors import ExactIndex, HnswIndex, IndexHeader, Rows, UnitRows, top_k

log = logging.getLogger("deskfind.dense")

# Below this many vectors a brute-force scan beats walking a graph.
DEFAULT_GRAPH_THRESHOLD = 20_000
# A filter keeping at most this many passages is scanned exactly over the graph's
# reduced vectors of those passages (fetching them from hnswlib costs ~4 µs each);
# a broader one walks the graph with hnswlib's filter callback, asking for
# FILTERED_POOL candidates.  Measured at a million vectors: the walk found 99.0 % of the
# true top 10 under a 1 % filter in 24 ms (the scan: 99.6 % in 49 ms), 100 % under a
# 10 % filter in 9 ms; asking for 400 cost twice the time for +0.6 points at 1 %.
EXACT_FILTER_LIMIT = 2_000
FILTERED_POOL = 200
# Candidates taken from the reduced space and rescored exactly (the graph searches with
# ef = this pool).  On real MiniLM vectors the reduced top 100 held 99.9 % of the true
# top 10 among 6,000 passages (engine.projection); on a million vectors with their
# spectrum the reduced top 100 held 94.5 % and the top 400 99.8 %, and the graph's top
# 400 99.8 % (200: 97.5 %).  Rescoring 400 reads about 160 KB from SQLite, ~2 ms.
RESCORE_POOL = 400
# Rows a graph's build turns into float32 and projects at once (6 MiB at 384-d).
PROJECTED_ROWS = 4_096
# Change-log entries the writer keeps; a reader further behind reloads everything.
LOG_KEEP = 200_000


class CandidateIndex(ABC):
    """What serves the semantic side's candidates.  Both kinds share one lifecycle:
    `build` from the store's vectors, `apply` the changes the store logs, `search`,
    `save` beside the index and `load` back; `build_index` picks the kind by size."""

    kind: str

    @abstractmethod
    def __len__(self) -> int:
        """Vectors held."""

    @abstractmethod
    def labels(self) -> np.ndarray:
        """The chunk ids held."""

    @abstractmethod
    def apply(self, ids: np.ndarray, rows: Rows, gone: np.ndarray) -> None:
        """Add or replace the unit `rows` of `ids`; forget `gone`."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """Candidate ids, best first, with their exact cosines, or None where the caller
        must rescore them from the store."""

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(ids, unit rows) of those `ids` held in memory, or None when not held."""
        return None

    def save(self, path: Path, header: IndexHeader) -> bool:
        """Write the index to `path` (False: nothing to keep; it is rebuilt from the
        store faster than it could be read back)."""
        return False

    def needs_refit(self) -> bool:
        """Whether the index has grown past what it was built for."""
        return False


class ExactScan(CandidateIndex):
    """Every vector in memory, scanned per query: exact, and faster than a graph while
    small.  Not cached: reading its rows from the store is as fast as from a file."""

    kind = "exact"

    def __init__(self, dim: int) -> None:
        self.exact = ExactIndex(dim)

    @classmethod
    def over(cls, ids: np.ndarray, rows: Rows) -> ExactScan:
        """A scan over these unit rows without copying them."""
        scan = cls(rows.shape[1])
        scan.exact = ExactIndex.over(ids, rows)
        return scan

    def __len__(self) -> int:
        return len(self.exact)  # every hybrid query asks: no copy of the labels

    def labels(self) -> np.ndarray:
        return self.exact.labels()

    def apply(self, ids: np.ndarray, rows: Rows, gone: np.ndarray) -> None:
        self.exact.remove(gone)
        self.exact.add(ids, rows)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        return self.exact.search(query, k, allowed)

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.exact.rows(ids)


class ReducedGraph(CandidateIndex):
    """An HNSW graph over PCA-reduced vectors; its candidates are rescored exactly."""

    kind = "graph"

    def __init__(self, graph: HnswIndex, projection: Projection, fitted_on: int) -> None:
        self.graph = graph
        self.projection = projection
        self.fitted_on = fitted_on  # how many vectors the projection was fitted on

    @classmethod
    def build(cls, ids: np.ndarray, rows: Rows, threads: int) -> ReducedGraph:
        projection = Projection.fit(rows, reduced_dim(rows.shape[1]))
        graph = HnswIndex(projection.reduced, space="l2", capacity=len(ids),
                          threads=threads, ef_search=RESCORE_POOL)
        for start in range(0, len(ids), PROJECTED_ROWS):
            graph.add(ids[start:start + PROJECTED_ROWS],
                      projection.passages(rows[start:start + PROJECTED_ROWS]))
        return cls(graph, projection, len(ids))

    @classmethod
    def load(cls, path: Path, expected: IndexHeader, threads: int
             ) -> tuple[ReducedGraph, IndexHeader]:
        """Read a graph written by `save`; EngineError if it is damaged or foreign."""
        graph, header, extra = HnswIndex.load(path, expected)
        try:
            fitted_on = struct.unpack("<q", extra[:8])[0]
            projection = Projection.from_bytes(extra[8:], expected.dim, graph.dim)
        except (ValueError, struct.error) as exc:
            raise EngineError(f"{path} has a damaged projection: {exc}") from exc
        graph.threads = threads
        return cls(graph, projection, fitted_on), header

    def __len__(self) -> int:
        return len(self.graph)

    def labels(self) -> np.ndarray:
        return self.graph.labels()

    def apply(self, ids: np.ndarray, rows: Rows, gone: np.ndarray) -> None:
        self.graph.remove(gone)
        self.graph.add(ids, self.projection.passages(rows))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        reduced = self.projection.query(query)
        if allowed is None:
            pool = max(RESCORE_POOL, k)
            return self.graph.search(reduced, pool, ef=pool)[0], None
        if len(allowed) <= EXACT_FILTER_LIMIT:
            labels, vectors = self.graph.vectors(allowed)
            return top_k(labels, vectors @ reduced, max(RESCORE_POOL, k))[0], None
        pool = max(FILTERED_POOL, k)
        return self.graph.search(reduced, pool, allowed, ef=pool)[0], None

    def save(self, path: Path, header: IndexHeader) -> bool:
        extra = struct.pack("<q", self.fitted_on) + self.projection.to_bytes()
        self.graph.save(path, header, extra)
        return True

    def needs_refit(self) -> bool:
        return len(self) > 2 * self.fitted_on


def build_index(ids: np.ndarray, rows: Rows, *, dim: int, graph_threshold: int,
                threads: int) -> CandidateIndex:
    """The kind of index that suits this many vectors, built over them."""
    if len(ids) >= graph_threshold:
        return ReducedGraph.build(ids, rows, threads)
    index = ExactScan(dim)
    index.apply(ids, rows, np.zeros(0, np.int64))
    return index


class DenseIndex:
    """All vectors of one model, searchable; rebuilt from the store whenever needed."""

    def __init__(self, store: IndexStore, model_id: str, dim: int, cache_path: Path,
                 graph_threshold: int = DEFAULT_GRAPH_THRESHOLD, threads: int = 0,
                 *, background: bool = False) -> None:
        """`background`: build a graph on a thread and answer from an exact scan of the
        same vectors meanwhile, instead of making the search that needs it wait."""
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.cache_path = cache_path
        self.graph_threshold = graph_threshold
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.version = -1  # the store's vector change-log position this index reflects
        self.index: CandidateIndex | None = None
        self.rebuilt = False  # built from the store rather than loaded from the cache
        self._saved_version = -1
        self._lock = threading.RLock()
        self.background = background
        self._refit_thread: threading.Thread | None = None
        self._refitted: tuple[int, ReducedGraph] | None = None
        # The exact scan standing in while the first graph is built: it shares the
        # build's rows, so it takes no changes (each would copy every row); the built
        # graph catches up from the change log instead.
        self._standing_in = False
        self._no_graph_below = 0  # a failed build is retried only past this size
        self.preloading: threading.Thread | None = None  # asking the OS for the store

    def __len__(self) -> int:
        return 0 if self.index is None else len(self.index)

    @property
    def kind(self) -> str:
        """"exact", "graph", or "" before the first refresh."""
        return "" if self.index is None else self.index.kind

    @property
    def building(self) -> bool:
        """Whether a graph is being built on a thread (the first one, or a refit)."""
        return self._refit_thread is not None

    # -- keeping up with the store ------------------------------------------------------

    def refresh(self) -> None:
        """Apply the vectors that changed in the store since the last look."""
        with self._lock:
            self._adopt_refit()
            version = self.store.vector_version()
            if version == self.version or self._standing_in:
                return
            if self.version < 0 and self._load_cache():
                version = self.version  # catch up from the cache's version below
            changes = self.store.vector_changes(self.version) if self.version >= 0 else None
            if changes is None or self.index is None:
                self._rebuild()
                return
            self._apply(*changes)
            n = len(self)
            if self.kind == "exact" and n >= max(self.graph_threshold, self._no_graph_below):
                self._rebuild()  # grown past the scan: build the graph
            elif self.kind == "graph" and n < self.graph_threshold // 2:
                self._rebuild()  # shrunk well below the threshold: a scan is cheaper
            elif self.index.needs_refit():
                self._start_refit()

    # A collection that doubled since its projection was fitted gets a new projection
    # and graph, built on a background thread while the current graph keeps serving
    # (at a million passages the build takes minutes); searches meanwhile wait only
    # for the few seconds it takes to read the vectors.

    def _start_refit(self) -> None:
        if self._refit_thread is not None:
            return
        version = self.store.vector_version()
        ids, q = self.store.load_vectors(self.model_id, self.dim)
        self._start_build(version, ids, lambda: UnitRows.of(q.codes))

    def _start_build(self, version: int, ids: np.ndarray,
                     rows: Callable[[], Rows]) -> None:
        """Build a graph over `rows()` (the vectors at log position `version`) on a
        thread; the next refresh after it finishes adopts it."""

        def build() -> None:
            try:
                self._refitted = (version, self._build_graph(ids, rows()))
            except Exception:  # noqa: BLE001 - keep serving what serves now; say why
                log.exception("building the vector index failed")

        self._refit_thread = threading.Thread(target=build, name="deskfind-refit",
                                              daemon=True)
        self._refit_thread.start()

    def _adopt_refit(self) -> None:
        """Swap in a finished background build and bring it up to date from the log."""
        if self._refit_thread is None or self._refit_thread.is_alive():
            return
        self._refit_thread = None
        done, self._refitted = self._refitted, None
        if done is None:  # failed: do not retry every search
            if isinstance(self.index, ReducedGraph):
                self.index.fitted_on = len(self.index)
            elif self._standing_in:  # the scan serves for good, taking changes again
                self._standing_in = False
                self._no_graph_below = 2 * len(self)
            return
        version, graph = done
        changes = self.store.vector_changes(version)
        if changes is None:
            if self._standing_in:  # the log moved past the build: build again
                self._standing_in = False
                self._rebuild()
            return  # else the current graph stays
        self.index = graph
        self._standing_in = False
        self._apply(*changes)
        self.rebuilt = True
        self.save()
        # The build read every vector and held them beside the graph for minutes: the
        # OS may have dropped store pages meanwhile.  Ask for them back before the
        # queries the graph now answers read them (Store.preload), on a thread: where
        # much is gone, asking takes a second or two, and this may be a query's refresh.
        self.preloading = threading.Thread(target=self.store.preload, daemon=True,
                                           name="deskfind-preload")
        self.preloading.start()

    def _build_graph(self, ids: np.ndarray, rows: Rows) -> ReducedGraph:
        """The graph over these vectors (a method so that tests can hold a build)."""
        return ReducedGraph.build(ids, rows, self.threads)

    def settle(self) -> None:
        """Adopt a finished background build and write the cache file, if one is due."""
        with self._lock:
            self._adopt_refit()
        self.save()

    def wait_for_refit(self) -> None:
        """Block until a background refit (if any) has finished; the next refresh
        adopts it.  For shutdown and tests."""
        thread = self._refit_thread
        if thread is not None:
            thread.join()

    def _apply(self, version: int, changed: np.ndarray) -> None:
        assert self.index is not None
        ids, q = self.store.vectors_for(self.model_id, changed, self.dim)
        self.index.apply(ids, UnitRows.of(q.codes), np.setdiff1d(changed, ids))
        self.version = version

    def _rebuild(self) -> None:
        if self._refit_thread is not None:  # a build from before the reload: drop it
            self._refit_thread.join()
            self._refit_thread, self._refitted = None, None
        version = self.store.vector_version()  # later changes are applied next time
        ids, q = self.store.load_vectors(self.model_id, self.dim)
        # The codes themselves, not float32 copies: a quarter of the memory at the
        # peak of a first index (docs/performance.md, "Memory of a first index").
        rows = UnitRows.of(q.codes)
        del q
        if self.background and len(ids) >= max(self.graph_threshold, self._no_graph_below):
            # At a million passages a graph takes minutes to build; an exact scan of
            # the same rows answers meanwhile (a tenth of a second per query).
            self.index = ExactScan.over(ids, rows)
            self.version = version
            self._standing_in = True
            self._start_build(version, ids, lambda: rows)
            return
        self.index = build_index(ids, rows, dim=self.dim,
                                 graph_threshold=self.graph_threshold, threads=self.threads)
        self.rebuilt = True
        self.version = version
        self.save()

    # -- the cache file -------------------------------------------------------------------

    def _load_cache(self) -> bool:
        expected = IndexHeader(self.model_id, self.dim, 0, 0)
        try:
            index, header = ReducedGraph.load(self.cache_path, expected, self.threads)
        except EngineError as exc:
            if self.cache_path.exists():
                log.warning("rebuilding vector index: %s", exc)
            return False
        if header.log_position > self.store.vector_version():
            log.warning("rebuilding vector index: %s belongs to another database",
                        self.cache_path)
            return False
        self.index = index
        self.version = self._saved_version = header.log_position
        return True

    def save(self) -> None:
        """Write the index to the cache file if it changed since it was last written."""
        with self._lock:
            if self.index is None or self.version == self._saved_version:
                return
            header = IndexHeader(self.model_id, self.dim, len(self.index), self.version)
            try:
                if self.index.save(self.cache_path, header):
                    self._saved_version = self.version
            except OSError as exc:  # read-only data dir, disk full: the graph still works
                log.warning("cannot save vector index %s: %s", self.cache_path, exc)

    # -- queries --------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[ChunkId, float]]:
        """Top `k` passages by cosine, scores computed from the int8 vectors."""
        self.refresh()
        query = np.asarray(query, dtype=np.float32)
        with self._lock:
            if self.index is None:
                return []
            labels, sims = self.index.search(query, k, allowed)
        if sims is not None:
            return [(ChunkId(int(c)), float(s)) for c, s in zip(labels, sims, strict=True)]
        return list(self.cosines(labels, query).items())[:k]

    def unit_vectors(self, chunk_ids: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 unit rows) of the given passages that have a vector."""
        if len(chunk_ids) == 0:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        self.refresh()
        with self._lock:
            # A stand-in scan lags the store (it takes no changes): ask the store.
            held = None if self.index is None or self._standing_in else \
                self.index.rows(np.asarray(chunk_ids, dtype=np.int64))
        if held is not None:  # the exact scan holds them in memory already
            return held
        ids, q = self.store.vectors_for(self.model_id, chunk_ids, self.dim)
        return ids, _unit_rows(q)

    def cosines(self, chunk_ids: np.ndarray | list[int],
                query: np.ndarray) -> dict[ChunkId, float]:
        """Exact cosine of the query with each given passage that has a vector, best
        first."""
        if len(chunk_ids) == 0:
            return {}
        ids, rows = self.unit_vectors(chunk_ids)
        sims = rows @ np.asarray(query, dtype=np.float32)
        order = np.argsort(-sims, kind="stable")
        return {ChunkId(int(ids[i])): float(sims[i]) for i in order}


def _unit_rows(q: QuantizedVectors) -> np.ndarray:
    """The int8 rows as float32 unit vectors (the scale cancels out)."""
    return UnitRows.of(q.codes)[:]
