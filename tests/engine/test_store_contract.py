"""The store contract (engine.storage.IndexStore), held to by both implementations: every
test here runs on SQLite and on a real PostgreSQL server."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine.fingerprint import Fingerprint
from engine.ids import ChunkId, FileId
from engine.quantize import quantize
from engine.query import KeywordMatch, parse_filters
from engine.storage import IndexStore, open_store
from engine.store import _ID_BATCH, ChunkInput, FileRecord

BACKENDS = ["sqlite", "postgresql"]


def _open(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> IndexStore:
    database = request.getfixturevalue("postgres_database") if backend == "postgresql" \
        else None
    return open_store(database, tmp_path / "data" / "index.sqlite3")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexStore]:
    s = _open(request.param, tmp_path, request)
    yield s
    s.close()


def words(*terms: str) -> KeywordMatch:
    return KeywordMatch(any_of=terms)


def _record(path: bytes, title: str = "t", *, ext: str = "txt", mtime_ns: int = 1,
            ) -> FileRecord:
    return FileRecord(path, path.decode("utf-8", "replace"), ext, title, 10, mtime_ns, "h")


def _add(store: IndexStore, path: bytes, texts: list[str], **record: object) -> FileId:
    with store.write():
        fid = store.upsert_file(_record(path, **record), "indexed")  # type: ignore[arg-type]
        store.replace_chunks(fid, "t", [ChunkInput(i, t, 10 * i, 10 * i + len(t))
                                        for i, t in enumerate(texts)])
    return fid


def _embed(store: IndexStore, model: str = "m", dim: int = 4) -> list[ChunkId]:
    ids = [c for c, _, _ in store.chunks_without_vectors(model, 1000)]
    rng = np.random.default_rng(len(ids))
    with store.write():
        store.put_vectors(model, ids, quantize(rng.standard_normal((len(ids), dim))
                                               .astype(np.float32)))
    return ids


def test_chunks_are_searchable_and_replaced(store):
    fid = _add(store, b"/r/a.txt", ["the quick brown fox", "lazy dogs sleep"])
    hits = store.keyword_search(words("fox"), 10)
    assert len(hits) == 1 and hits[0][1] > 0
    with store.write():
        store.replace_chunks(fid, "t", [ChunkInput(0, "a slow green turtle", 0, 19)])
    assert store.keyword_search(words("fox"), 10) == []
    assert len(store.keyword_search(words("turtle"), 10)) == 1
    assert store.passage_count() == 1
    assert store.integrity_problems() == []


def test_deleting_a_file_removes_its_passages_keywords_and_vectors(store):
    fid = _add(store, b"/r/a.txt", ["alpha beta", "gamma delta"])
    _embed(store)
    version = store.vector_version()
    with store.write():
        store.delete_files([fid])
    assert store.keyword_search(words("alpha"), 10) == []
    assert store.counts().chunks == 0 and store.counts().embedded == 0
    assert store.vector_version() > version
    assert store.passage_count() == 0
    assert store.integrity_problems() == []


def test_vectors_round_trip_through_int8(store):
    _add(store, b"/r/a.txt", ["one", "two", "three"])
    ids = [c for c, _, _ in store.chunks_without_vectors("m", 10)]
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with store.write():
        store.put_vectors("m", ids, quantize(vecs))
    loaded_ids, q = store.load_vectors("m", 8)
    assert sorted(loaded_ids.tolist()) == sorted(ids)
    order = np.argsort(ids)
    assert np.allclose(q.dequantize(), vecs[order], atol=0.01)
    some_ids, some = store.vectors_for("m", [ids[2], ids[0]], 8)
    assert some_ids.tolist() == sorted([ids[0], ids[2]])
    assert np.array_equal(some.codes, q.codes[[0, 2]] if ids[0] < ids[2] else q.codes[[2, 0]])
    assert store.chunks_without_vectors("m", 10) == []
    assert len(store.chunks_without_vectors("other-model", 10)) == 3
    assert store.counts("m").embedded == 3 and store.counts("other-model").embedded == 0


def test_the_vector_log_names_each_changed_passage_once(store):
    fid = _add(store, b"/r/a.txt", ["one", "two"])
    first = _embed(store)
    start = store.vector_version()
    _add(store, b"/r/b.txt", ["three"])
    added = _embed(store)
    with store.write():
        store.delete_files([fid])
    changes = store.vector_changes(start)
    assert changes is not None
    version, changed = changes
    assert version == store.vector_version() > start
    assert sorted(changed.tolist()) == sorted([*first, *added])
    assert store.vector_changes(version) == (version, pytest.approx(np.array([])))
    with store.write():
        store.trim_vector_log(0)
    assert store.vector_changes(start) is None  # trimmed past it: the reader reloads


def test_an_edited_file_keeps_the_vectors_of_passages_it_left_alone(store):
    fid = _add(store, b"/r/a.txt", ["kept passage", "edited passage"])
    _embed(store)
    with store.write():
        reused = store.replace_chunks(fid, "t", [ChunkInput(0, "kept passage", 0, 12),
                                                 ChunkInput(1, "new words", 13, 22)])
    assert reused == 1
    assert [t for _, _, t in store.chunks_without_vectors("m", 10)] == ["new words"]


def test_non_utf8_paths_are_kept_exactly(store):
    raw = b"/r/caf\xe9-\xff.txt"
    _add(store, raw, ["bytes survive"])
    assert raw in store.file_states(b"/r")
    rows = store.chunk_rows([c for c, _ in store.keyword_search(words("survive"), 5)])
    assert next(iter(rows.values())).path == raw


def test_file_states_are_scoped_to_the_root(store):
    _add(store, b"/r/a.txt", ["x"])
    _add(store, b"/r2/b.txt", ["y"])
    _add(store, b"/r/sub/c.txt", ["z"])
    assert set(store.file_states(b"/r")) == {b"/r/a.txt", b"/r/sub/c.txt"}
    with store.write():
        store.add_root(b"/r")
        store.add_root(b"/r2")
    with store.write():
        assert store.remove_root(b"/r") == 2
    assert store.roots() == [b"/r2"]
    assert store.counts().files == 1


def test_failed_write_rolls_back(store):
    with pytest.raises(RuntimeError), store.write():
        store.upsert_file(_record(b"/r/a.txt"), "indexed")
        raise RuntimeError("disk full, say")
    assert store.counts().files == 0


def test_an_atomic_block_that_fails_leaves_the_transaction_as_it_was(store):
    with store.write():
        store.set_meta("kept", "1")
        with pytest.raises(ValueError), store.atomic():
            store.set_meta("undone", "1")
            raise ValueError("bad file")
        with store.atomic():
            store.set_meta("also kept", "1")
    assert store.get_meta("kept") == "1" and store.get_meta("also kept") == "1"
    assert store.get_meta("undone") is None


def test_lookups_of_more_passages_than_one_batch_holds_find_them_all(store):
    fid = _add(store, b"/many.txt", [f"word{i} shared" for i in range(2 * _ID_BATCH + 7)])
    ids = sorted(store.chunk_owners([ChunkId(i) for i in range(1, 3 * _ID_BATCH)]))
    assert len(ids) == 2 * _ID_BATCH + 7
    assert set(store.chunk_owners(ids).values()) == {fid}
    assert len(store.keyword_scores(words("shared"), ids)) == len(ids)
    assert len(store.chunk_rows(ids)) == len(ids)
    assert sorted(store.passages_of(fid).tolist()) == ids


def test_phrases_and_exclusions_admit_what_they_say(store):
    _add(store, b"/r/a.txt", ["red apple pie", "apple red wine", "green apple"])
    phrase = store.keyword_search(KeywordMatch(all_of=("red apple",)), 10)
    assert [store.chunk_rows([c])[c].text for c, _ in phrase] == ["red apple pie"]
    rest = store.keyword_search(KeywordMatch(any_of=("apple",), none_of=("red",)), 10)
    assert [store.chunk_rows([c])[c].text for c, _ in rest] == ["green apple"]
    ids = [c for c, _ in store.keyword_search(words("apple"), 10)]
    assert len(store.keyword_scores(KeywordMatch(any_of=("wine", "pie")), ids)) == 2


def test_filters_keep_the_files_they_name_on_both_sides(store):
    day = 86_400 * 10**9
    _add(store, b"/r/notes/a.md", ["heron sighting"], ext="md", mtime_ns=20_000 * day)
    _add(store, b"/r/work/b.txt", ["heron report"], ext="txt", mtime_ns=10_000 * day)
    by_ext = parse_filters("ext:md")
    by_path = parse_filters("path:WORK")
    recent = parse_filters("after:2000-01-01")
    for q, name in ((by_ext, b"/r/notes/a.md"), (by_path, b"/r/work/b.txt"),
                    (recent, b"/r/notes/a.md")):
        hits = store.keyword_search(words("heron"), 10, q)
        assert [store.chunk_rows([c])[c].path for c, _ in hits] == [name]
        allowed = store.chunk_ids(q)
        assert [store.chunk_rows([ChunkId(int(c))])[ChunkId(int(c))].path
                for c in allowed] == [name]
    a = store.file_state(b"/r/notes/a.md")
    assert a is not None
    others = store.chunk_ids(None, except_file=a.id)
    assert set(store.chunk_owners([ChunkId(int(c)) for c in others]).values()) != {a.id}
    assert len(others) == 1


def test_bm25_grows_with_term_frequency_and_rarity(store):
    _add(store, b"/r/a.txt", ["otter otter otter river", "otter river bank",
                              "river bank stones", "stones and sand"])
    scores = dict(store.keyword_search(words("otter"), 10))
    rows = store.chunk_rows(list(scores))
    by_text = {rows[c].text: s for c, s in scores.items()}
    assert by_text["otter otter otter river"] > by_text["otter river bank"] > 0
    counts = store.token_counts(["otters", "river stones"])
    assert counts[0] == {"otter": 2}
    assert counts[1] == {"river": 3, "stone": 2}


def test_the_work_queue_keeps_order_and_counts_attempts(store):
    with store.write():
        store.enqueue([b"/r/b", b"/r/a"])
        store.enqueue([b"/r/b"])  # already waiting: keeps its place
    assert store.queue_length() == 2
    assert set(store.queued(10)) == {b"/r/a", b"/r/b"}
    with store.write():
        assert store.start_attempt(b"/r/a") == 1
        assert store.start_attempt(b"/r/a") == 2
        assert store.start_attempt(b"/r/gone") == 0
        store.dequeue([b"/r/a"])
    assert store.queued(10) == [b"/r/b"]


def test_documents_inside_files_go_with_their_container(store):
    with store.write():
        box = store.upsert_file(_record(b"/r/box.mbox"), "indexed")
        store.upsert_file(_record(b"/r/box.mbox/m1"), "indexed", parent=box)
        store.replace_chunks(box, "t", [ChunkInput(0, "first line", 0, 10),
                                        ChunkInput(1, "second line", 20, 31)])
    assert store.members(box) == [b"/r/box.mbox/m1"]
    assert store.container_of(b"/r/box.mbox/m1") == b"/r/box.mbox"
    assert set(store.file_states(b"/r")) == {b"/r/box.mbox"}
    assert store.document_text(b"/r/box.mbox") == "first line" + "\n" * 10 + "second line"
    with store.write():
        assert store.delete_members(box) == 1
    assert store.members(box) == []


def test_fingerprints_and_skipped_passages_are_kept(store):
    fid = _add(store, b"/r/a.txt", ["some text here", "zzzzzzzzzzzzzzzzzzzz"])
    assert store.files_without_fingerprint(10) == [(fid, b"/r/a.txt")]
    fingerprint = Fingerprint(np.arange(128, dtype=np.uint32), 40)
    with store.write():
        store.put_fingerprint(fid, fingerprint)
        generated = [c for c, _, t in store.chunks_without_vectors("m", 10) if "z" in t]
        store.leave_unembedded(generated, "generated")
    assert store.files_without_fingerprint(10) == []
    assert store.fingerprints([fid])[fid].shingles == 40
    assert store.unembedded() == {"generated": 1}
    assert len(store.chunks_without_vectors("m", 10)) == 1
    with store.write():
        assert store.embed_again("generated") == 1
        store.drop_fingerprint(fid)
    assert store.fingerprints([fid]) == {}
    assert [e.path for e in store.duplicate_candidates()] == [b"/r/a.txt"]


def test_text_the_engine_cannot_hold_keeps_its_offsets(store):
    """A NUL (SQLite stores it; PostgreSQL text cannot) keeps the passage's length."""
    _add(store, b"/r/odd.txt", ["nul\x00here and there"])
    (hit,) = store.keyword_search(words("there"), 5)
    text = store.chunk_rows([hit[0]])[hit[0]].text
    assert len(text) == len("nul\x00here and there")
    assert text.endswith(" there")


