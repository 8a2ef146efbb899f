"""What only the PostgreSQL store has: its migrations, its connection errors, and the
promise that its keyword ranking is FTS5's (so fusion sees one scale on both)."""

import os
from pathlib import Path

import numpy as np
import psycopg
import pytest

from engine import pgschema
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
