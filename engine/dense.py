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
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.ids import ChunkId
from engine.projection import Projection, reduced_dim
from engine.quantize import QuantizedVectors
from engine.store import Store
from engine.vectors import ExactIndex, HnswIndex, IndexHeader, top_k

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
# Change-log entries the writer keeps; a reader further behind reloads everything.
LOG_KEEP = 200_000


class DenseIndex:
    """All vectors of one model, searchable; rebuilt from the store whenever needed."""

    def __init__(self, store: Store, model_id: str, dim: int, cache_path: Path,
                 graph_threshold: int = DEFAULT_GRAPH_THRESHOLD, threads: int = 0) -> None:
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.cache_path = cache_path
        self.graph_threshold = graph_threshold
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.version = -1  # the store's vector version this index reflects
        self.exact: ExactIndex | None = None
        self.graph: HnswIndex | None = None
        self.projection: Projection | None = None
        self.fitted_on = 0  # how many vectors the projection was fitted on
        self.rebuilt = False  # built from the store rather than loaded from the cache
        self._saved_version = -1
        self._lock = threading.RLock()
        self._refit_thread: threading.Thread | None = None
        self._refitted: tuple[int, HnswIndex, Projection] | None = None

    def __len__(self) -> int:
        if self.graph is not None:
            return len(self.graph)
        return 0 if self.exact is None else len(self.exact.labels())

    # -- keeping up with the store ------------------------------------------------------

    def refresh(self) -> None:
        """Apply the vectors that changed in the store since the last look."""
        with self._lock:
            self._adopt_refit()
            version = self.store.vector_version()
            if version == self.version:
                return
            if self.version < 0 and self._load_cache():
                version = self.version  # catch up from the cache's version below
            changes = self.store.vector_changes(self.version) if self.version >= 0 else None
            if changes is None:
                self._rebuild()
                return
            self._apply(*changes)
            n = len(self)
            if self.graph is None and n >= self.graph_threshold:
                self._rebuild()  # grown past the scan: build the graph
            elif self.graph is not None and n < self.graph_threshold // 2:
                self._rebuild()  # shrunk well below the threshold: a scan is cheaper
            elif self.graph is not None and n > 2 * self.fitted_on:
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

        def build() -> None:
            try:
                self._refitted = (version, *self._build_graph(ids, _unit_rows(q)))
            except Exception:  # noqa: BLE001 - keep serving the old graph; say why
                log.exception("refitting the vector index failed")

        self._refit_thread = threading.Thread(target=build, name="deskfind-refit",
                                              daemon=True)
        self._refit_thread.start()

    def _adopt_refit(self) -> None:
        """Swap in a finished background build and bring it up to date from the log."""
        if self._refit_thread is None or self._refit_thread.is_alive():
            return
        self._refit_thread = None
        done, self._refitted = self._refitted, None
        if done is None:
            self.fitted_on = len(self)  # failed: do not retry on every search
            return
        version, graph, projection = done
        changes = self.store.vector_changes(version)
        if changes is None:
            return  # the log moved past the build; the current graph stays
        self.graph, self.projection, self.fitted_on = graph, projection, len(graph)
        self.exact = None
        self._apply(*changes)
        self.rebuilt = True
        self.save()

    def wait_for_refit(self) -> None:
        """Block until a background refit (if any) has finished; the next refresh
        adopts it.  For shutdown and tests."""
        thread = self._refit_thread
        if thread is not None:
            thread.join()

    def _apply(self, version: int, changed: np.ndarray) -> None:
        ids, q = self.store.vectors_for(self.model_id, changed, self.dim)
        gone = np.setdiff1d(changed, ids)
        if self.graph is not None and self.projection is not None:
            self.graph.remove(gone)
            self.graph.add(ids, self.projection.passages(_unit_rows(q)))
        elif self.exact is not None:
            self.exact.remove(gone)
            self.exact.add(ids, _unit_rows(q))
        self.version = version

    def _rebuild(self) -> None:
        version = self.store.vector_version()  # later changes are applied next time
        ids, q = self.store.load_vectors(self.model_id, self.dim)
        floats = _unit_rows(q)
        del q
        self.rebuilt = True
        self.version = version
        if len(ids) < self.graph_threshold:
            self.graph, self.projection, self.exact = None, None, ExactIndex(self.dim)
            self.exact.add(ids, floats)
            return
        graph, projection = self._build_graph(ids, floats)
        self.graph, self.projection, self.exact = graph, projection, None
        self.fitted_on = len(ids)
        self.save()

    def _build_graph(self, ids: np.ndarray,
                     floats: np.ndarray) -> tuple[HnswIndex, Projection]:
        projection = Projection.fit(floats, reduced_dim(self.dim))
        graph = HnswIndex(projection.reduced, space="l2", capacity=len(ids),
                          threads=self.threads, ef_search=RESCORE_POOL)
        for start in range(0, len(ids), 50_000):  # bounded float copies while projecting
            graph.add(ids[start:start + 50_000],
                      projection.passages(floats[start:start + 50_000]))
        return graph, projection

    # -- the cache file -------------------------------------------------------------------

    def _load_cache(self) -> bool:
        expected = IndexHeader(self.model_id, self.dim, 0, 0)
        try:
            graph, header, extra = HnswIndex.load(self.cache_path, expected)
            fitted_on = struct.unpack("<q", extra[:8])[0]
            projection = Projection.from_bytes(extra[8:], self.dim, graph.dim)
        except (EngineError, ValueError, struct.error) as exc:
            if self.cache_path.exists():
                log.warning("rebuilding vector index: %s", exc)
            return False
        if header.log_position > self.store.vector_version():
            log.warning("rebuilding vector index: %s belongs to another database",
                        self.cache_path)
            return False
        graph.threads = self.threads
        self.graph, self.projection, self.fitted_on = graph, projection, fitted_on
        self.version = self._saved_version = header.log_position
        return True

    def save(self) -> None:
        """Write the graph to the cache file if it changed since it was last written."""
        with self._lock:
            if self.graph is None or self.projection is None or \
                    self.version == self._saved_version:
                return
            header = IndexHeader(self.model_id, self.dim, len(self.graph), self.version)
            extra = struct.pack("<q", self.fitted_on) + self.projection.to_bytes()
            try:
                self.graph.save(self.cache_path, header, extra)
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
            if self.exact is not None:
                labels, sims = self.exact.search(query, k, allowed)
                return [(ChunkId(int(c)), float(s)) for c, s in zip(labels, sims, strict=True)]
            if self.graph is None or self.projection is None:
                return []
            candidates = self._candidates(self.graph, self.projection.query(query), k,
                                          allowed)
        return list(self.cosines(candidates, query).items())[:k]

    @staticmethod
    def _candidates(graph: HnswIndex, reduced: np.ndarray, k: int,
                    allowed: np.ndarray | None) -> np.ndarray:
        if allowed is None:
            pool = max(RESCORE_POOL, k)
            return graph.search(reduced, pool, ef=pool)[0]
        if len(allowed) <= EXACT_FILTER_LIMIT:
            labels, vectors = graph.vectors(allowed)
            return top_k(labels, vectors @ reduced, max(RESCORE_POOL, k))[0]
        pool = max(FILTERED_POOL, k)
        return graph.search(reduced, pool, allowed, ef=pool)[0]

    def unit_vectors(self, chunk_ids: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 unit rows) of the given passages that have a vector."""
        if len(chunk_ids) == 0:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        self.refresh()
        with self._lock:
            if self.exact is not None:  # the exact scan holds them in memory already
                return self.exact.rows(np.asarray(chunk_ids, dtype=np.int64))
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
    floats = q.codes.astype(np.float32)
    floats /= np.maximum(np.linalg.norm(floats, axis=1, keepdims=True), 1e-12)
    return floats
