"""DenseIndex: reduced graph + exact rescoring, incremental updates, filters, threads."""

import threading

import numpy as np
import pytest

from engine.dense import DenseIndex, ReducedGraph, build_index
from engine.projection import Projection, reduced_dim
from engine.quantize import quantize
from engine.store import ChunkInput, FileRecord, Store
from engine.vectors import IndexHeader

DIM = 384


def _realistic(n: int, seed: int) -> np.ndarray:
    """Unit vectors with a power-law spectrum and a shared mean direction, as sentence
    embeddings have (engine.projection), in a random rotation."""
    rng = np.random.default_rng(seed)
    scales = np.arange(1, DIM + 1) ** -0.5
    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((DIM, DIM)))
    centres = rng.standard_normal((50, DIM)) * scales
    x = centres[rng.integers(0, 50, n)] + rng.standard_normal((n, DIM)) * scales * 0.7
    x = x @ rotation.T + 0.4 * rotation[:, 0] * np.sqrt((scales ** 2).sum())
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _add(store: Store, vectors: np.ndarray, name: str = "a") -> list[int]:
    with store.write():
        path = f"/r/{name}".encode()
        fid = store.upsert_file(FileRecord(path, path.decode(), "txt", name, 1, 1, None),
                                "indexed")
        store.replace_chunks(fid, name, [ChunkInput(i, f"t{i}", 0, 1)
                                         for i in range(len(vectors))])
    ids = [int(c) for c, _, _ in store.chunks_without_vectors("m", len(vectors))]
    with store.write():
        store.put_vectors("m", ids, quantize(vectors))
    return ids


def _index(store: Store, tmp_path) -> DenseIndex:
    """A dense index that switches to the graph from 1,000 vectors."""
    return DenseIndex(store, "m", DIM, tmp_path / "g.hnsw", graph_threshold=1000)


def _loaded(store: Store, tmp_path) -> DenseIndex:
    """`_index` brought up to date, its `rebuilt` flag cleared for the test to watch."""
    index = _index(store, tmp_path)
    index.refresh()
    index.rebuilt = False
    return index


def _exact(ids: list[int], vectors: np.ndarray, q: np.ndarray, k: int) -> set[int]:
    return {ids[i] for i in np.argsort(-(vectors @ q))[:k]}


def test_the_reduced_graph_finds_the_true_neighbours(store, tmp_path):
    vectors = _realistic(3000, seed=1)
    ids = _add(store, vectors)
    index = _index(store, tmp_path)
    queries = _realistic(30, seed=2)
    hits = sum(len({c for c, _ in index.search(q, 10)} & _exact(ids, vectors, q, 10))
               for q in queries)
    assert index.kind == "graph" and index.index.graph.dim == reduced_dim(DIM) + 1 < DIM
    assert hits / 300 >= 0.95
    best, score = index.search(vectors[7], 1)[0]
    assert best == ids[7] and score > 0.99  # scores are full cosines, not reduced ones


def test_new_and_deleted_vectors_apply_without_a_rebuild(store, tmp_path):
    vectors = _realistic(1200, seed=3)
    ids = _add(store, vectors)
    index = _loaded(store, tmp_path)
    newcomers = _realistic(40, seed=4)
    new_ids = _add(store, newcomers, "b")
    with store.write():
        store.conn.execute("DELETE FROM vectors WHERE chunk_id = ?", (ids[0],))
    assert index.search(newcomers[5], 1)[0][0] == new_ids[5]
    assert ids[0] not in {c for c, _ in index.search(vectors[0], 50)}
    assert not index.rebuilt and len(index) == 1239


def test_a_reader_behind_the_trimmed_log_reloads(store, tmp_path):
    _add(store, _realistic(1200, seed=5))
    reader = _loaded(store, tmp_path)
    later = _realistic(30, seed=6)
    later_ids = _add(store, later, "b")
    with store.write():
        store.trim_vector_log(keep=5)
    assert reader.search(later[3], 1)[0][0] == later_ids[3]
    assert reader.rebuilt


