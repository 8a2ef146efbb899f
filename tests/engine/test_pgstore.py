"""What only the PostgreSQL store has: its migrations, its connection errors, and the
promise that its keyword ranking is FTS5's (so fusion sees one scale on both)."""

import os
from pathlib import Path

import numpy as np
import psycopg
import pytest

from engine import pgschema
from engine.embedder import default_model
from engine.errors import StoreError
from engine.ids import ChunkId
from engine.pgstore import PgStore
from engine.quantize import quantize
from engine.query import KeywordMatch
from engine.search import Searcher
from engine.storage import IndexStore, open_store, scratch_database
from engine.store import ChunkInput, FileRecord, Store

TEXTS = [
    "the heron stood in the shallow river waiting for fish",
    "a heron and a second heron nested by the river bank",
    "river stones are smooth because water wears them down",
    "fish swim upstream in spring to reach the shallow pools",
    "the bank of the river flooded after three days of rain",
    "rain and wind kept the herons away from the pools",
]


def _fill(store: IndexStore) -> None:
    with store.write():
        for n, text in enumerate(TEXTS):
            path = f"/r/doc{n}.txt".encode()
            fid = store.upsert_file(FileRecord(path, path.decode(), "txt", f"doc {n}", 1, n,
                                               "h"), "indexed")
            store.replace_chunks(fid, f"doc {n}", [ChunkInput(0, text, 0, len(text))])


def test_keyword_scores_are_fts5s_bm25(postgres_database, tmp_path):
    sqlite = Store.open(tmp_path / "index.sqlite3")
    pg = PgStore.open(postgres_database)
    try:
        for store in (sqlite, pg):
            _fill(store)
        # A word the query repeats weighs as often as it is repeated, in FTS5 and here.
        for terms in (("heron",), ("river", "fish"), ("shallow", "rain", "bank"),
                      ("heron", "river", "heron")):
            match = KeywordMatch(any_of=terms)
            mine, theirs = ({store.chunk_rows([c])[c].path: s
                             for c, s in store.keyword_search(match, 10)}
                            for store in (sqlite, pg))
            assert theirs.keys() == mine.keys()
            for path, score in mine.items():
                assert theirs[path] == pytest.approx(score, rel=1e-6), (terms, path)
        assert pg.passage_count() == sqlite.passage_count() == len(TEXTS)
        assert pg.token_counts(["herons river"]) == sqlite.token_counts(["herons river"])
        lexical = [Searcher(s, None).search("heron river", mode="lexical") for s in (sqlite, pg)]
        assert [r.path for r in lexical[0]] == [r.path for r in lexical[1]]
        assert [r.snippet for r in lexical[0]] == [r.snippet for r in lexical[1]]
    finally:
        sqlite.close()
        pg.close()


def test_opening_twice_migrates_once_and_a_newer_schema_is_refused(postgres_database):
    PgStore.open(postgres_database).close()
    store = PgStore.open(postgres_database)
    assert pgschema.schema_version(store.conn) == pgschema.SCHEMA_VERSION
    store.conn.execute("UPDATE deskfind_schema SET version = %s",
                       (pgschema.SCHEMA_VERSION + 1,))
    store.close()
    with pytest.raises(StoreError, match="newer Deskfind"):
        PgStore.open(postgres_database)


