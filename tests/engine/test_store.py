import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import schema
from engine.errors import StoreError
from engine.quantize import quantize
from engine.store import ChunkInput, FileRecord, Store


def _record(path: bytes, title: str = "t") -> FileRecord:
    return FileRecord(path, path.decode("utf-8", "replace"), "txt", title, 10, 1, "h")


def _add(store: Store, path: bytes, texts: list[str]):
    with store.write():
        fid = store.upsert_file(_record(path), "indexed")
        store.replace_chunks(fid, "t", [ChunkInput(i, t, 0, len(t)) for i, t in enumerate(texts)])
    return fid


def test_schema_is_current_and_wal(store):
    assert schema.schema_version(store.conn) == schema.SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_newer_schema_is_refused(tmp_path):
    s = Store.open(tmp_path / "db.sqlite3")
    s.conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    s.close()
    with pytest.raises(StoreError, match="newer Deskfind"):
        Store.open(tmp_path / "db.sqlite3")


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_files_are_private_whatever_the_umask(tmp_path, umask):
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[2]); os.umask(int(sys.argv[3]));"
        "from pathlib import Path; from engine.store import Store;"
        "s = Store.open(Path(sys.argv[1]) / 'data' / 'index.sqlite3');"
        "s.conn.execute('CREATE TABLE x(y)'); os._exit(0)"  # exit without checkpoint
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    subprocess.run([sys.executable, "-c", code, str(tmp_path), root, str(umask)], check=True)
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = list(data.iterdir())
    assert any(f.name.endswith("-wal") for f in files)
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_an_index_from_schema_2_is_searchable_before_and_after_migration(tmp_path):
    """A user upgrades: their v2 index (no vector log) is read as it is, then migrated."""
    import sqlite3

    from engine.dense import DenseIndex

    db = tmp_path / "data" / "index.sqlite3"
    db.parent.mkdir()
    conn = sqlite3.connect(db, isolation_level=None)
    for script in schema.MIGRATIONS[:2]:
        for statement in schema._split_statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO files VALUES (1, x'2f722f61', '/r/a', 'txt', 'a', 1, 1, NULL,"
                 " 'indexed', NULL, 0)")
    for n, text in enumerate(["alpha", "beta"]):
        conn.execute("INSERT INTO chunks(file_id, ord, page, char_start, char_end, text, title)"
                     " VALUES (1, ?, NULL, 0, 5, ?, 'a')", (n, text))
    ids = [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
    vecs = np.eye(2, 8, dtype=np.float32)
    q = quantize(vecs)
    conn.executemany("INSERT INTO vectors VALUES (?, 'm', ?, ?)",
                     [(i, float(sc), row.tobytes())
                      for i, sc, row in zip(ids, q.scales, q.codes, strict=True)])
    conn.close()

    reader = Store.open(db, readonly=True)
    assert DenseIndex(reader, "m", 8, tmp_path / "r.hnsw").search(vecs[1], 1)[0][0] == ids[1]
    reader.close()
    writer = Store.open(db)
    assert schema.schema_version(writer.conn) == schema.SCHEMA_VERSION
    index = DenseIndex(writer, "m", 8, tmp_path / "w.hnsw")
    assert index.search(vecs[0], 1)[0][0] == ids[0]
    fid2 = _add(writer, b"/r/b", ["gamma"])
    new = [int(i) for i in writer.chunk_ids_where("f.id = ?", (fid2,))]
    with writer.write():
        writer.put_vectors("m", new, quantize(np.eye(1, 8, 5, dtype=np.float32)))
    assert index.search(np.eye(1, 8, 5, dtype=np.float32)[0], 1)[0][0] == new[0]
    writer.close()


def undo_ocr_marks(store: Store) -> None:
    """Make the database look as it did before schema 8 (no OCR marks on passages)."""
    store.conn.execute("ALTER TABLE chunks DROP COLUMN ocr")


def undo_passage_keys(store: Store) -> None:
    """Make the database look as it did before schema 7 (no passage keys)."""
    undo_ocr_marks(store)
    store.conn.execute("DROP INDEX chunks_embed_key")
    store.conn.execute("ALTER TABLE chunks DROP COLUMN embed_key")
    store.conn.execute("ALTER TABLE chunks DROP COLUMN embed_skip")


def test_an_index_from_schema_4_gets_fingerprints_without_reading_files_again(tmp_path):
    """Upgrading keeps every file; fingerprints come from the stored passages."""
    from engine.fingerprint import near_duplicates
    from engine.ids import FileId
    from indexer.pipeline import Indexer
    from tests.helpers import manual_page_html, manual_page_rst, write_files

    docs = tmp_path / "docs"
    write_files(docs, {"glob.html": manual_page_html("glob"),
                       "glob.rst.txt": manual_page_rst("glob")})
    db = _schema_4_index_of(docs, tmp_path)

    reader = Store.open(db, readonly=True)  # an older index read as it is: no grouping
    assert reader.fingerprints([FileId(1), FileId(2)]) == {}
    reader.close()
    for name in ("glob.html", "glob.rst.txt"):
        os.remove(docs / name)  # proves the files are not read again
    store = Store.open(db)
    assert schema.schema_version(store.conn) == schema.SCHEMA_VERSION
    indexer = Indexer(store)
    assert indexer.fingerprint_pending() == 2
    assert indexer.fingerprint_pending() == 0
    ids = [FileId(r[0]) for r in store.conn.execute("SELECT id FROM files")]
    prints = store.fingerprints(ids)
    assert len(prints) == 2
    assert near_duplicates(*prints.values())
    store.close()


def test_query_statistics_tokenize_as_the_full_text_index_does(store):
    sql = store.conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()[0]
    assert f"tokenize = '{schema.FTS_TOKENIZER}'" in sql


def _schema_4_index_of(docs: Path, tmp_path: Path) -> Path:
    """A schema 4 index of the files in `docs` (indexed now, then copied back)."""
    from indexer.pipeline import Indexer, IndexReport

    current = tmp_path / "current" / "index.sqlite3"
    store = Store.open(current)
    Indexer(store).scan([bytes(docs)], IndexReport())
    store.close()
    db = tmp_path / "data" / "index.sqlite3"
    _schema_4_copy(current, db)
    return db


def _schema_4_copy(current: Path, db: Path) -> None:
    """What a schema 4 index of the same files looks like: its files and passages in
    the tables migrations 1 to 4 made, no fingerprints table."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db, isolation_level=None)
    for script in schema.MIGRATIONS[:4]:
        for statement in schema._split_statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("ATTACH DATABASE ? AS cur", (str(current),))
    conn.execute("INSERT INTO files SELECT id, path, display_path, ext, title, size, "
                 "mtime_ns, content_hash, status, reason, indexed_at FROM cur.files")
    conn.execute("INSERT INTO chunks SELECT id, file_id, ord, page, char_start, char_end, "
                 "text, title FROM cur.chunks")
    conn.execute("DETACH DATABASE cur")
    conn.close()


def test_an_older_index_read_only_still_answers_date_and_mail_filters(tmp_path):
    from engine.search import Searcher
    from tests.helpers import write_files

    docs = tmp_path / "docs"
    write_files(docs, {"note.txt": "the pelican ferry timetable"})
    db = _schema_4_index_of(docs, tmp_path)
    reader = Store.open(db, readonly=True)  # no mail columns: never migrated
    try:
        assert not reader.has_mail_fields
        search = Searcher(reader, None)
        assert len(search.search("pelican after:2000-01-01", mode="lexical")) == 1
        assert search.search("pelican from:anyone", mode="lexical") == []
    finally:
        reader.close()


def test_an_index_from_schema_7_is_searched_read_only_and_then_marks_no_passage_ocr(tmp_path):
    from engine.search import Searcher
    from indexer.pipeline import Indexer, IndexReport
    from tests.helpers import write_files

    docs = tmp_path / "docs"
    write_files(docs, {"note.txt": "the pelican ferry timetable"})
    db = tmp_path / "data" / "index.sqlite3"
    store = Store.open(db)
    Indexer(store).scan([bytes(docs)], IndexReport())
    with store.write():
        undo_ocr_marks(store)
        store.conn.execute("PRAGMA user_version = 7")
    store.close()
    reader = Store.open(db, readonly=True)  # never migrated: no ocr column
    try:
        [hit] = Searcher(reader, None).search("pelican", mode="lexical")
        assert hit.ocr is False
    finally:
        reader.close()
    store = Store.open(db)
    try:
        assert schema.schema_version(store.conn) == schema.SCHEMA_VERSION
        [hit] = Searcher(store, None).search("pelican", mode="lexical")
        assert hit.ocr is False
    finally:
        store.close()
