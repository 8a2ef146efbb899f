import json
import struct

import numpy as np
import pytest

from engine.dense import DenseIndex
from engine.errors import EngineError
from engine.quantize import quantize
from engine.store import ChunkInput, FileRecord
from engine.vectors import ExactIndex, HnswIndex, IndexHeader, VectorIndex


def _unit(n, dim, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


IMPLEMENTATIONS = [ExactIndex, HnswIndex]


@pytest.mark.parametrize("cls", IMPLEMENTATIONS)
def test_every_index_finds_the_exact_neighbours(cls: type[VectorIndex]):
    vecs = _unit(500, 32)
    index = cls(32)
    index.add(np.arange(1000, 1500), vecs)
    truth = ExactIndex(32)
    truth.add(np.arange(1000, 1500), vecs)
    hits = 0
    for q in _unit(20, 32, seed=1):
        got, sims = index.search(q, 10)
        want, _ = truth.search(q, 10)
        hits += len(set(got.tolist()) & set(want.tolist()))
        assert np.all(np.diff(sims) <= 1e-6)  # best first
    assert hits / 200 >= 0.95


@pytest.mark.parametrize("cls", IMPLEMENTATIONS)
def test_removed_labels_are_never_returned(cls: type[VectorIndex]):
    vecs = _unit(100, 16)
    index = cls(16)
    index.add(np.arange(100), vecs)
    index.remove(np.arange(0, 100, 2))
    index.remove(np.array([12345]))  # unknown: ignored
    got, _ = index.search(vecs[4], 50)
    assert len(got) == 50 and all(g % 2 == 1 for g in got)
    assert sorted(index.labels().tolist()) == list(range(1, 100, 2))


@pytest.mark.parametrize("cls", IMPLEMENTATIONS)
def test_allowed_restricts_results(cls: type[VectorIndex]):
    vecs = _unit(200, 16)
    index = cls(16)
    index.add(np.arange(200), vecs)
    allowed = np.arange(0, 200, 10)
    got, _ = index.search(vecs[3], 5, allowed)
    assert set(got.tolist()) <= set(allowed.tolist()) and len(got) == 5


def _header(count=3):
    return IndexHeader("model-a", 16, count, 7)


def test_hnsw_save_and_load_round_trip(tmp_path):
    vecs = _unit(300, 16)
    index = HnswIndex(16, capacity=10)  # grows past its first capacity
    index.add(np.arange(300), vecs)
    index.remove(np.array([5]))
    path = tmp_path / "v.hnsw"
    index.save(path, _header(299), extra=b"projection")
    loaded, header, extra = HnswIndex.load(path, _header())
    assert header == _header(299) and extra == b"projection"
    assert 5 not in loaded.labels().tolist() and len(loaded.labels()) == 299
    got, _ = loaded.search(vecs[7], 1)
    assert got[0] == 7


def test_a_file_from_before_the_log_position_was_named_so_still_loads(tmp_path):
    index = HnswIndex(16)
    index.add(np.arange(20), _unit(20, 16))
    path = tmp_path / "v.hnsw"
    index.save(path, _header(20))
    data = path.read_bytes()
    meta_len = struct.unpack("<I", data[8:12])[0]
    meta = json.loads(data[20:20 + meta_len])
    meta["generation"] = meta.pop("log_position")  # the key's name until 2026-12
    old = json.dumps(meta).encode()
    path.write_bytes(data[:8] + struct.pack("<I", len(old)) + data[12:20] + old
                     + data[20 + meta_len:])
    _, header, _ = HnswIndex.load(path, _header())
    assert header == _header(20) and header.log_position == 7


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_damaged_index_files_are_detected(tmp_path, damage):
    index = HnswIndex(16)
    index.add(np.arange(50), _unit(50, 16))
    path = tmp_path / "v.hnsw"
    index.save(path, _header())
    blob = bytearray(path.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[-100] ^= 0xFF
    elif damage == "garbage":
        blob = bytearray(np.random.default_rng(0).bytes(len(blob)))
    else:
        blob = bytearray()
    path.write_bytes(bytes(blob))
    with pytest.raises(EngineError):
        HnswIndex.load(path, _header())


def test_index_for_another_model_is_refused(tmp_path):
    index = HnswIndex(16)
    index.add(np.arange(5), _unit(5, 16))
    index.save(tmp_path / "v.hnsw", _header())
    with pytest.raises(EngineError, match="built for"):
        HnswIndex.load(tmp_path / "v.hnsw", IndexHeader("model-b", 16, 5, 7))


def _store_with_vectors(store, n, dim=16):
    with store.write():
        fid = store.upsert_file(FileRecord(b"/r/a", "/r/a", "txt", "a", 1, 1, None), "indexed")
        store.replace_chunks(fid, "a", [ChunkInput(i, f"text {i}", 0, 1) for i in range(n)])
    ids = [c for c, _, _ in store.chunks_without_vectors("m", n)]
    vecs = _unit(n, dim, seed=3)
    with store.write():
        store.put_vectors("m", ids, quantize(vecs))
    return ids, vecs


def test_dense_index_rebuilds_from_the_store_when_the_cache_is_bad(store, tmp_path):
    ids, vecs = _store_with_vectors(store, 120)
    cache = tmp_path / "cache.hnsw"
    first = DenseIndex(store, "m", 16, cache, graph_threshold=0)
    first.refresh()
    assert cache.exists() and first.rebuilt
    again = DenseIndex(store, "m", 16, cache, graph_threshold=0)
    again.refresh()
    assert not again.rebuilt  # loaded from the cache
    cache.write_bytes(cache.read_bytes()[:200])
    third = DenseIndex(store, "m", 16, cache, graph_threshold=0)
    hits = third.search(vecs[10], 1)
    assert third.rebuilt and hits[0][0] == ids[10] and hits[0][1] > 0.99


def test_dense_index_catches_up_after_a_crash_before_saving(store, tmp_path):
    ids, vecs = _store_with_vectors(store, 60)
    cache = tmp_path / "cache.hnsw"
    DenseIndex(store, "m", 16, cache, graph_threshold=0).refresh()
    # Commit more vectors and delete some without anyone saving the graph.
    with store.write():
        fid = store.upsert_file(FileRecord(b"/r/b", "/r/b", "txt", "b", 1, 1, None), "indexed")
        store.replace_chunks(fid, "b", [ChunkInput(0, "new", 0, 3)])
    new_id = store.chunks_without_vectors("m", 5)[0][0]
    probe = _unit(1, 16, seed=99)
    with store.write():
        store.put_vectors("m", [new_id], quantize(probe))
        store.conn.execute("DELETE FROM vectors WHERE chunk_id = ?", (ids[0],))
    index = DenseIndex(store, "m", 16, cache, graph_threshold=0)
    assert index.search(probe[0], 1)[0][0] == new_id
    assert ids[0] not in [c for c, _ in index.search(vecs[0], 5)]
