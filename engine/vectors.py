"""Nearest-neighbour indexes over passage vectors: exact search and HNSW (hnswlib).

Indexes hold candidates only; scores that reach the user are recomputed from the
int8 vectors in the store (see engine.dense).
"""

from __future__ import annotations

import glob
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

MAGIC = b"DFHNSW02"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class IndexHeader:
    """What an index file was built for; a file whose header disagrees is not used."""

    model_id: str
    dim: int
    count: int
    log_position: int  # the store's vector change-log position the file reflects


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


class UnitRows:
    """Unit vectors kept as the store's int8 codes and one inverse norm per row, a
    quarter of their float32 size (at a million 384-d passages 0.4 GB, not 1.5), and
    read as float32 rows only a block at a time.  The scale of each row cancels out of
    a unit vector, so the codes alone give it exactly.

    Enough of an array for the exact scan and the graph's build: `len`, `shape`,
    indexing (`rows[key]` is float32 rows), `rows @ query` a block at a time, and
    `select`/`stack` that stay compact."""

    # Rows a scan turns into float32 at once: 1.5 MiB at 384 dimensions, which stays in
    # the CPU's cache, so the scan reads a byte per dimension from memory instead of
    # four; at a million rows it took 0.92 of a float32 scan's time
    # (tests/bench/bench_exact_scan.py).  Blocks much larger than the cache were
    # several times slower than float32 in a first try.
    BLOCK = 1_024

    def __init__(self, codes: np.ndarray, inverse_norms: np.ndarray) -> None:
        self.codes = codes
        self.inverse_norms = inverse_norms

    @classmethod
    def of(cls, codes: np.ndarray) -> UnitRows:
        """The unit rows of these int8 codes (the codes are shared, not copied)."""
        codes = np.asarray(codes, dtype=np.int8)
        # Exact in int32 (at most 127² per dimension), without a widened copy of the codes.
        norms = np.sqrt(np.einsum("ij,ij->i", codes, codes, dtype=np.int32), dtype=np.float32)
        return cls(codes, 1.0 / np.maximum(norms, np.float32(1e-12)))

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.codes.shape[0]), int(self.codes.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.inverse_norms.nbytes)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.codes[key].astype(np.float32) * self.inverse_norms[key][..., None]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rows = self[:]
        return rows if dtype is None else rows.astype(dtype, copy=False)

    def __matmul__(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32)
        out = np.empty(len(self), dtype=np.float32)
        floats = np.empty((min(self.BLOCK, len(self)), self.codes.shape[1]), np.float32)
        for start in range(0, len(self), self.BLOCK):
            codes = self.codes[start:start + self.BLOCK]
            block = floats[:len(codes)]
            np.copyto(block, codes, casting="unsafe")
            np.matmul(block, query, out=out[start:start + len(codes)])
        out *= self.inverse_norms
        return out

    def select(self, key: Any) -> UnitRows:
        """These rows, still as codes."""
        return UnitRows(self.codes[key], self.inverse_norms[key])

    @staticmethod
    def stack(first: UnitRows, second: UnitRows) -> UnitRows:
        return UnitRows(np.concatenate([first.codes, second.codes]),
                        np.concatenate([first.inverse_norms, second.inverse_norms]))


Rows = np.ndarray | UnitRows  # what an exact scan holds: float32 unit rows, or codes


def select_rows(rows: Rows, key: Any) -> Rows:
    """Some of `rows`, in the form they are held (codes stay codes)."""
    return rows.select(key) if isinstance(rows, UnitRows) else rows[key]


def _stack(first: Rows, second: Rows) -> Rows:
    """`first` then `second`: codes if both are codes (or one is empty), else floats."""
    if len(second) == 0:
        return first
    if len(first) == 0:
        return second
    if isinstance(first, UnitRows) and isinstance(second, UnitRows):
        return UnitRows.stack(first, second)
    return np.vstack([np.asarray(first, dtype=np.float32), np.asarray(second, dtype=np.float32)])


class ExactIndex(VectorIndex):
    """Brute-force inner product; exact, and faster than a graph for small sets."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._ids = np.zeros(0, dtype=np.int64)
        self._vecs: Rows = np.zeros((0, dim), dtype=np.float32)

    @classmethod
    def over(cls, ids: np.ndarray, vectors: Rows) -> ExactIndex:
        """An index over these rows as they are (no copy: the caller gives them up,
        or shares them read-only)."""
        index = cls(vectors.shape[1])
        index._ids = np.asarray(ids, dtype=np.int64)
        index._vecs = vectors if isinstance(vectors, UnitRows) \
            else np.asarray(vectors, dtype=np.float32)
        return index

    def add(self, ids: np.ndarray, vectors: Rows) -> None:
        """Float32 unit rows, or `UnitRows` (kept as codes while everything held is)."""
        ids = np.asarray(ids, dtype=np.int64)
        keep = ~np.isin(self._ids, ids)
        self._ids = np.concatenate([self._ids[keep], ids])
        self._vecs = _stack(select_rows(self._vecs, keep), vectors)

    def remove(self, ids: np.ndarray) -> None:
        keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        self._ids, self._vecs = self._ids[keep], select_rows(self._vecs, keep)

    def search(self, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        ids, vecs = self._ids, self._vecs
        if allowed is not None:
            mask = np.isin(ids, allowed)
            ids, vecs = ids[mask], select_rows(vecs, mask)
        return top_k(ids, vecs @ np.asarray(query, dtype=np.float32), k)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def nbytes(self) -> int:
        """Memory held by the labels and rows."""
        return int(self._ids.nbytes + self._vecs.nbytes)

    def labels(self) -> np.ndarray:
        return self._ids.copy()

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of those `ids` held here, in the index's order."""
        mask = np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        return self._ids[mask], self._vecs[mask]