def test_an_index_of_schema_2_keeps_its_statistics_and_queue_when_upgraded(
        postgres_database, tmp_path):
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE deskfind_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO deskfind_schema VALUES (2)")
        for step in pgschema.MIGRATIONS[:2]:
            conn.execute(step)
        conn.execute("INSERT INTO roots(path, added_at) VALUES ('/r', 0)")
        for n, text in enumerate(TEXTS):  # written as a schema-2 indexer wrote them
            fid = conn.execute(
                "INSERT INTO files(path, display_path, ext, title, size, mtime_ns, status, "
                "indexed_at) VALUES (%s, %s, 'txt', %s, 1, %s, 'indexed', 0) RETURNING id",
                (f"/r/doc{n}.txt".encode(), f"/r/doc{n}.txt", f"doc {n}", n)).fetchone()[0]
            conn.execute("INSERT INTO chunks(file_id, ord, char_start, char_end, text, title) "
                         "VALUES (%s, 0, 0, %s, %s, %s)", (fid, len(text), text, f"doc {n}"))
        conn.execute("INSERT INTO queue(path, enqueued_at) VALUES ('/r/new.txt', 0)")
    sqlite = Store.open(tmp_path / "index.sqlite3")
    _fill(sqlite)
    upgraded = PgStore.open(postgres_database, owner="desk-a")
    try:
        assert pgschema.schema_version(upgraded.conn) == pgschema.SCHEMA_VERSION
        assert upgraded.integrity_problems() == []
        match = KeywordMatch(any_of=("heron", "river"))
        assert [(upgraded.chunk_rows([c])[c].path, pytest.approx(score, rel=1e-6))
                for c, score in upgraded.keyword_search(match, 10)] == \
            [(sqlite.chunk_rows([c])[c].path, score)
             for c, score in sqlite.keyword_search(match, 10)]
        assert upgraded.queued(10) == [b"/r/new.txt"]  # adopted by the first to open it
        # vector caches written before schema 4 may hold any root's vectors: rebuilt
        assert upgraded.vector_changes(0) is None
        other = PgStore.open(postgres_database, owner="desk-b")
        assert other.queued(10) == []
        other.close()
    finally:
        upgraded.close()
        sqlite.close()


def test_a_reader_of_an_empty_database_is_told_to_index_first(postgres_database):
    with pytest.raises(StoreError, match="no index in"):
        PgStore.open(postgres_database, readonly=True)
    _fill(writer := PgStore.open(postgres_database))
    writer.close()
    reader = PgStore.open(postgres_database, readonly=True)
    try:
        assert reader.passage_count() == len(TEXTS)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.set_meta("x", "y")
    finally:
        reader.close()


def test_a_bad_connection_string_is_one_clear_error_and_no_password_shown(tmp_path):
    with pytest.raises(StoreError, match="cannot connect") as caught:
        open_store(f"postgresql://someone:s3cret@/nodb?host={tmp_path}", tmp_path / "x")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(StoreError, match="postgresql://"):
        open_store("mysql://somewhere/db", tmp_path / "x")


def test_a_scratch_database_is_private_and_goes_away(postgres_database, tmp_path: Path):
    with scratch_database(postgres_database) as scratch:
        assert scratch is not None
        store = open_store(scratch, tmp_path / "unused")
        _fill(store)
        store.close()
        main = PgStore.open(postgres_database)
        assert main.passage_count() == 0  # the scratch index lives apart
        main.close()
    with psycopg.connect(postgres_database) as conn:
        left = conn.execute("SELECT count(*) FROM pg_namespace "
                            "WHERE nspname LIKE 'deskfind_scratch_%'").fetchone()
    assert left == (0,)
    with scratch_database(None) as nothing:
        assert nothing is None


def _as_role(database: str, role: str) -> str:
    return database.replace("postgresql://postgres:@", f"postgresql://{role}@", 1)


@pytest.fixture
def two_readers(postgres_database):
    """Roles A and B that may log in and select, and nothing more; dropped after."""
    names = [f"reader_a_{os.getpid()}", f"reader_b_{os.getpid()}"]
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP ROLE IF EXISTS {name}")
            conn.execute(f"CREATE ROLE {name} LOGIN")
    yield names
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP OWNED BY {name}")
            conn.execute(f"DROP ROLE {name}")