def test_the_cache_is_reused_and_refused_when_foreign(tmp_path):
    cache = tmp_path / "g.hnsw"
    first = Store.open(tmp_path / "one" / "index.sqlite3")
    _add(first, _realistic(1100, seed=7))
    DenseIndex(first, "m", DIM, cache, graph_threshold=1000).refresh()
    again = DenseIndex(first, "m", DIM, cache, graph_threshold=1000)
    again.refresh()
    assert cache.exists() and not again.rebuilt
    # A fresh database (the old one deleted, the cache left behind) must not use it.
    other = Store.open(tmp_path / "two" / "index.sqlite3")
    vectors = _realistic(30, seed=8)
    ids = _add(other, vectors)
    stranger = DenseIndex(other, "m", DIM, cache, graph_threshold=1000)
    assert stranger.search(vectors[2], 1)[0][0] == ids[2] and stranger.rebuilt
    first.close()
    other.close()


def test_small_filters_are_searched_exactly(store, tmp_path):
    vectors = _realistic(2000, seed=9)
    ids = _add(store, vectors)
    index = _index(store, tmp_path)
    allowed = np.array(ids[::50], np.int64)  # 2 %
    q = _realistic(1, seed=10)[0]
    got = [c for c, _ in index.search(q, 10, allowed)]
    want = [ids[i] for i in range(0, 2000, 50)]
    truth = sorted(want, key=lambda c: -float(vectors[ids.index(c)] @ q))[:10]
    assert got == truth


def test_the_index_switches_between_scan_and_graph_as_it_grows_and_shrinks(store, tmp_path):
    ids = _add(store, _realistic(600, seed=11))
    index = _index(store, tmp_path)
    index.refresh()
    assert index.kind == "exact"
    more = _add(store, _realistic(600, seed=12), "b")
    index.refresh()
    assert index.kind == "graph" and len(index) == 1200
    with store.write():
        store.conn.execute(f"DELETE FROM vectors WHERE chunk_id IN "
                           f"({','.join(map(str, ids + more[:300]))})")
    index.refresh()
    assert index.kind == "exact" and len(index) == 300


def test_projection_round_trips_and_keeps_the_leading_components():
    x = _realistic(2000, seed=13)
    p = Projection.fit(x, 64)
    again = Projection.from_bytes(p.to_bytes(), DIM, p.reduced)
    assert np.array_equal(again.basis, p.basis) and np.array_equal(again.mean, p.mean)
    assert again.radius == np.float32(p.radius) and p.reduced == 65
    centred = x - x.mean(axis=0)
    kept = np.linalg.norm(p.passages(x)[:, :-1]) ** 2 / np.linalg.norm(centred) ** 2
    assert kept > 0.5  # a random 64 of 384 directions would keep about 1/6


def test_euclidean_order_of_projected_vectors_is_their_inner_product_order():
    x, q = _realistic(500, seed=16), _realistic(1, seed=17)[0]
    p = Projection.fit(x, 32)
    ys, yq = p.passages(x), p.query(q)
    by_distance = np.argsort(((ys - yq) ** 2).sum(axis=1), kind="stable")
    by_product = np.argsort(-(ys[:, :-1] @ yq[:-1]), kind="stable")
    assert np.array_equal(by_distance[:50], by_product[:50])
    assert np.allclose(np.linalg.norm(ys, axis=1), p.radius, rtol=1e-4)


def test_searches_run_while_a_writer_adds_batches(tmp_path):
    db = tmp_path / "data" / "index.sqlite3"
    writer = Store.open(db)
    _add(writer, _realistic(1100, seed=14))
    reader = Store.open(db, readonly=True)
    index = DenseIndex(reader, "m", DIM, tmp_path / "g.hnsw", graph_threshold=1000)
    index.refresh()
    errors: list[BaseException] = []
    done = threading.Event()
    found = [0]

    def search() -> None:
        probe = _realistic(1, seed=15)[0]
        try:
            while not done.is_set():
                found[0] += len(index.search(probe, 10))
        except BaseException as exc:  # noqa: BLE001 - the test reports what went wrong
            errors.append(exc)

    thread = threading.Thread(target=search)
    thread.start()
    try:
        batches = [_realistic(20, seed=100 + b) for b in range(30)]
        added = [_add(writer, batch, f"w{b}") for b, batch in enumerate(batches)]
    finally:
        done.set()
        thread.join()
    assert errors == [] and found[0] > 0
    assert index.search(batches[-1][0], 1)[0][0] == added[-1][0]
    assert len(index) == 1100 + 600
    reader.close()
    writer.close()


