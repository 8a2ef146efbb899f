"""Semantic candidates: int8 vectors from the store, a cached HNSW graph, exact rescoring."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.ids import ChunkId
from engine.quantize import QuantizedVectors
from engine.store import Store
from engine.vectors import ExactIndex, HnswIndex, IndexHeader, VectorIndex

log = logging.getLogger("deskfind.dense")

# Below this many vectors a brute-force scan beats walking a graph.
DEFAULT_GRAPH_THRESHOLD = 20_000
# Filters selecting at most this many passages are searched exactly: full recall.
EXACT_FILTER_LIMIT = 50_000


class DenseIndex:
    """All vectors of one model, searchable; the store stays the source of truth."""

    def __init__(self, store: Store, model_id: str, dim: int, cache_path: Path,
                 graph_threshold: int = DEFAULT_GRAPH_THRESHOLD) -> None:
        self.store = store
        self.model_id = model_id
        self.dim = dim
        self.cache_path = cache_path
        self.graph_threshold = graph_threshold
        self.generation = -1
        self.ids = np.zeros(0, dtype=np.int64)
        self.vectors = QuantizedVectors(np.zeros((0, dim), np.int8), np.zeros(0, np.float32))
        self.index: VectorIndex = ExactIndex(dim)
        self.rebuilt = False

    def __len__(self) -> int:
        return len(self.ids)

    def refresh(self) -> None:
        """Reload from the store if its vectors changed since the last look."""
        generation = self.store.vectors_generation()
        if generation == self.generation:
            return
        self.ids, self.vectors = self.store.load_vectors(self.model_id, self.dim)
        floats = self.vectors.dequantize()
        if len(self.ids) < self.graph_threshold:
            exact = ExactIndex(self.dim)
            exact.add(self.ids, floats)
            self.index = exact
        else:
            self.index = self._load_or_build_graph(generation, floats)
        self.generation = generation

    def _load_or_build_graph(self, generation: int, floats: np.ndarray) -> HnswIndex:
        expected = IndexHeader(self.model_id, self.dim, len(self.ids), generation)
        graph: HnswIndex | None = None
        try:
            graph, _ = HnswIndex.load(self.cache_path, expected)
        except EngineError as exc:
            if self.cache_path.exists():
                log.warning("rebuilding vector index: %s", exc)
        if graph is None:
            graph = HnswIndex(self.dim, capacity=len(self.ids))
            self.rebuilt = True
        # Bring the cached graph up to date with the store (crash between commit and
        # save, or an older cache): add what is missing, drop what is gone.
        have = graph.labels()
        missing = ~np.isin(self.ids, have)
        gone = have[~np.isin(have, self.ids)]
        if missing.any():
            graph.add(self.ids[missing], floats[missing])
        if len(gone):
            graph.remove(gone)
        if missing.any() or len(gone) or self.rebuilt or not self.cache_path.exists():
            self._save(graph, expected)
        return graph

    def _save(self, graph: HnswIndex, header: IndexHeader) -> None:
        try:
            graph.save(self.cache_path, header)
        except OSError as exc:  # read-only data dir, disk full: the graph still works
            log.warning("cannot save vector index %s: %s", self.cache_path, exc)

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[ChunkId, float]]:
        """Top `k` passages by cosine, scores recomputed from the int8 vectors."""
        self.refresh()
        if len(self.ids) == 0:
            return []
        if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            rows = np.flatnonzero(np.isin(self.ids, allowed))
            sims = self._cosines(rows, query)
            best = np.argsort(-sims, kind="stable")[:k]
            return [(ChunkId(int(self.ids[rows[i]])), float(sims[i])) for i in best]
        labels, _ = self.index.search(query, k, allowed)
        return list(self.cosines(labels, query).items())

    def cosines(self, chunk_ids: np.ndarray | list[int],
                query: np.ndarray) -> dict[ChunkId, float]:
        """Exact cosine of the query with each given passage that has a vector."""
        self.refresh()
        wanted = np.asarray(chunk_ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, wanted)
        pos = np.clip(pos, 0, max(len(self.ids) - 1, 0))
        found = (len(self.ids) > 0) & (self.ids[pos] == wanted) if len(self.ids) else \
            np.zeros(len(wanted), bool)
        rows = pos[found]
        sims = self._cosines(rows, query)
        pairs = sorted(zip(wanted[found].tolist(), sims.tolist(), strict=True),
                       key=lambda p: -p[1])
        return {ChunkId(i): float(s) for i, s in pairs}

    def _cosines(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        codes = self.vectors.codes[rows].astype(np.float32)
        sims = (codes @ np.asarray(query, dtype=np.float32)) * self.vectors.scales[rows]
        norms = np.linalg.norm(codes, axis=1) * self.vectors.scales[rows]
        return sims / np.maximum(norms, 1e-12)