def test_rebuilding_the_keyword_index_keeps_every_passage_searchable(store):
    _add(store, b"/r/a.txt", ["walrus moustache", "narwhal tusk"])
    with store.write():
        assert store.rebuild_fulltext() == 2
    assert store.keyword_search(words("narwhal"), 5)
    assert store.integrity_problems() == []


def test_passages_read_by_ocr_say_so_and_others_do_not(store):
    with store.write():
        fid = store.upsert_file(_record(b"/r/scan.pdf", ext="pdf"), "indexed")
        store.replace_chunks(fid, "t", [ChunkInput(0, "typed page", 0, 10, 1),
                                        ChunkInput(1, "scanned page", 11, 23, 2, ocr=True)])
    rows = store.chunk_rows(list(store.passages_of(fid)))
    assert {row.text: row.ocr for row in rows.values()} == {"typed page": False,
                                                            "scanned page": True}


def test_a_reader_sees_what_is_committed_after_it_opened(store):
    """`reader()` is a second, read-only connection (the dense index's own): it sees
    every write the first one commits, keywords and vectors, and is read-only."""
    _add(store, b"/r/a.txt", ["walrus moustache"])
    reader = store.reader()
    try:
        assert reader.readonly
        assert [c for c, _ in reader.keyword_search(words("walrus"), 5)] == \
            [c for c, _ in store.keyword_search(words("walrus"), 5)]
        version = reader.vector_version()
        _add(store, b"/r/b.txt", ["narwhal tusk"])
        ids = _embed(store)
        assert reader.vector_version() > version
        got, vectors = reader.vectors_for("m", ids, 4)
        assert sorted(got.tolist()) == sorted(ids)
        assert len(reader.keyword_search(words("narwhal"), 5)) == 1
    finally:
        reader.close()