def test_each_role_sees_counts_and_snippets_of_the_roots_it_may_read_only(
        postgres_database, two_readers):
    role_a, role_b = two_readers
    owner = PgStore.open(postgres_database)
    with owner.write():
        for root, name in ((b"/team/a", "plan"), (b"/team/b", "budget")):
            owner.add_root(root)
            path = root + f"/{name}.txt".encode()
            fid = owner.upsert_file(FileRecord(path, path.decode(), "txt", name, 1, 1, "h"),
                                    "indexed")
            text = f"the lighthouse {name} for the harbour"
            owner.replace_chunks(fid, name, [ChunkInput(0, text, 0, len(text))])
        owner.put_vectors("m", [ChunkId(int(i)) for i in owner.chunk_ids()],
                          quantize(np.eye(2, 4, dtype=np.float32)))
        owner.grant_root(b"/team/a", role_a)
        owner.grant_root(b"/team/a", role_b)
        owner.grant_root(b"/team/b", role_b)
    owner.conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role_a}, {role_b}")
    everything = Searcher(owner, None).search("lighthouse harbour", mode="lexical")
    seen: dict[str, list[bytes]] = {}
    for role in (role_a, role_b):
        reader = PgStore.open(_as_role(postgres_database, role), readonly=True)
        try:
            results = Searcher(reader, None).search("lighthouse harbour", mode="lexical")
            seen[role] = sorted(r.path for r in results)
            counts = reader.counts()
            assert counts.files == counts.chunks == counts.embedded == len(results)
            assert len(reader.load_vectors("m", 4)[0]) == len(results)
            assert reader.roots() == sorted({r.path.rsplit(b"/", 1)[0] for r in results})
            mine = {r.path: r.snippet for r in everything}
            assert all(r.snippet == mine[r.path] for r in results)  # the same words shown
            if role == role_a:
                assert reader.document_text(b"/team/b/budget.txt") is None
                # nor the names of roots it may not read, through who reads them
                assert reader.conn.execute("SELECT root, role FROM root_readers").fetchall() \
                    == [(b"/team/a", role_a)]
                assert reader.keyword_search(KeywordMatch(any_of=("budget",)), 10) == []
        finally:
            reader.close()
    assert seen[role_a] == [b"/team/a/plan.txt"]
    assert seen[role_b] == [b"/team/a/plan.txt", b"/team/b/budget.txt"]
    with owner.write():
        owner.revoke_root(b"/team/a", role_a)
    assert owner.root_readers(b"/team/a") == [role_b]
    reader = PgStore.open(_as_role(postgres_database, role_a), readonly=True)
    assert reader.counts().files == 0
    reader.close()
    owner.close()


def _put(store: IndexStore, path: bytes, text: str) -> None:
    fid = store.upsert_file(FileRecord(path, path.decode(), "txt", "t", 1, 1, "h"), "indexed")
    store.replace_chunks(fid, "t", [ChunkInput(0, text, 0, len(text))])


HARBOUR = {  # "harbour" is rare in /team/a and common in /team/b
    b"/team/a/plan.txt": "the harbour plan for the lighthouse keepers",
    b"/team/a/roster.txt": "a roster of lighthouse keepers and their boats",
    b"/team/b/budget.txt": "the harbour budget: harbour dues and harbour fees",
    b"/team/b/dues.txt": "harbour dues rise in the spring",
    b"/team/b/inner/fees.txt": "harbour fees for the lighthouse",
    b"/team/b/inner/tides.txt": "tides in the harbour",
}


def _scores_alone(tmp_path: Path, texts: dict[bytes, str],
                  prefixes: tuple[bytes, ...]) -> tuple[int, dict, dict]:
    """Passages, "harbour lighthouse" counts and BM25 scores of an SQLite index holding
    only the files under `prefixes`: what a role that may read just those must see."""
    store = Store.open(tmp_path / f"alone{len(list(tmp_path.iterdir()))}.sqlite3")
    try:
        with store.write():
            for path, text in texts.items():
                if path.startswith(prefixes):
                    _put(store, path, text)
        return _keyword_view(store)
    finally:
        store.close()


def _keyword_view(store: IndexStore) -> tuple[int, dict, dict]:
    match = KeywordMatch(any_of=("harbour", "lighthouse"))
    hits = store.keyword_search(match, 10)
    rows = store.chunk_rows([c for c, _ in hits])
    return (store.passage_count(), store.token_counts(["harbour lighthouse"])[0],
            {rows[c].path: round(score, 9) for c, score in hits})


