"""Nearest-neighbour indexes over passage vectors: exact search and HNSW (hnswlib).

Indexes hold candidates only; scores that reach the user are recomputed from the
int8 vectors in the store (see engine.dense).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from engine.errors import EngineError

MAGIC = b"DFHNSW01"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class IndexHeader:
    """What an index file was built for; a file whose header disagrees is not used."""

    model_id: str
    dim: int
    count: int
    generation: int


class VectorIndex(ABC):
    """A set of labelled unit vectors searchable by inner product."""

    dim: int

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace vectors under integer labels."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> None:
        """Forget labels; unknown labels are ignored."""

    @abstractmethod
    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to `k` (labels, similarities), best first, restricted to `allowed` labels."""

    @abstractmethod
    def labels(self) -> np.ndarray:
        """Labels currently searchable."""


class ExactIndex(VectorIndex):
    """Brute-force inner product; exact, and faster than a graph for small sets."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._ids = np.zeros(0, dtype=np.int64)
        self._vecs = np.zeros((0, dim), dtype=np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        keep = ~np.isin(self._ids, ids)
        self._ids = np.concatenate([self._ids[keep], ids])
        self._vecs = np.vstack([self._vecs[keep], np.asarray(vectors, dtype=np.float32)])

    def remove(self, ids: np.ndarray) -> None:
        keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        self._ids, self._vecs = self._ids[keep], self._vecs[keep]

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        ids, vecs = self._ids, self._vecs
        if allowed is not None:
            mask = np.isin(ids, allowed)
            ids, vecs = ids[mask], vecs[mask]
        return top_k(ids, vecs @ np.asarray(query, dtype=np.float32), k)

    def labels(self) -> np.ndarray:
        return self._ids.copy()


def top_k(ids: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` highest similarities with their ids, best first."""
    if k <= 0 or len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    part = np.argpartition(-sims, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    order = part[np.argsort(-sims[part], kind="stable")]
    return ids[order], sims[order].astype(np.float32)


class HnswIndex(VectorIndex):
    """hnswlib graph with a lock: hnswlib itself is not safe for add and query at once."""

    def __init__(self, dim: int, *, capacity: int = 1024, m: int = 16,
                 ef_construction: int = 200, ef_search: int = 128) -> None:
        import hnswlib

        self.dim = dim
        self.ef_search = ef_search
        self._lock = threading.Lock()
        self._index = hnswlib.Index(space="ip", dim=dim)
        self._index.init_index(max_elements=max(capacity, 16), M=m,
                               ef_construction=ef_construction, allow_replace_deleted=False)
        self._index.set_num_threads(1)
        self._live: set[int] = set()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        with self._lock:
            needed = self._index.get_current_count() + len(ids)
            if needed > self._index.get_max_elements():
                self._index.resize_index(max(needed, 2 * self._index.get_max_elements()))
            self._index.add_items(np.asarray(vectors, dtype=np.float32), ids)
            self._live.update(int(i) for i in ids)

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            for label in np.asarray(ids, dtype=np.int64):
                if int(label) in self._live:
                    self._index.mark_deleted(int(label))
                    self._live.discard(int(label))

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            k = min(k, len(self._live))
            if k <= 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            self._index.set_ef(max(self.ef_search, k))
            filt = None
            if allowed is not None:
                allowed_set = set(np.asarray(allowed, dtype=np.int64).tolist())
                k = min(k, len(allowed_set))
                if k == 0:
                    return np.zeros(0, np.int64), np.zeros(0, np.float32)
                filt = allowed_set.__contains__
            labels, dists = self._index.knn_query(
                np.asarray(query, dtype=np.float32)[None, :], k=k, filter=filt)
        # hnswlib's "ip" distance is 1 - inner product.
        return labels[0].astype(np.int64), (1.0 - dists[0]).astype(np.float32)

    def labels(self) -> np.ndarray:
        return np.fromiter(sorted(self._live), dtype=np.int64, count=len(self._live))

    def save(self, path: Path, header: IndexHeader) -> None:
        """Write header + graph to `path` atomically (temp file, fsync, rename).

        The graph is streamed from hnswlib's own file, never held in memory a second time:
        at a million vectors it is 1.7 GB.
        """
        with self._lock, tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            raw = Path(tmp) / "graph.bin"
            self._index.save_index(str(raw))
            live = np.fromiter(sorted(self._live), dtype=np.int64, count=len(self._live))
            digest = hashlib.sha256()
            with raw.open("rb") as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    digest.update(block)
            meta = json.dumps({**asdict(header), "live": len(self._live),
                               "payload_sha256": digest.hexdigest(),
                               "payload_len": raw.stat().st_size}).encode()
            head = MAGIC + struct.pack("<II", len(meta), len(live)) + meta + live.tobytes()
            atomic_write(path, head, raw)

    @classmethod
    def load(cls, path: Path, expected: IndexHeader | None = None) -> tuple[HnswIndex, IndexHeader]:
        """Read an index written by `save`; raise EngineError if it is damaged or foreign."""
        try:
            with path.open("rb") as fh, tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                header, meta, live = _read_head(fh, path, expected)
                raw = Path(tmp) / "graph.bin"
                digest, size = hashlib.sha256(), 0
                with raw.open("wb") as out:
                    for block in iter(lambda: fh.read(_BLOCK), b""):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
                if size != meta.get("payload_len") or \
                        digest.hexdigest() != meta.get("payload_sha256"):
                    raise EngineError(f"{path} is truncated or corrupted")
                index = cls(header.dim)
                index._index.load_index(str(raw), max_elements=0)
        except OSError as exc:
            raise EngineError(f"cannot read {path}: {exc.strerror}") from exc
        index._index.set_num_threads(1)
        index._live = set(live.tolist())
        return index, header


def _read_head(fh: BinaryIO, path: Path,
               expected: IndexHeader | None) -> tuple[IndexHeader, dict[str, Any], np.ndarray]:
    """Header, metadata and live labels of an index file; leaves `fh` at the graph."""
    start = fh.read(16)
    if len(start) < 16 or start[:8] != MAGIC:
        raise EngineError(f"{path} is not a Deskfind vector index")
    meta_len, n_live = struct.unpack("<II", start[8:16])
    try:
        meta = json.loads(fh.read(meta_len))
        header = IndexHeader(meta["model_id"], int(meta["dim"]), int(meta["count"]),
                             int(meta["generation"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"{path} has a damaged header") from exc
    if expected is not None and (header.model_id, header.dim) != (expected.model_id,
                                                                  expected.dim):
        raise EngineError(f"{path} was built for {header.model_id}/{header.dim}")
    labels = fh.read(8 * n_live)
    if len(labels) != 8 * n_live:
        raise EngineError(f"{path} is truncated or corrupted")
    return header, meta, np.frombuffer(labels, dtype=np.int64)


def atomic_write(path: Path, data: bytes, then: Path | None = None) -> None:
    """Replace `path` with `data` (followed by the file `then`, streamed) so readers see
    the old or the new file, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if then is not None:
                with then.open("rb") as src:
                    shutil.copyfileobj(src, fh, _BLOCK)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