def test_a_doubled_collection_is_refitted_in_the_background(store, tmp_path):
    first = _realistic(1100, seed=20)
    _add(store, first)
    index = _index(store, tmp_path)
    index.refresh()
    old_graph = index.index
    grown = _realistic(1200, seed=21)
    grown_ids = _add(store, grown, "b")
    # The refit starts here; the old graph keeps answering, with the new vectors in it.
    assert index.search(grown[5], 1)[0][0] == grown_ids[5]
    late = _realistic(10, seed=22)
    late_ids = _add(store, late, "c")  # arrives while the new graph is being built
    assert index.search(late[3], 1)[0][0] == late_ids[3]
    index.wait_for_refit()
    assert index.search(late[4], 1)[0][0] == late_ids[4]
    assert index.index is not old_graph and index.index.fitted_on >= 2300
    assert len(index) == 1100 + 1200 + 10


def test_broad_filters_walk_the_graph_and_keep_recall(store, tmp_path):
    vectors = _realistic(3000, seed=23)
    ids = _add(store, vectors)
    index = _index(store, tmp_path)
    keep = [i for i in range(3000) if i % 6 != 0]  # 2,500: above the scan limit
    allowed = np.array([ids[i] for i in keep], np.int64)
    hits = 0
    for q in _realistic(20, seed=24):
        got = [c for c, _ in index.search(q, 10, allowed)]
        assert len(got) == 10 and set(got) <= set(allowed.tolist())
        truth = sorted(keep, key=lambda i: -float(vectors[i] @ q))[:10]
        hits += len(set(got) & {ids[i] for i in truth})
    assert hits / 200 >= 0.95


@pytest.mark.parametrize("kind", ["exact", "graph"])
def test_both_kinds_of_index_keep_one_contract(kind, tmp_path):
    rows = _realistic(1600, seed=30)
    ids = np.arange(1, 1501, dtype=np.int64)
    index = build_index(ids, rows[:1500], dim=DIM, threads=1,
                        graph_threshold=1000 if kind == "graph" else 10**9)
    assert index.kind == kind and len(index) == 1500
    # 100 new, 50 replaced by other vectors, 50 gone.
    index.apply(np.arange(1501, 1601), rows[1500:], np.zeros(0, np.int64))
    index.apply(np.arange(1, 51), rows[1550:1600], np.arange(51, 101))
    truth_ids = np.concatenate([np.arange(1, 51), np.arange(101, 1601)])
    truth_rows = np.vstack([rows[1550:1600], rows[100:1600]])
    assert np.array_equal(np.sort(index.labels()), truth_ids)
    allowed = truth_ids[::3]
    found = wanted = 0
    for q in _realistic(20, seed=31):
        for subset in (None, allowed):
            pool = np.ones(len(truth_ids), bool) if subset is None else \
                np.isin(truth_ids, subset)
            truth = set(_exact(list(truth_ids[pool]), truth_rows[pool], q, 10))
            labels, sims = index.search(q, 10, subset)
            assert not set(labels.tolist()) & set(range(51, 101))  # gone stays gone
            if subset is not None:
                assert set(labels.tolist()) <= set(allowed.tolist())
            if sims is None:  # candidates: rescore them, as DenseIndex does
                held = {int(i): r for i, r in zip(truth_ids, truth_rows, strict=True)}
                labels = np.array(sorted(labels.tolist(), key=lambda c: -held[c] @ q))
            found += len(truth & set(labels[:10].tolist()))
            wanted += 10
    assert found / wanted >= (0.99 if kind == "exact" else 0.95)  # exact: ties aside
    header = IndexHeader("m", DIM, len(index), 7)
    saved = index.save(tmp_path / "i.hnsw", header)
    assert saved == (kind == "graph")  # the scan is rebuilt from the store instead
    if saved:
        loaded, back = ReducedGraph.load(tmp_path / "i.hnsw", header, threads=1)
        assert back == header
        assert np.array_equal(np.sort(loaded.labels()), truth_ids)
        assert np.array_equal(loaded.search(truth_rows[0], 10, None)[0],
                              index.search(truth_rows[0], 10, None)[0])


class _HeldBuild(DenseIndex):
    """A background-building index whose graph builds wait for the test's go-ahead."""

    def __init__(self, *args, fail: bool = False, **kwargs) -> None:
        super().__init__(*args, background=True, **kwargs)
        self.go = threading.Event()
        self.started = threading.Event()
        self.fail = fail

    def _build_graph(self, ids, rows):
        self.started.set()
        self.go.wait()
        if self.fail:
            raise MemoryError("no room for the graph")
        return super()._build_graph(ids, rows)