def test_a_roles_keyword_statistics_count_only_the_roots_it_may_read(
        postgres_database, two_readers, tmp_path):
    """How often a word occurs in a root a role may not read must not shape its scores:
    each role ranks as an index of its own roots alone would."""
    role_a, role_b = two_readers
    texts = dict(HARBOUR)
    owner = PgStore.open(postgres_database)
    with owner.write():
        owner.add_root(b"/team/a")
        owner.add_root(b"/team/b")
        for path, text in texts.items():
            _put(owner, path, text)
        owner.grant_root(b"/team/a", role_a)
        owner.grant_root(b"/team/a", role_b)
        owner.grant_root(b"/team/b", role_b)
    owner.conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role_a}, {role_b}")

    def view(role: str) -> tuple[int, dict, dict]:
        reader = PgStore.open(_as_role(postgres_database, role), readonly=True)
        try:
            return _keyword_view(reader)
        finally:
            reader.close()

    try:
        assert view(role_a) == _scores_alone(tmp_path, texts, (b"/team/a/",))
        assert view(role_b) == _scores_alone(tmp_path, texts, (b"/team/",))
        assert _keyword_view(owner) == view(role_b)
        # A root added inside an indexed one takes its passages' counts with it.
        with owner.write():
            owner.add_root(b"/team/b/inner")
            owner.grant_root(b"/team/b/inner", role_a)
        assert view(role_a) == _scores_alone(tmp_path, texts, (b"/team/a/", b"/team/b/inner/"))
        assert view(role_b) == _scores_alone(tmp_path, texts, (b"/team/",))
        # Passages deleted with their file are uncounted from the root they were under.
        with owner.write():
            owner.delete_files([owner.file_state(b"/team/b/inner/tides.txt").id])
            del texts[b"/team/b/inner/tides.txt"]
        assert view(role_a) == _scores_alone(tmp_path, texts, (b"/team/a/", b"/team/b/inner/"))
        assert owner.integrity_problems() == []
        before = _keyword_view(owner)
        with owner.write():
            owner.rebuild_fulltext()
        assert _keyword_view(owner) == before
    finally:
        owner.close()


def test_each_machines_indexer_works_through_its_own_queue(postgres_database, tmp_path):
    """Two machines' services share one database: neither takes (and, finding it
    outside its folders, drops) a path the other's watcher queued."""
    from indexer.pipeline import Indexer, IndexReport

    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for folder in (mine, theirs):
        folder.mkdir()
        (folder / "note.txt").write_text(f"a note in {folder.name}", encoding="utf-8")
    a = PgStore.open(postgres_database, owner="desk-a")
    b = PgStore.open(postgres_database, owner="desk-b")
    try:
        with a.write():
            a.add_root(bytes(mine))
            a.enqueue([bytes(mine / "note.txt")])
        with b.write():
            b.add_root(bytes(theirs))
            b.enqueue([bytes(theirs / "note.txt")])
        assert a.queued(10) == [bytes(mine / "note.txt")] and a.queue_length() == 1
        assert b.queued(10) == [bytes(theirs / "note.txt")] and b.queue_length() == 1
        report = IndexReport()
        Indexer(b).sync_paths(b.queued(10), [bytes(theirs)], report)
        with b.write():
            b.dequeue([bytes(mine / "note.txt")])  # not b's to take
        assert report.added == 1 and b.queue_length() == 0
        assert a.queued(10) == [bytes(mine / "note.txt")]
        report = IndexReport()
        Indexer(a).sync_paths(a.queued(10), [bytes(mine)], report)
        assert report.added == 1 and a.queue_length() == 0
        assert sorted(a.file_states(bytes(tmp_path))) == [bytes(mine / "note.txt"),
                                                          bytes(theirs / "note.txt")]
    finally:
        a.close()
        b.close()


def test_two_indexers_never_index_one_root_at_once(postgres_database, tmp_path):
    from indexer.pipeline import Indexer, IndexReport

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a note about lighthouses", encoding="utf-8")
    first, second = PgStore.open(postgres_database), PgStore.open(postgres_database)
    try:
        with first.claim_root(bytes(docs)):
            with pytest.raises(StoreError, match="another indexer"):
                Indexer(second).scan([bytes(docs)], IndexReport())
            with second.claim_root(bytes(tmp_path / "elsewhere")):
                pass  # other roots are free
        report = IndexReport()
        Indexer(second).scan([bytes(docs)], report)  # released: the next one may
        assert report.added == 1
    finally:
        first.close()
        second.close()


