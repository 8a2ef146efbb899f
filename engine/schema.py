"""Opening the index database: private files, WAL, schema version and migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from engine import reuse
from engine.errors import StoreError

SCHEMA_VERSION = 8
# How the full-text index splits text into terms.  Migration 1 created chunks_fts with
# it; whatever else tokenizes like the index (query statistics) uses this constant.
# Changing it takes a migration that rebuilds chunks_fts.
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
READER_MMAP_BYTES = 1 << 31  # memory-mapped I/O for read-only connections (see connect)

# Each entry upgrades the schema from version i to i + 1.  Never edit a released entry:
# append a new one, so every existing database walks the same path.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE roots (
        path       BLOB PRIMARY KEY,
        added_at   REAL NOT NULL
    );
    CREATE TABLE files (
        id           INTEGER PRIMARY KEY,
        path         BLOB NOT NULL UNIQUE,   -- os.fsencode() of the absolute path: exact bytes
        display_path TEXT NOT NULL,
        ext          TEXT NOT NULL,          -- lower case, without the dot
        title        TEXT NOT NULL,
        size         INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        content_hash TEXT,
        status       TEXT NOT NULL CHECK (status IN ('indexed', 'failed', 'skipped')),
        reason       TEXT,
        indexed_at   REAL NOT NULL
    );
    CREATE INDEX files_mtime ON files(mtime_ns);
    -- AUTOINCREMENT: a chunk id is never reused, so a stale HNSW label can never
    -- point at another passage.
    CREATE TABLE chunks (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id    INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        ord        INTEGER NOT NULL,
        page       INTEGER,
        char_start INTEGER NOT NULL,
        char_end   INTEGER NOT NULL,
        text       TEXT NOT NULL,
        title      TEXT NOT NULL
    );
    CREATE INDEX chunks_file ON chunks(file_id, ord);
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, title,
        content = 'chunks', content_rowid = 'id',
        tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text, title) VALUES (new.id, new.text, new.title);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, title)
            VALUES ('delete', old.id, old.text, old.title);
    END;
    CREATE TRIGGER chunks_au AFTER UPDATE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, title)
            VALUES ('delete', old.id, old.text, old.title);
        INSERT INTO chunks_fts(rowid, text, title) VALUES (new.id, new.text, new.title);
    END;
    -- int8 vectors are the durable copy; the HNSW file is a cache rebuilt from here.
    CREATE TABLE vectors (
        chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        scale    REAL NOT NULL,              -- float value = int8 value * scale
        data     BLOB NOT NULL
    );
    -- Any change to the vector set bumps the generation the HNSW header is checked against.
    CREATE TRIGGER vectors_ai AFTER INSERT ON vectors BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors_generation';
    END;
    CREATE TRIGGER vectors_ad AFTER DELETE ON vectors BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors_generation';
    END;
    INSERT INTO meta(key, value) VALUES ('vectors_generation', '0');
    """,
    # 2: the service's persistent work queue, so a killed service resumes where it was.
    """
    CREATE TABLE queue (
        path        BLOB PRIMARY KEY,
        enqueued_at REAL NOT NULL
    );
    """,
    # 3: a log of vector changes, so a reader brings its in-memory index up to date with
    # the vectors that changed instead of reloading them all (a million at scale).
    """
    CREATE TABLE vector_log (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        chunk_id INTEGER NOT NULL
    );
    CREATE TRIGGER vectors_log_ai AFTER INSERT ON vectors BEGIN
        INSERT INTO vector_log(chunk_id) VALUES (new.chunk_id);
    END;
    CREATE TRIGGER vectors_log_ad AFTER DELETE ON vectors BEGIN
        INSERT INTO vector_log(chunk_id) VALUES (old.chunk_id);
    END;
    -- Log entries up to this seq have been deleted; a reader older than that reloads.
    INSERT INTO meta(key, value) VALUES ('vector_log_trimmed', '0');
    -- The log's seq replaces the generation counter (an extra UPDATE per vector).
    DROP TRIGGER vectors_ai;
    DROP TRIGGER vectors_ad;
    DELETE FROM meta WHERE key = 'vectors_generation';
    """,
    # 4: how often a queued path was started, so one that stops the indexer every time
    # (a crash, a kill) is given up after a few tries instead of blocking the queue.
    """
    ALTER TABLE queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: each document's text fingerprint (engine.fingerprint), to group results that
    # hold the same text.  Files indexed before have none; the indexer fills them in
    # from the stored passages, so upgrading never re-reads the files.
    """
    CREATE TABLE fingerprints (
        file_id  INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
        shingles INTEGER NOT NULL,
        minhash  BLOB                -- NULL: the text is too short to have one
    );
    """,
    # 6: documents inside other files (archive members, mail messages and their
    # attachments) are rows of their own, under a virtual path below their container's.
    # They hang off the file on disk that holds them: deleting or re-reading it drops
    # them.  Mail keeps its sender, recipients and date (the date drives after:/before:).
    """
    ALTER TABLE files ADD COLUMN parent_id INTEGER REFERENCES files(id) ON DELETE CASCADE;
    CREATE INDEX files_parent ON files(parent_id);
    ALTER TABLE files ADD COLUMN sender TEXT;
    ALTER TABLE files ADD COLUMN recipients TEXT;
    ALTER TABLE files ADD COLUMN date_ns INTEGER;
    """,
    # 7: each passage's key (engine.reuse): a passage whose title and text were embedded
    # before gets a copy of that vector instead of a run of the model; and why a passage
    # is left unembedded (generated text).  Existing
    # passages are keyed here, their vectors kept.  The update trigger is narrowed to
    # the columns FTS holds first, so keying them does not rewrite the full-text index.
    """
    DROP TRIGGER chunks_au;
    CREATE TRIGGER chunks_au AFTER UPDATE OF text, title ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, title)
            VALUES ('delete', old.id, old.text, old.title);
        INSERT INTO chunks_fts(rowid, text, title) VALUES (new.id, new.text, new.title);
    END;
    ALTER TABLE chunks ADD COLUMN embed_key BLOB;
    -- Why a passage is not embedded (engine.generated), NULL for one that is or will be.
    ALTER TABLE chunks ADD COLUMN embed_skip TEXT;
    UPDATE chunks SET embed_key = deskfind_passage_key(title, text);
    CREATE INDEX chunks_embed_key ON chunks(embed_key);
    """,
    # 8: passages whose text OCR read off a page image (a scanned page, an image file),
    # so results can say their words may be misread.
    """
    ALTER TABLE chunks ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0;
    """,
]


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it readable by the owner only."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise StoreError(f"cannot create data directory {path}: {exc.strerror}") from exc


def _touch_private(path: Path) -> None:
    # SQLite gives the -wal and -shm files the mode of the main file, so creating the
    # main file 0600 ourselves keeps all three private whatever the umask is.
    if path.exists():
        return
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the database at `path`, creating and migrating it unless `readonly`."""
    try:
        if readonly:
            conn = _connect_readonly(path)
        else:
            make_private_dir(path.parent)
            _touch_private(path)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        reuse.register(conn)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # After a checkpoint the WAL is cut back to this size, so one burst of writes
            # behind a long-running reader does not leave a huge file forever.
            conn.execute("PRAGMA journal_size_limit = 33554432")
            migrate(conn)
        else:
            # Searches read FTS5 doclists, their document sizes and int8 vectors at
            # random: mapped pages cost no read() call and no copy (the keyword query at
            # a million passages took about a tenth less time, 24.5 against 27.5 ms, in
            # one alternated run).  Readers only, so an indexer's memory is what it was.
            # SQLite caps the size at 2 GiB by default.
            conn.execute(f"PRAGMA mmap_size = {READER_MMAP_BYTES}")
            check_version(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open index database {path}: {exc}") from exc
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"no index at {path}: run `deskfind index FOLDER` first")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # A WAL database in a read-only folder cannot get its -shm file; reading it as
        # immutable still works when no writer is active.
        conn.close()
        return sqlite3.connect(f"file:{path}?immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"index was written by a newer Deskfind (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade Deskfind or use another --data-dir"
        )


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, one transaction per step."""
    check_version(conn)
    version = schema_version(conn)
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_statements(MIGRATIONS[version]):
                conn.execute(statement)
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _split_statements(script: str) -> list[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
