"""Faults in the dense index: a process killed mid-save, and long random churn.

RELIABILITY.md rows 2 (kill during an HNSW save) and 24 (10k add/update/delete churn).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest

import engine.vectors as vectors
from engine.dense import EXACT_FILTER_LIMIT, DenseIndex, ReducedGraph
from engine.ids import ChunkId
from engine.quantize import quantize
from engine.store import ChunkInput, FileRecord, Store
from engine.vectors import HnswIndex

DIM = 32  # small vectors keep 10k operations quick; the graph keeps all 32 (+1) dims
MODEL = "m"
REPO = Path(__file__).resolve().parents[2]


def _unit(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _new_file(store: Store, name: str, n: int) -> list[ChunkId]:
    """A file with `n` fresh chunks (call inside `store.write()`); their ids."""
    path = f"/r/{name}".encode()
    fid = store.upsert_file(FileRecord(path, path.decode(), "txt", name, 1, 1, None),
                            "indexed")
    store.replace_chunks(fid, name, [ChunkInput(i, f"{name} {i}", 0, 1) for i in range(n)])
    return sorted(ChunkId(int(c)) for c in store.chunk_ids_where("f.id = ?", (fid,)))


def _delete_vectors(store: Store, ids: Sequence[int]) -> None:
    store.conn.executemany("DELETE FROM vectors WHERE chunk_id = ?", [(i,) for i in ids])


def _store_rows(store: Store) -> tuple[np.ndarray, np.ndarray]:
    """(ids, unit float rows) of every vector in the store: the truth to search."""
    ids, q = store.load_vectors(MODEL, DIM)
    rows = q.codes.astype(np.float32)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return ids, rows


def _exact_top(ids: np.ndarray, rows: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(ids[i]) for i in np.argsort(-(rows @ query), kind="stable")[:k]]


# -- row 2: a process killed in the middle of saving the graph ---------------------------

GRAPH_THRESHOLD = 50  # far below the vector counts here: the graph path is used


def _kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _GraphKilledMidWrite:
    """Stands in for the hnswlib index: its own file write dies half-way."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def save_index(self, path: str) -> None:
        self._real.save_index(path)
        with open(path, "r+b") as fh:
            fh.truncate(os.path.getsize(path) // 2)
        _kill_now()


def _copy_half_then_die(src: Any, dst: Any, length: int = 0) -> None:
    dst.write(src.read(max(1, os.fstat(src.fileno()).st_size // 2)))
    dst.flush()
    _kill_now()


def _die_before_rename(src: Any, dst: Any) -> None:
    _kill_now()


_real_replace = os.replace


def _die_after_rename(src: Any, dst: Any) -> None:
    _real_replace(src, dst)
    _kill_now()  # before the directory fsync and the temporary folder's removal


def _kill_during_save(db: str, cache: str, stage: str) -> None:
    """Child process: save a good cache, change the vectors, die while saving again.

    Prints the vector versions of the saved cache and of the save that dies.
    """
    rng = np.random.default_rng(7)
    store = Store.open(Path(db))
    with store.write():
        first = _new_file(store, "a", 150)
        store.put_vectors(MODEL, first, quantize(_unit(150, rng)))
    dense = DenseIndex(store, MODEL, DIM, Path(cache), graph_threshold=GRAPH_THRESHOLD)
    dense.refresh()  # builds the graph and saves it: the previous good cache
    saved = dense.version
    with store.write():
        second = _new_file(store, "b", 60)
        store.put_vectors(MODEL, second, quantize(_unit(60, rng)))
        _delete_vectors(store, first[:20])
        store.put_vectors(MODEL, first[20:30], quantize(_unit(10, rng)))  # updated
    dense.refresh()  # applied incrementally, not saved yet
    print(json.dumps({"saved": saved, "current": dense.version}), flush=True)
    assert isinstance(dense.index, ReducedGraph)
    graph = dense.index.graph
    patches: dict[str, Callable[[], Any]] = {
        "graph": lambda: mock.patch.object(graph, "_index", _GraphKilledMidWrite(graph._index)),
        "copy": lambda: mock.patch.object(vectors.shutil, "copyfileobj", _copy_half_then_die),
        "rename": lambda: mock.patch.object(vectors.os, "replace", _die_before_rename),
        "renamed": lambda: mock.patch.object(vectors.os, "replace", _die_after_rename),
    }
    with patches[stage]():
        dense.save()
    raise SystemExit("the save was not killed")


def _run_killed_child(db: Path, cache: Path, stage: str) -> dict[str, int]:
    script = ("import sys; from tests.engine.test_vector_faults import _kill_during_save;"
              " _kill_during_save(*sys.argv[1:])")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", script, str(db), str(cache), stage],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    versions: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return versions


@pytest.mark.parametrize("stage", ["graph", "copy", "rename", "renamed"])
def test_a_save_killed_midway_leaves_a_loadable_cache_and_no_debris(tmp_path, stage):
    db, cache = tmp_path / "data" / "index.sqlite3", tmp_path / "cache" / "g.hnsw"
    cache.parent.mkdir()
    versions = _run_killed_child(db, cache, stage)
    left = {p.name for p in cache.parent.iterdir()} - {cache.name}
    assert left, "the kill should have left temporary files behind"
    # Killed before the rename: the previous file is intact; after it: the new one.
    # (Read from a copy: loading beside the debris would already clear it.)
    probe = tmp_path / "probe" / cache.name
    probe.parent.mkdir()
    probe.write_bytes(cache.read_bytes())
    _, header, _ = HnswIndex.load(probe)
    assert header.log_position == versions["current" if stage == "renamed" else "saved"]

    store = Store.open(db)
    dense = DenseIndex(store, MODEL, DIM, cache, graph_threshold=GRAPH_THRESHOLD)
    dense.refresh()
    assert not dense.rebuilt and dense.kind == "graph"  # loaded, then caught up
    assert {p.name for p in cache.parent.iterdir()} == {cache.name}  # debris cleared
    ids, rows = _store_rows(store)
    assert sorted(dense.index.labels().tolist()) == ids.tolist() and len(ids) == 190
    # Fewer vectors than the rescoring pool: the graph search is exhaustive, so exact.
    rng = np.random.default_rng(1)
    queries = np.vstack([rows[:5], rows[-5:], _unit(10, rng)])
    for q in queries:
        assert [c for c, _ in dense.search(q, 10)] == _exact_top(ids, rows, q, 10)
    dense.save()
    assert {p.name for p in cache.parent.iterdir()} == {cache.name}
    store.close()


def test_repeated_killed_saves_do_not_pile_up_temporary_files(tmp_path):
    cache = tmp_path / "cache" / "g.hnsw"
    cache.parent.mkdir()
    for round_ in range(3):
        _run_killed_child(tmp_path / f"data{round_}" / "index.sqlite3", cache, "copy")
        # The next process to open the cache clears what the killed ones left.
        HnswIndex.load(cache)
        assert {p.name for p in cache.parent.iterdir()} == {cache.name}


def test_temporary_files_of_a_running_process_and_other_files_are_kept(tmp_path):
    cache = tmp_path / "g.hnsw"
    index = HnswIndex(DIM)
    index.add(np.arange(20), _unit(20, np.random.default_rng(0)))
    index.save(cache, vectors.IndexHeader(MODEL, DIM, 20, 1))
    # A save in flight in a live process (this one), and files that are not debris.
    keep = {f".g.hnsw.{os.getpid()}.abc123.tmp", f".g.hnsw.{os.getpid()}.xyz",
            "g.hnsw.bak", ".g.hnsw.notapid.tmp", "index.sqlite3"}
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    HnswIndex.load(cache)
    index.save(cache, vectors.IndexHeader(MODEL, DIM, 20, 2))
    assert {p.name for p in tmp_path.iterdir()} == keep | {cache.name}


# -- row 24: 10,000 random adds, updates and deletes ----------------------------------


class _Churn:
    """Random changes to a store's vectors, with a model of what the store should hold."""

    def __init__(self, store: Store, rng: np.random.Generator) -> None:
        self.store, self.rng = store, rng
        self.live: set[ChunkId] = set()  # chunks with a vector
        self.bare: list[ChunkId] = []  # chunks without a vector
        self.files: dict[int, list[ChunkId]] = {}
        self.last_changed = 0

    def new_file(self, n: int) -> None:
        number = len(self.files)
        self.files[number] = _new_file(self.store, f"f{number}", n)
        self.bare.extend(self.files[number])

    def put(self, ids: list[ChunkId]) -> None:
        self.store.put_vectors(MODEL, ids, quantize(_unit(len(ids), self.rng)))
        self.last_changed = ids[-1]

    def add(self) -> None:
        if not self.bare:
            self.new_file(40)
        chunk = self.bare.pop(int(self.rng.integers(len(self.bare))))
        self.put([chunk])
        self.live.add(chunk)

    def update(self) -> None:
        self.put([self._pick()])

    def delete(self) -> None:
        chunk = self._pick()
        _delete_vectors(self.store, [chunk])
        self.live.remove(chunk)
        self.bare.append(chunk)

    def reindex_file(self) -> None:
        """A document changed: its old chunks (and their vectors) go, new ones come."""
        number = list(self.files)[int(self.rng.integers(len(self.files)))]
        old = set(self.files[number])
        fid = self.store.upsert_file(
            FileRecord(f"/r/f{number}".encode(), f"/r/f{number}", "txt", "x", 2, 2, None),
            "indexed")
        n = int(self.rng.integers(1, 30))
        self.store.replace_chunks(fid, "x", [ChunkInput(i, f"v {i}", 0, 1) for i in range(n)])
        new = sorted(ChunkId(int(c)) for c in self.store.chunk_ids_where("f.id = ?", (fid,)))
        self.files[number] = new
        self.live -= old
        self.bare = [c for c in self.bare if c not in old]
        self.put(new)
        self.live.update(new)

    def _pick(self) -> ChunkId:
        keys = list(self.live)
        return keys[int(self.rng.integers(len(keys)))]

    def step(self) -> None:
        n, r = len(self.live), self.rng.random()
        if r < 0.01 and n < 700:
            self.reindex_file()
        elif (r < 0.40 and n < 750) or n < 200:
            self.add()
        elif r < 0.70:
            self.update()
        else:
            self.delete()


Search = tuple[np.ndarray, np.ndarray | None]  # a query and its allowed chunk ids


def _check(dense: DenseIndex, store: Store, searches: list[Search]) -> tuple[int, int]:
    """Assert the index holds exactly the store's vectors and every search returns only
    those; (found, wanted) of the searches' true top 10."""
    dense.refresh()
    ids, rows = _store_rows(store)
    labels = dense.index.labels() if dense.index is not None else np.zeros(0, np.int64)
    assert len(np.unique(labels)) == len(labels), "a label is held twice"
    assert np.array_equal(np.sort(labels), ids), "deleted or missing vectors in the index"
    if isinstance(dense.index, ReducedGraph):
        # Every live label carries its current vector, not one an update replaced.
        held_ids, held = dense.index.graph.vectors(ids)
        assert np.array_equal(held_ids, ids)
        assert np.allclose(held, dense.index.projection.passages(rows), atol=1e-5)
    found = wanted = 0
    for q, allowed in searches:
        pool = np.ones(len(ids), bool) if allowed is None else np.isin(ids, allowed)
        truth = _exact_top(ids[pool], rows[pool], q, 10)
        got = [c for c, _ in dense.search(q, 10, allowed)]
        assert len(set(got)) == len(got), "a passage returned twice"
        assert set(got) <= set(ids[pool].tolist()), "a deleted or filtered-out passage"
        assert len(got) == len(truth)
        found += len(set(got) & set(truth))
        wanted += len(truth)
    return found, wanted


def _searches(store: Store, churn: _Churn, pending: list[ChunkId],
              rng: np.random.Generator) -> list[Search]:
    """Plain queries, the vector changed last, and file filters: a few files (scanned
    over the graph's vectors), and those with a large file not embedded yet (walked in
    the graph), both holding chunks whose vectors were deleted."""
    _, rows = _store_rows(store)
    changed = store.vectors_for(MODEL, [churn.last_changed], DIM)[1].codes[0]
    numbers = list(churn.files)
    few = np.array([c for i in rng.choice(len(numbers), 4, replace=False)
                    for c in churn.files[numbers[i]]], np.int64)
    broad = np.concatenate([few, np.array(pending, np.int64)])
    assert len(few) <= EXACT_FILTER_LIMIT < len(broad)
    queries = [*_unit(3, rng), changed.astype(np.float32) / 127,
               rows[int(rng.integers(len(rows)))]]
    return [(q, None) for q in queries] + [(queries[0], few), (queries[1], broad)]


def test_ten_thousand_random_changes_keep_the_index_equal_to_the_store(store, tmp_path):
    rng = np.random.default_rng(2024)
    churn = _Churn(store, rng)
    with store.write():
        for _ in range(10):
            churn.new_file(60)
        for _ in range(400):
            churn.add()
        pending = _new_file(store, "pending", EXACT_FILTER_LIMIT + 100)  # never embedded
    graph = DenseIndex(store, MODEL, DIM, tmp_path / "g.hnsw", graph_threshold=200)
    exact = DenseIndex(store, MODEL, DIM, tmp_path / "e.hnsw", graph_threshold=10**9)
    graph.refresh()
    exact.refresh()
    first_index, graph.rebuilt = graph.index, False
    assert isinstance(first_index, ReducedGraph) and exact.kind == "exact"
    first_graph = first_index.graph
    capacity = first_graph._index.get_max_elements()  # hnswlib's slots at the build
    found = wanted = checks = done = 0
    while done < 10_000:
        with store.write():
            for _ in range(int(rng.integers(1, 8))):
                churn.step()
                done += 1
        assert sorted(churn.live) == _store_rows(store)[0].tolist()  # the model is right
        if rng.random() < 0.2:
            (graph if rng.random() < 0.5 else exact).refresh()
        if done // 250 > checks or done >= 10_000:
            checks += 1
            searches = _searches(store, churn, pending, rng)
            hits, total = _check(graph, store, searches)
            found, wanted = found + hits, wanted + total
            hits, total = _check(exact, store, searches)
            assert hits == total  # the exact scan: recall 1
    assert len(graph) == len(exact) == len(_store_rows(store)[0])
    # The same graph served throughout: every change went through add/remove, none was
    # hidden by a rebuild, and labels far beyond its first capacity were added.
    assert graph.index is first_index and not graph.rebuilt
    # hnswlib keeps a slot per label ever added (deleted ones stay marked).
    assert first_graph._index.get_current_count() > 3 * capacity
    assert first_graph._index.get_max_elements() >= first_graph._index.get_current_count()
    assert found / wanted >= 0.95


def test_a_broad_filter_over_passages_without_vectors_finds_those_that_have_one(
        store, tmp_path):
    rng = np.random.default_rng(5)
    with store.write():
        embedded = _new_file(store, "a", 300)
        store.put_vectors(MODEL, embedded, quantize(_unit(300, rng)))
        pending = _new_file(store, "b", EXACT_FILTER_LIMIT + 100)  # not embedded yet
        _delete_vectors(store, embedded[:100])
    dense = DenseIndex(store, MODEL, DIM, tmp_path / "g.hnsw", graph_threshold=100)
    # Chunks of the filter's files: 2,100 without a vector, 100 deleted, 50 with one.
    allowed = np.array(embedded[:150] + pending, np.int64)
    q = _unit(1, rng)[0]
    got = [c for c, _ in dense.search(q, 10, allowed)]
    assert dense.kind == "graph"
    ids, rows = _store_rows(store)
    pool = np.isin(ids, allowed)
    assert got == _exact_top(ids[pool], rows[pool], q, 10)