def test_a_readers_vector_index_follows_grants_and_never_sees_other_roots_changes(
        postgres_database, two_readers, tmp_path):
    """A desktop's vector cache is kept up to date from the change log: the log shows
    a role only the passages of roots it may read, and a grant or a revoke reaches
    the semantic side of a reader whose index was built before it."""
    from engine.dense import DenseIndex

    role_a, _ = two_readers
    owner = PgStore.open(postgres_database)
    paths = {}
    with owner.write():
        for root in (b"/team/a", b"/team/b"):
            owner.add_root(root)
            _put(owner, root + b"/note.txt", "the lighthouse keepers' note")
            paths[root] = owner.chunk_ids()[-1]
        owner.grant_root(b"/team/a", role_a)
    owner.conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role_a}")
    a_chunk, b_chunk = paths[b"/team/a"], paths[b"/team/b"]
    reader = PgStore.open(_as_role(postgres_database, role_a), readonly=True)
    try:
        start = reader.vector_version()
        with owner.write():
            owner.put_vectors("m", [a_chunk, b_chunk],
                              quantize(np.eye(2, 4, dtype=np.float32)))
        changes = reader.vector_changes(start)
        assert changes is not None and changes[1].tolist() == [a_chunk]
        dense = DenseIndex(reader, "m", 4, tmp_path / "vectors.idx")
        query = np.array([1, 1, 0, 0], np.float32)
        assert [c for c, _ in dense.search(query, 5)] == [a_chunk]

        with owner.write():
            owner.grant_root(b"/team/b", role_a)
        assert sorted(c for c, _ in dense.search(query, 5)) == [a_chunk, b_chunk]
        with owner.write():
            owner.revoke_root(b"/team/a", role_a)
        assert [c for c, _ in dense.search(query, 5)] == [b_chunk]

        # A root added inside /team/a takes its passages' vectors along: its reader
        # sees them, and sees them go.
        with owner.write():
            _put(owner, b"/team/a/inner/tide.txt", "tide tables for the keepers")
            inner_chunk = owner.chunk_ids()[-1]
            owner.put_vectors("m", [inner_chunk], quantize(np.eye(1, 4, 2, np.float32)))
            owner.add_root(b"/team/a/inner")
            owner.grant_root(b"/team/a/inner", role_a)
        assert sorted(c for c, _ in dense.search(query, 5)) == [b_chunk, inner_chunk]
        position = reader.vector_version()
        with owner.write():
            owner.delete_files([owner.file_state(b"/team/a/inner/tide.txt").id])
        changes = reader.vector_changes(position)
        assert changes is not None and changes[1].tolist() == [inner_chunk]
        assert [c for c, _ in dense.search(query, 5)] == [b_chunk]
        position = reader.vector_version()
        with owner.write():  # already a reader: how membership changes are passed on
            owner.grant_root(b"/team/b", role_a)
        assert reader.vector_changes(position) is None
    finally:
        reader.close()
        owner.close()


def test_two_indexers_write_at_once_and_readers_miss_neither_ones_vectors(postgres_database):
    """Indexers of different roots do not wait for each other's write transactions,
    and the change log still lists every vector in the order the writes became
    visible: a reader that looked between the two commits misses nothing."""
    first = PgStore.open(postgres_database, owner="desk-a")
    second = PgStore.open(postgres_database, owner="desk-b")
    reader = PgStore.open(postgres_database, readonly=True)
    # Were the second writer to wait for the first, it would wait on itself: fail fast.
    second.conn.execute("SET lock_timeout = '5s'")
    try:
        for store, root in ((first, b"/a"), (second, b"/b")):
            with store.write():
                store.add_root(root)
                _put(store, root + b"/note.txt", f"a note in {root.decode()}")
        a_chunk, b_chunk = sorted(int(i) for i in first.chunk_ids())
        start = reader.vector_version()
        with first.write():  # first's transaction stays open while second commits
            first.put_vectors("m", [ChunkId(a_chunk)], quantize(np.eye(1, 4, dtype=np.float32)))
            with second.write():
                second.put_vectors("m", [ChunkId(b_chunk)],
                                   quantize(np.eye(1, 4, 1, dtype=np.float32)))
            between = reader.vector_changes(start)
            assert between is not None and between[1].tolist() == [b_chunk]
        after = reader.vector_changes(between[0])
        assert after is not None and after[1].tolist() == [a_chunk]
        assert reader.vector_version() == after[0] > between[0]
    finally:
        for store in (first, second, reader):
            store.close()