def top_k(ids: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` highest similarities with their ids, best first."""
    if k <= 0 or len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    part = np.argpartition(-sims, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    order = part[np.argsort(-sims[part], kind="stable")]
    return ids[order], sims[order].astype(np.float32)


class HnswIndex(VectorIndex):
    """hnswlib graph with a lock: hnswlib itself is not safe for add and query at once.

    Live labels are a sorted numpy array (8 bytes each), not a Python set (~60).
    """

    def __init__(self, dim: int, *, space: str = "ip", capacity: int = 1024, m: int = 16,
                 ef_construction: int = 200, ef_search: int = 128, threads: int = 1,
                 graph_file: Path | None = None) -> None:
        """An empty graph, or the one hnswlib saved in `graph_file`.

        `space` "ip" ranks by inner product; "l2" by Euclidean distance (its search
        returns negated squared distances as similarities).
        """
        import hnswlib

        self.dim = dim
        self.space = space
        self.ef_search = ef_search
        self.threads = max(1, threads)
        self._lock = threading.Lock()
        self._index = hnswlib.Index(space=space, dim=dim)
        if graph_file is not None:
            self._index.load_index(str(graph_file), max_elements=0)
        else:
            self._index.init_index(max_elements=max(capacity, 16), M=m,
                                   ef_construction=ef_construction,
                                   allow_replace_deleted=False)
        self._live = np.zeros(0, dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        with self._lock:
            needed = self._index.get_current_count() + len(ids)
            if needed > self._index.get_max_elements():
                # Grow by a quarter, not double: hnswlib allocates per-slot memory for
                # the whole capacity, and at a million passages doubling costs ~100 MB.
                self._index.resize_index(max(needed, self._index.get_max_elements() * 5 // 4))
            # An existing label (live or deleted) is updated in place and made live.
            self._index.add_items(np.asarray(vectors, dtype=np.float32), ids,
                                  num_threads=self.threads)
            self._live = _sorted_union(self._live, ids)

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            ids = np.unique(np.asarray(ids, dtype=np.int64))
            gone = ids[_sorted_contains(self._live, ids)]
            for label in gone:
                self._index.mark_deleted(int(label))
            self._live = np.delete(self._live, np.searchsorted(self._live, gone))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               ef: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Up to `k` (labels, similarities); `ef` (at least `k`) overrides the graph's
        search breadth."""
        with self._lock:
            k = min(k, len(self._live))
            if k <= 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            self._index.set_ef(max(ef or self.ef_search, k))
            filt = None
            if allowed is not None:
                # Only labels the graph holds count: hnswlib returns k results or raises,
                # and a filter's passages may be deleted or not embedded yet.
                allowed = np.unique(np.asarray(allowed, dtype=np.int64))
                allowed = allowed[_sorted_contains(self._live, allowed)]
                k = min(k, len(allowed))
                if k == 0:
                    return np.zeros(0, np.int64), np.zeros(0, np.float32)
                filt = set(allowed.tolist()).__contains__
            while True:
                try:
                    labels, dists = self._index.knn_query(
                        np.asarray(query, dtype=np.float32)[None, :], k=k, filter=filt)
                    break
                except RuntimeError:
                    # Fewer than k live labels reachable (deletions and in-place
                    # updates can cut some off): take fewer rather than fail the search.
                    if k == 1:
                        return np.zeros(0, np.int64), np.zeros(0, np.float32)
                    k //= 2
        # hnswlib's "ip" distance is 1 - inner product; "l2" is the squared distance.
        sims = 1.0 - dists[0] if self.space == "ip" else -dists[0]
        return labels[0].astype(np.int64), sims.astype(np.float32)

    def vectors(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, vectors) for those of `labels` that are live, as stored in the graph."""
        labels = np.unique(np.asarray(labels, dtype=np.int64))
        with self._lock:
            live = labels[_sorted_contains(self._live, labels)]
            if len(live) == 0:
                return live, np.zeros((0, self.dim), np.float32)
            # A list: hnswlib converts it twice as fast as an array.
            return live, np.asarray(self._index.get_items(live.tolist()), dtype=np.float32)

    def labels(self) -> np.ndarray:
        return self._live.copy()

    def __len__(self) -> int:
        return len(self._live)

    def save(self, path: Path, header: IndexHeader, extra: bytes = b"") -> None:
        """Write header + `extra` + graph to `path` atomically (temp file, fsync, rename).

        The graph is streamed from hnswlib's own file, never held in memory a second time.
        """
        remove_stale_temporaries(path)
        with self._lock, tempfile.TemporaryDirectory(dir=path.parent,
                                                     prefix=_temp_prefix(path)) as tmp:
            raw = Path(tmp) / "graph.bin"
            self._index.save_index(str(raw))
            live = self._live
            digest = hashlib.sha256()
            with raw.open("rb") as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    digest.update(block)
            meta = json.dumps({**asdict(header), "live": len(live), "graph_dim": self.dim,
                               "space": self.space,
                               "payload_sha256": digest.hexdigest(),
                               "extra_sha256": hashlib.sha256(extra).hexdigest(),
                               "payload_len": raw.stat().st_size}).encode()
            head = (MAGIC + struct.pack("<III", len(meta), len(live), len(extra)) + meta
                    + live.tobytes() + extra)
            atomic_write(path, head, raw)

    @classmethod
    def load(cls, path: Path,
             expected: IndexHeader | None = None) -> tuple[HnswIndex, IndexHeader, bytes]:
        """Read an index written by `save`; raise EngineError if it is damaged or foreign."""
        remove_stale_temporaries(path)
        try:
            with path.open("rb") as fh, tempfile.TemporaryDirectory(
                    dir=path.parent, prefix=_temp_prefix(path)) as tmp:
                header, meta, live, extra = _read_head(fh, path, expected)
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
                index = cls(int(meta.get("graph_dim", header.dim)),
                            space=str(meta.get("space", "ip")), graph_file=raw)
        except OSError as exc:
            raise EngineError(f"cannot read {path}: {exc.strerror}") from exc
        except RuntimeError as exc:  # hnswlib's own complaint about its file
            raise EngineError(f"{path} is not a readable graph: {exc}") from exc
        index._live = np.sort(live)
        return index, header, extra


def _sorted_contains(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` are in the sorted array `sorted_ids` (O(m log n), no sort of n)."""
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids


def _sorted_union(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """`sorted_ids` with `ids` merged in; appending is the common case (new chunk ids
    only grow), and never costs a sort of the whole set."""
    ids = np.unique(ids)
    new = ids[~_sorted_contains(sorted_ids, ids)]
    if len(new) == 0:
        return sorted_ids
    if len(sorted_ids) == 0 or new[0] > sorted_ids[-1]:
        return np.concatenate([sorted_ids, new])
    return np.insert(sorted_ids, np.searchsorted(sorted_ids, new), new)


def _read_head(fh: BinaryIO, path: Path, expected: IndexHeader | None
               ) -> tuple[IndexHeader, dict[str, Any], np.ndarray, bytes]:
    """Header, metadata, live labels and extra bytes of an index file; leaves `fh` at
    the graph."""
    start = fh.read(20)
    if len(start) < 20 or start[:8] != MAGIC:
        raise EngineError(f"{path} is not a Deskfind vector index (or an older format)")
    meta_len, n_live, n_extra = struct.unpack("<III", start[8:20])
    try:
        meta = json.loads(fh.read(meta_len))
        # Files written before the rename call the log position "generation".
        position = meta["log_position"] if "log_position" in meta else meta["generation"]
        header = IndexHeader(meta["model_id"], int(meta["dim"]), int(meta["count"]),
                             int(position))
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"{path} has a damaged header") from exc
    if expected is not None and (header.model_id, header.dim) != (expected.model_id,
                                                                  expected.dim):
        raise EngineError(f"{path} was built for {header.model_id}/{header.dim}")
    labels = fh.read(8 * n_live)
    extra = fh.read(n_extra)
    if len(labels) != 8 * n_live or len(extra) != n_extra or \
            hashlib.sha256(extra).hexdigest() != meta.get("extra_sha256"):
        raise EngineError(f"{path} is truncated or corrupted")
    return header, meta, np.frombuffer(labels, dtype=np.int64), extra


def atomic_write(path: Path, data: bytes, then: Path | None = None) -> None:
    """Replace `path` with `data` (followed by the file `then`, streamed) so readers see
    the old or the new file, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
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


def _temp_prefix(path: Path) -> str:
    """Prefix of this process's temporary files and folders beside `path`.

    The pid in it tells a later process the debris of a killed save or load (each
    leaves a whole copy of the graph) from the files of a writer still running.
    """
    return f".{path.name}.{os.getpid()}."


def remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files and folders beside `path` of processes that died."""
    try:
        entries = list(path.parent.glob(f".{glob.escape(path.name)}.*"))
        for entry in entries:
            pid = entry.name[len(path.name) + 2:].partition(".")[0]
            if not pid.isdigit() or _process_exists(int(pid)):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    except OSError:  # a read-only data dir: the debris stays, the index still works
        pass


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process, or no pid at all
        return True
    return True