def test_the_first_graph_is_built_in_the_background_while_a_scan_answers(store, tmp_path):
    vectors = _realistic(1500, seed=30)
    ids = _add(store, vectors)
    index = _HeldBuild(store, "m", DIM, tmp_path / "g.hnsw", graph_threshold=1000)
    asked: list[int] = []
    store.preload = lambda: asked.append(1) or 0  # what the OS is asked to read back in
    # The first search does not wait for the graph: an exact scan answers, exactly.
    found = index.search(vectors[7], 10)
    assert index.building and index.kind == "exact"
    codes = quantize(vectors).codes.astype(np.float32)  # the scores come from int8
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    assert [c for c, _ in found] == [ids[i] for i in np.argsort(-(codes @ vectors[7]))[:10]]
    late = _realistic(20, seed=31)
    late_ids = _add(store, late, "late")  # arrives while the graph is being built
    deleted = ids[:100]
    with store.write():
        store.conn.executemany("DELETE FROM vectors WHERE chunk_id = ?",
                               [(c,) for c in deleted])
    index.go.set()
    index.wait_for_refit()
    assert not asked
    index.settle()  # what the service does when it finds the build done
    assert index.kind == "graph" and not index.building
    index.preloading.join()
    assert asked == [1]  # the store's pages the build may have displaced
    assert index.search(late[3], 1)[0][0] == late_ids[3]  # caught up from the log
    assert not set(deleted) & {c for c, _ in index.search(vectors[0], 50)}
    assert len(index) == 1500 - 100 + 20
    # The adopted graph was saved: a new process loads it instead of building again.
    again = DenseIndex(store, "m", DIM, tmp_path / "g.hnsw", graph_threshold=1000,
                       background=True)
    again.refresh()
    assert again.kind == "graph" and not again.building and not again.rebuilt


def test_cosines_while_the_scan_stands_in_come_from_the_store(store, tmp_path):
    _add(store, _realistic(1200, seed=32))
    index = _HeldBuild(store, "m", DIM, tmp_path / "g.hnsw", graph_threshold=1000)
    index.refresh()
    late = _realistic(5, seed=33)
    late_ids = _add(store, late, "late")
    # The stand-in scan does not hold the new vectors; the keyword side's candidates
    # still get their cosine.
    assert set(index.cosines(late_ids, late[0])) == set(late_ids)
    index.go.set()
    index.wait_for_refit()


def test_a_failed_background_build_leaves_the_scan_serving_and_up_to_date(store, tmp_path):
    _add(store, _realistic(1200, seed=34))
    index = _HeldBuild(store, "m", DIM, tmp_path / "g.hnsw", graph_threshold=1000,
                       fail=True)
    index.refresh()
    index.go.set()
    index.wait_for_refit()
    late = _realistic(5, seed=35)
    late_ids = _add(store, late, "late")
    assert index.search(late[2], 1)[0][0] == late_ids[2]
    assert index.kind == "exact" and not index.building  # not retried on every search


def test_the_exact_scan_holds_the_int8_codes_and_scores_as_float_rows_would(store, tmp_path):
    vectors = _realistic(800, seed=21)
    ids = _add(store, vectors)
    index = _loaded(store, tmp_path)  # below the threshold: an exact scan
    more = _realistic(30, seed=22)
    more_ids = _add(store, more, "b")
    with store.write():
        store.conn.execute("DELETE FROM vectors WHERE chunk_id = ?", (ids[3],))
    query = _realistic(1, seed=23)[0]
    found = index.search(query, 10)
    assert index.kind == "exact" and len(index) == 829
    # A quarter of float32 rows' size, also after changes were applied.
    assert index.index.exact.nbytes < 829 * DIM * 4 / 3
    everything = np.vstack([vectors, more])
    every_id = [*ids, *more_ids]
    codes = quantize(everything).codes.astype(np.float64)
    units = codes / np.linalg.norm(codes, axis=1, keepdims=True)
    sims = {c: float(units[i] @ query) for i, c in enumerate(every_id) if c != ids[3]}
    truth = sorted(sims, key=sims.get, reverse=True)[:10]
    assert [c for c, _ in found] == truth
    assert np.allclose([s for _, s in found], [sims[c] for c in truth], atol=1e-5)
    held_ids, held = index.unit_vectors([more_ids[0], ids[5]])
    assert held.dtype == np.float32
    assert np.allclose(held[list(held_ids).index(more_ids[0])],
                       units[800], atol=1e-6)