def test_a_write_the_server_cancels_is_retried_not_recorded_as_the_files_failure(
        postgres_database, tmp_path, monkeypatch):
    """PostgreSQL cancels one of two writes that deadlock (or wait past lock_timeout):
    that is the index's trouble, not the file's, so the batch rolls back whole and the
    file is indexed next time instead of being remembered as unreadable."""
    from indexer.pipeline import Indexer, IndexReport

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a note about lighthouses", encoding="utf-8")
    store = PgStore.open(postgres_database)
    try:
        real, calls = store.replace_chunks, []

        def cancelled_once(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            return real(*args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(store, "replace_chunks", cancelled_once)
            with pytest.raises(StoreError, match="deadlock"):
                Indexer(store).scan([bytes(docs)], IndexReport())
        assert store.failures() == [] and store.file_state(bytes(docs / "a.txt")) is None
        report = IndexReport()
        Indexer(store).scan([bytes(docs)], report)
        assert report.added == 1 and report.failed == 0
    finally:
        store.close()


def test_two_indexers_share_the_embedding_instead_of_each_doing_it_all(postgres_database):
    """Each indexer is handed passages no other indexer is embedding; passages whose
    indexer stopped (a claim far older than any batch takes) go to another."""
    from engine.pgstore import CLAIM_SECONDS

    first = PgStore.open(postgres_database, owner="desk-a")
    second = PgStore.open(postgres_database, owner="desk-a")  # one machine's two indexers
    try:
        with first.write():
            for n in range(10):
                _put(first, f"/r/doc{n}.txt".encode(), f"passage number {n}")
        mine = [c for c, _, _ in first.chunks_without_vectors("m", 6)]
        theirs = [c for c, _, _ in second.chunks_without_vectors("m", 6)]
        assert len(mine) == 6 and len(theirs) == 4 and not set(mine) & set(theirs)
        assert second.chunks_without_vectors("m", 6) == \
            [(c, "t", t) for c, t in zip(theirs, _texts(second, theirs), strict=True)]
        with first.write():  # first's vectors arrive: its claims are done
            first.put_vectors("m", [ChunkId(c) for c in mine],
                              quantize(np.ones((6, 4), np.float32)))
        assert [c for c, _, _ in first.chunks_without_vectors("m", 6)] == []
        # the second indexer stops; once its claims are stale the first takes them
        second.conn.execute("UPDATE embed_claims SET claimed_at = claimed_at - %s",
                            (CLAIM_SECONDS + 1,))
        assert sorted(c for c, _, _ in first.chunks_without_vectors("m", 6)) == sorted(theirs)
        assert second.chunks_without_vectors("m", 6) == []
    finally:
        first.close()
        second.close()


def _texts(store: PgStore, ids: list[ChunkId]) -> list[str]:
    rows = store.chunk_rows(ids)
    return [rows[c].text for c in ids]


@pytest.mark.parametrize("setting, on_sqlite, on_postgres", [
    (None, "auto", "fp32"), ("int8", "int8", "int8"), ("fp32", "fp32", "fp32")])
def test_auto_precision_is_the_same_on_every_machine_of_a_shared_index(
        postgres_database, tmp_path, monkeypatch, setting, on_sqlite, on_postgres):
    """`auto` is each machine's own check; on a team's index machines that chose
    differently would drop each other's vectors as another model's, so there it is
    fp32.  A set precision is kept on both."""
    import app.context
    from app.context import Deskfind, Options

    asked: list[str] = []
    monkeypatch.setattr(app.context, "resolve_model",
                        lambda model_dir, precision, threads: asked.append(precision)
                        or default_model())
    for database, data in ((None, "local"), (postgres_database, "team")):
        with Deskfind(Options(data_dir=str(tmp_path / data), precision=setting,
                              database=database)) as ctx:
            ctx.embedder()
    assert asked == [on_sqlite, on_postgres]
