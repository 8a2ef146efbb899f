"""The index database: files, chunks with positions, FTS5 and int8 vectors."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from engine import pagecache, schema
from engine.duplicates import FileEntry
from engine.errors import StoreError
from engine.fingerprint import Fingerprint
from engine.ids import ChunkId, FileId
from engine.quantize import QuantizedVectors
from engine.query import KeywordMatch, ParsedQuery, file_filter_sql, fts_match
from engine.reuse import passage_key


@dataclass(frozen=True)
class FileState:
    """What the store remembers about a file, to decide whether it changed."""

    id: FileId
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str


@dataclass(frozen=True)
class FileRecord:
    """A file's metadata as written by the indexer."""

    path: bytes
    display_path: str
    ext: str
    title: str
    size: int
    mtime_ns: int
    content_hash: str | None
    # Mail only: who sent it, to whom, and the date it carries (ns since the epoch).
    sender: str | None = None
    recipients: str | None = None
    date_ns: int | None = None


@dataclass(frozen=True)
class ChunkInput:
    """A passage to store: its text and where it sits in the file."""

    ord: int
    text: str
    char_start: int
    char_end: int
    page: int | None = None
    ocr: bool = False  # its text was read off a page image by OCR


@dataclass(frozen=True)
class ChunkRow:
    """A stored passage joined with its file, as search results need it."""

    id: ChunkId
    file_id: FileId
    ord: int
    page: int | None
    char_start: int
    char_end: int
    text: str
    title: str
    path: bytes
    display_path: str
    ext: str
    mtime_ns: int
    ocr: bool = False


@dataclass(frozen=True)
class Counts:
    files: int
    indexed: int
    failed: int
    skipped: int
    chunks: int
    embedded: int


_CHUNK_ROW_SQL = """
    SELECT c.id, c.file_id, c.ord, c.page, c.char_start, c.char_end, c.text, c.title,
           f.path, f.display_path, f.ext, f.mtime_ns, {ocr}
    FROM chunks c JOIN files f ON f.id = c.file_id
"""


def _prefix_range(root: bytes) -> tuple[bytes, bytes]:
    """Byte range [lo, hi) holding every path strictly under directory `root`."""
    base = root.rstrip(b"/") + b"/"
    return base, base[:-1] + b"0"  # '0' is the byte after '/'


class Store:
    """One SQLite index database.  A single writer at a time; readers never block it."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.shared = False  # one person's file (see IndexStore.shared)
        self._savepoints = 0  # names each `atomic` block uniquely
        self._vocab_ready = False  # the scratch tables of `_tokenize` exist
        self._scratch_changes = 0  # rows our scratch tables changed (not index changes)
        self._count_version: tuple[int, int] | None = None  # when `_passages` was counted
        self._passages = 0
        self._members_schema: bool | None = None

    @property
    def has_mail_fields(self) -> bool:
        """Whether the schema has documents inside files and mail fields (an older index
        opened read-only has not)."""
        if self._members_schema is None:
            self._members_schema = schema.schema_version(self.conn) >= MEMBERS_SCHEMA
        return self._members_schema

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Store:
        return cls(schema.connect(path, readonly=readonly), path, readonly)

    def close(self) -> None:
        self.conn.close()

    def claim_root(self, root: bytes) -> AbstractContextManager[None]:
        """Hold `root` for this indexer (see PgStore.claim_root): one SQLite index has one
        writer at a time already, so there is nothing to claim."""
        return nullcontext()

    def describe(self) -> str:
        """Where the index is, for the user."""
        return str(self.path)

    def reader(self) -> Store:
        """A second, read-only connection to this index, for reads on another thread
        that must not queue behind this connection's statements (the caller closes it)."""
        return Store.open(self.path, readonly=True)

    def preload(self) -> int:
        """Ask the OS to read the database and its write-ahead log into its page cache,
        so that the first searches read memory rather than the disk (engine.pagecache);
        the bytes asked for."""
        return pagecache.preload([self.path, self.path.with_name(self.path.name + "-wal")])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front, so it never fails half-way on BUSY."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write the index: {exc}") from exc
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:  # SQLite may have rolled back itself (disk full)
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A savepoint inside the current write transaction: if the block raises, what it
        wrote is undone (the transaction goes on) and the exception propagates."""
        self._savepoints += 1
        name = f"atomic_{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:  # SQLite may have rolled back itself (disk full)
                with suppress(sqlite3.OperationalError):
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    # -- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- roots and files ----------------------------------------------------------------

    def add_root(self, root: bytes) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO roots(path, added_at) VALUES (?, ?)", (root, time.time())
        )

    def roots(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.conn.execute("SELECT path FROM roots ORDER BY path")]

    def remove_root(self, root: bytes) -> int:
        """Forget a root and everything indexed under it; returns the files dropped."""
        self.conn.execute("DELETE FROM roots WHERE path = ?", (root,))
        return self.delete_files(s.id for s in self.file_states(root).values())

    def file_state(self, path: bytes) -> FileState | None:
        row = self.conn.execute(
            "SELECT id, size, mtime_ns, content_hash, status FROM files WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else FileState(FileId(row[0]), *row[1:])

    # -- the work queue -----------------------------------------------------------------

    def enqueue(self, paths: Iterable[bytes]) -> None:
        """Paths to re-check; a path already waiting keeps its place."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO queue(path, enqueued_at) VALUES (?, ?)",
            [(p, time.time()) for p in paths],
        )

    def queued(self, limit: int) -> list[bytes]:
        rows = self.conn.execute(
            "SELECT path FROM queue ORDER BY enqueued_at, path LIMIT ?", (limit,))
        return [bytes(r[0]) for r in rows]

    def dequeue(self, paths: Iterable[bytes]) -> None:
        self.conn.executemany("DELETE FROM queue WHERE path = ?", [(p,) for p in paths])

    def start_attempt(self, path: bytes) -> int:
        """Count one more attempt at a queued path; how many there have been (0 when the
        path is not queued)."""
        row = self.conn.execute("UPDATE queue SET attempts = attempts + 1 WHERE path = ? "
                                "RETURNING attempts", (path,)).fetchone()
        return 0 if row is None else int(row[0])

    def queue_length(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM queue").fetchone()[0])

    def file_states(self, root: bytes) -> dict[bytes, FileState]:
        """Every known file on disk at `root` or below it.

        Documents inside a file (archive members, messages) are not files on disk: they
        are left out, and go when the file holding them goes.
        """
        lo, hi = _prefix_range(root)
        rows = self.conn.execute(
            "SELECT path, id, size, mtime_ns, content_hash, status FROM files "
            "WHERE (path = ? OR (path >= ? AND path < ?)) AND parent_id IS NULL",
            (root, lo, hi),
        )
        return {bytes(r[0]): FileState(FileId(r[1]), r[2], r[3], r[4], r[5]) for r in rows}

    def upsert_file(self, rec: FileRecord, status: str, reason: str | None = None, *,
                    parent: FileId | None = None) -> FileId:
        """Insert or update a file's row; `parent` is the file on disk holding it, for a
        document inside another file."""
        row = self.conn.execute(
            upsert_file_sql("?"),
            (rec.path, rec.display_path, rec.ext, rec.title, rec.size, rec.mtime_ns,
             rec.content_hash, status, reason, time.time(), parent, rec.sender,
             rec.recipients, rec.date_ns),
        ).fetchone()
        return FileId(row[0])

    def delete_members(self, parent: FileId) -> int:
        """Forget the documents held inside a file (before it is read again)."""
        return self.conn.execute("DELETE FROM files WHERE parent_id = ?", (parent,)).rowcount

    def members(self, parent: FileId) -> list[bytes]:
        """Paths of the documents held inside a file."""
        rows = self.conn.execute("SELECT path FROM files WHERE parent_id = ? ORDER BY path",
                                 (parent,))
        return [bytes(r[0]) for r in rows]

    def container_of(self, path: bytes) -> bytes | None:
        """The path of the file on disk holding a document (None: it is a file itself,
        or unknown)."""
        row = self.conn.execute(
            "SELECT p.path FROM files f JOIN files p ON p.id = f.parent_id WHERE f.path = ?",
            (path,)).fetchone()
        return None if row is None else bytes(row[0])

    def touch_file(self, file_id: FileId, size: int, mtime_ns: int) -> None:
        """Record new stat data for a file whose content did not change."""
        self.conn.execute(
            "UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, file_id)
        )

    def replace_chunks(self, file_id: FileId, title: str, chunks: Sequence[ChunkInput]) -> int:
        """Replace a file's passages; how many new ones got a copy of the vector of a
        passage with the same title and text (engine.reuse) instead of none.

        The old passages go last, so a passage that an edit left as it was keeps its
        vector, and so does every passage of a file moved or copied while the old
        path is still indexed.
        """
        row = self.conn.execute("SELECT max(id) FROM chunks WHERE file_id = ?",
                                (file_id,)).fetchone()
        last_old = int(row[0] or 0)  # AUTOINCREMENT: every new id is above it
        self.conn.executemany(
            "INSERT INTO chunks(file_id, ord, page, char_start, char_end, text, title, "
            "embed_key, ocr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(file_id, c.ord, c.page, c.char_start, c.char_end, c.text, title,
              passage_key(title, c.text), int(c.ocr)) for c in chunks],
        )
        reused = 0
        if chunks:
            reused = self.conn.execute(_COPY_VECTORS_SQL, (file_id, last_old)).rowcount
        self.conn.execute("DELETE FROM chunks WHERE file_id = ? AND id <= ?",
                          (file_id, last_old))
        return max(0, reused)

    # -- fingerprints -------------------------------------------------------------------

    def put_fingerprint(self, file_id: FileId, fingerprint: Fingerprint | None) -> None:
        """Record a document's fingerprint (None: its text is too short for one)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO fingerprints(file_id, shingles, minhash) VALUES (?, ?, ?)",
            (file_id, *fingerprint_columns(fingerprint)))

    def drop_fingerprint(self, file_id: FileId) -> None:
        self.conn.execute("DELETE FROM fingerprints WHERE file_id = ?", (file_id,))

    def fingerprints(self, file_ids: Sequence[FileId]) -> dict[FileId, Fingerprint]:
        """The fingerprints of those files that have one."""
        out: dict[FileId, Fingerprint] = {}
        if schema.schema_version(self.conn) < FINGERPRINTS_SCHEMA:
            return out  # an older index opened read-only: nothing is grouped
        for part, marks in _in_batches(file_ids):
            rows = self.conn.execute(
                "SELECT file_id, shingles, minhash FROM fingerprints WHERE minhash "
                f"IS NOT NULL AND file_id IN ({marks})", part)
            out.update(fingerprints_of(rows))
        return out

    def files_without_fingerprint(self, limit: int) -> list[tuple[FileId, bytes]]:
        """Indexed files whose fingerprint was never taken (indexed before there were)."""
        rows = self.conn.execute(
            "SELECT f.id, f.path FROM files f LEFT JOIN fingerprints p ON p.file_id = f.id "
            "WHERE f.status = 'indexed' AND p.file_id IS NULL ORDER BY f.id LIMIT ?",
            (limit,))
        return [(FileId(r[0]), bytes(r[1])) for r in rows]

    def duplicate_candidates(self) -> list[FileEntry]:
        """Files that can have duplicates: those with content read (hashed) or text."""
        rows = self.conn.execute(
            "SELECT id, path, display_path, size, mtime_ns, content_hash FROM files "
            "WHERE content_hash IS NOT NULL OR status = 'indexed' ORDER BY path")
        return [FileEntry(r[0], bytes(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def delete_files(self, file_ids: Iterable[FileId]) -> int:
        ids = [(int(i),) for i in file_ids]
        self.conn.executemany("DELETE FROM files WHERE id = ?", ids)
        return len(ids)

    def failures(self, limit: int = 50) -> list[tuple[str, str, str]]:
        rows = self.conn.execute(
            "SELECT display_path, status, coalesce(reason, '') FROM files "
            "WHERE status != 'indexed' ORDER BY indexed_at DESC LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def counts(self, model_id: str | None = None) -> Counts:
        by_status = dict(
            self.conn.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall()
        )
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        if model_id is None:
            embedded = self.conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        else:
            embedded = self.conn.execute(
                "SELECT count(*) FROM vectors WHERE model_id = ?", (model_id,)
            ).fetchone()[0]
        return Counts(
            files=sum(by_status.values()),
            indexed=by_status.get("indexed", 0),
            failed=by_status.get("failed", 0),
            skipped=by_status.get("skipped", 0),
            chunks=chunks,
            embedded=embedded,
        )

    # -- chunks -------------------------------------------------------------------------

    def chunk_owners(self, ids: Sequence[ChunkId]) -> dict[ChunkId, FileId]:
        """The file of each passage that still exists (no text: cheap for many ids)."""
        out: dict[ChunkId, FileId] = {}
        for part, marks in _in_batches(ids):
            for r in self.conn.execute(
                    f"SELECT id, file_id FROM chunks WHERE id IN ({marks})", part):
                out[ChunkId(r[0])] = FileId(r[1])
        return out

    def document_text(self, path: bytes) -> str | None:
        """An indexed file's extracted text, put back together from its passages (None
        when the file has none).  Passages are exact slices at their offsets and overlap,
        so only the whitespace before the first, between pages and after the last is
        lost; it comes back as line breaks, keeping every offset."""
        rows = self.conn.execute(
            "SELECT c.char_start, c.text FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE f.path = ? ORDER BY c.ord", (path,)).fetchall()
        return join_passages(rows)

    def chunk_rows(self, ids: Sequence[ChunkId]) -> dict[ChunkId, ChunkRow]:
        if not ids:
            return {}
        out: dict[ChunkId, ChunkRow] = {}
        ocr = schema.schema_version(self.conn) >= OCR_SCHEMA  # not in an older index
        sql = _CHUNK_ROW_SQL.format(ocr="c.ocr" if ocr else "0")
        for part, marks in _in_batches(ids):
            for r in self.conn.execute(f"{sql} WHERE c.id IN ({marks})", part):
                row = ChunkRow(ChunkId(r[0]), FileId(r[1]), r[2], r[3], r[4], r[5], r[6],
                               r[7], bytes(r[8]), r[9], r[10], r[11], bool(r[12]))
                out[row.id] = row
        return out

    def chunks_without_vectors(self, model_id: str, limit: int) -> list[tuple[ChunkId, str, str]]:
        """Passages still to embed, most recently modified files first."""
        rows = self.conn.execute(
            """
            SELECT c.id, c.title, c.text FROM chunks c
            JOIN files f ON f.id = c.file_id
            LEFT JOIN vectors v ON v.chunk_id = c.id AND v.model_id = ?
            WHERE v.chunk_id IS NULL AND c.embed_skip IS NULL
            ORDER BY f.mtime_ns DESC, c.id
            LIMIT ?
            """,
            (model_id, limit),
        )
        return [(ChunkId(r[0]), r[1], r[2]) for r in rows]

    def leave_unembedded(self, ids: Sequence[ChunkId], reason: str) -> None:
        """Record passages that are not to be embedded, and why (engine.generated)."""
        self.conn.executemany("UPDATE chunks SET embed_skip = ? WHERE id = ?",
                              [(reason, int(i)) for i in ids])

    def embed_again(self, reason: str) -> int:
        """Make passages left unembedded for `reason` wait for a vector again."""
        return self.conn.execute("UPDATE chunks SET embed_skip = NULL WHERE embed_skip = ?",
                                 (reason,)).rowcount

    def unembedded(self, file_id: FileId | None = None) -> dict[str, int]:
        """How many passages (of one file, or all) are left unembedded, by reason."""
        if schema.schema_version(self.conn) < PASSAGE_KEYS_SCHEMA:
            return {}  # an older index opened read-only
        one = "" if file_id is None else " AND file_id = ?"
        rows = self.conn.execute("SELECT embed_skip, count(*) FROM chunks WHERE embed_skip "
                                 f"IS NOT NULL{one} GROUP BY embed_skip",
                                 () if file_id is None else (int(file_id),))
        return {str(reason): int(n) for reason, n in rows}

    # -- vectors ------------------------------------------------------------------------

    def drop_vectors_of_other_models(self, model_id: str) -> int:
        cur = self.conn.execute("DELETE FROM vectors WHERE model_id != ?", (model_id,))
        return cur.rowcount

    def put_vectors(self, model_id: str, ids: Sequence[ChunkId], q: QuantizedVectors) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO vectors(chunk_id, model_id, scale, data) VALUES (?,?,?,?)",
            [(int(i), model_id, float(s), row.tobytes())
             for i, s, row in zip(ids, q.scales, q.codes, strict=True)],
        )

    def vectors_by_key(self, model_id: str,
                       keys: Sequence[bytes]) -> dict[bytes, tuple[float, bytes]]:
        """For those passage keys (engine.reuse) that some passage already has a vector
        of `model_id` for, one such vector as (scale, int8 bytes)."""
        out: dict[bytes, tuple[float, bytes]] = {}
        for part, marks in _in_batches(sorted(set(keys))):
            rows = self.conn.execute(
                "SELECT c.embed_key, v.scale, v.data FROM chunks c JOIN vectors v "
                f"ON v.chunk_id = c.id AND v.model_id = ? WHERE c.embed_key IN ({marks}) "
                "GROUP BY c.embed_key", (model_id, *part))
            out.update((bytes(k), (float(scale), bytes(data))) for k, scale, data in rows)
        return out

    def put_vector_rows(self, model_id: str,
                        rows: Sequence[tuple[ChunkId, float, bytes]]) -> None:
        """Store vectors already quantized: (chunk id, scale, int8 bytes)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO vectors(chunk_id, model_id, scale, data) VALUES (?,?,?,?)",
            [(int(i), model_id, scale, data) for i, scale, data in rows])

    def load_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        """All vectors of `model_id`: (chunk ids, quantized matrix), ordered by chunk id."""
        rows = self.conn.execute(
            "SELECT chunk_id, scale, data FROM vectors WHERE model_id = ? ORDER BY chunk_id",
            (model_id,),
        ).fetchall()
        return _vector_rows(rows, dim)

    def vectors_for(self, model_id: str, ids: Sequence[int] | np.ndarray,
                    dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        """The vectors of those `ids` that have one from `model_id`, ordered by chunk id."""
        wanted = sorted({int(i) for i in ids})
        rows: list[tuple[int, float, bytes]] = []
        for part, marks in _in_batches(wanted):
            rows.extend(self.conn.execute(
                f"SELECT chunk_id, scale, data FROM vectors WHERE chunk_id IN ({marks}) "
                "AND model_id = ? ORDER BY chunk_id", (*part, model_id)))
        return _vector_rows(rows, dim)

    def vector_version(self) -> int:
        """Grows with every vector added, replaced or removed (the change log's last seq)."""
        row = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()
        return int(row[0]) if row else 0

    def vector_changes(self, since: int) -> tuple[int, np.ndarray] | None:
        """(version, ids of chunks whose vector changed after version `since`), or None
        when the log no longer reaches back that far and the caller must reload."""
        if since < int(self.get_meta("vector_log_trimmed") or 0):
            return None
        rows = self.conn.execute(
            "SELECT seq, chunk_id FROM vector_log WHERE seq > ? ORDER BY seq", (since,)
        ).fetchall()
        version = rows[-1][0] if rows else since
        return version, np.unique(np.fromiter((r[1] for r in rows), np.int64, len(rows)))

    def trim_vector_log(self, keep: int) -> None:
        """Forget all but the last `keep` log entries (call inside `write()`)."""
        cut = self.vector_version() - keep
        if cut > int(self.get_meta("vector_log_trimmed") or 0):
            self.conn.execute("DELETE FROM vector_log WHERE seq <= ?", (cut,))
            self.set_meta("vector_log_trimmed", str(cut))

    # -- full text ----------------------------------------------------------------------

    def fts_search(self, match: str, limit: int, file_filter: str = "1",
                   params: Sequence[object] = ()) -> list[tuple[ChunkId, float]]:
        """Top chunks for an FTS5 expression, with positive BM25 scores (higher is better).

        `file_filter` is an SQL condition on the chunk's file `f` (see engine.query).
        """
        restrict = ""
        if file_filter != "1":
            restrict = (" AND rowid IN (SELECT c.id FROM chunks c JOIN files f "
                        f"ON f.id = c.file_id WHERE {file_filter})")
        rows = self.conn.execute(
            "SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ?"
            f"{restrict} ORDER BY s DESC LIMIT ?",
            (match, *params, limit),
        )
        return [(ChunkId(r[0]), float(r[1])) for r in rows]

    def passage_count(self) -> int:
        """Number of passages, cached until the database changes."""
        # Our own scratch-table writes (term statistics, below) are not changes.
        version = (self.conn.execute("PRAGMA data_version").fetchone()[0],
                   self.conn.total_changes - self._scratch_changes)
        if self._count_version != version:
            self._passages = int(self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
            self._count_version = version
        return self._passages

    def _tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """The index tokens (stemmed, as FTS5 stores them) of each text.

        A scratch FTS5 table with the index's own tokenizer does the work, so the tokens
        are exactly the terms the index holds.
        """
        if not self._vocab_ready:
            self.conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_tokens USING fts5(x, "
                f"tokenize = '{schema.FTS_TOKENIZER}')")
            self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_inst "
                              "USING fts5vocab(temp, query_tokens, 'instance')")
            self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.index_vocab "
                              "USING fts5vocab(main, chunks_fts, 'row')")
            self._vocab_ready = True
        before = self.conn.total_changes
        self.conn.execute("DELETE FROM temp.query_tokens")
        self.conn.executemany("INSERT INTO temp.query_tokens(rowid, x) VALUES (?, ?)",
                              list(enumerate(texts, start=1)))
        self._scratch_changes += self.conn.total_changes - before
        tokens: list[list[str]] = [[] for _ in texts]
        for doc, term in self.conn.execute("SELECT doc, term FROM temp.query_inst"):
            tokens[int(doc) - 1].append(str(term))
        return tokens

    def _doc_count(self, token: str) -> int:
        row = self.conn.execute("SELECT doc FROM temp.index_vocab WHERE term = ?",
                                (token,)).fetchone()
        return int(row[0]) if row else 0

    def token_counts(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """For each text, its distinct index tokens and how many passages contain each
        (one scratch tokenization for all texts, one lookup per distinct token)."""
        counts: dict[str, int] = {}
        result = []
        for tokens in self._tokenize(texts):
            for t in tokens:
                if t not in counts:
                    counts[t] = self._doc_count(t)
            result.append({t: counts[t] for t in tokens})
        return result

    def fts_scores(self, match: str, ids: Sequence[ChunkId]) -> dict[ChunkId, float]:
        """BM25 scores of the given chunks; chunks that do not match are absent."""
        out: dict[ChunkId, float] = {}
        for part, marks in _in_batches(ids):
            rows = self.conn.execute(
                "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                f"AND rowid IN ({marks})", (match, *part))
            out.update((ChunkId(r[0]), float(r[1])) for r in rows)
        return out

    def keyword_search(self, match: KeywordMatch, limit: int,
                       filters: ParsedQuery | None = None) -> list[tuple[ChunkId, float]]:
        """Top passages admitted by `match` among the files `filters` keep, by BM25."""
        where, params = file_filter_sql(filters, mail=self.has_mail_fields) if filters \
            else ("1", [])
        return self.fts_search(fts_match(match), limit, where, params)

    def keyword_scores(self, match: KeywordMatch, ids: Sequence[ChunkId]) -> dict[ChunkId, float]:
        """BM25 of those of `ids` that `match` admits."""
        return self.fts_scores(fts_match(match), ids)

    def passages_of(self, file_id: FileId) -> np.ndarray:
        """Ids of one file's passages."""
        return self.chunk_ids_where("f.id = ?", [int(file_id)])

    def chunk_ids(self, filters: ParsedQuery | None = None, *,
                  except_file: FileId | None = None) -> np.ndarray:
        """Ids of the passages of files that `filters` keep (all without), less those of
        `except_file`."""
        where, params = file_filter_sql(filters, mail=self.has_mail_fields) if filters \
            else ("1", [])
        if except_file is not None:
            where, params = f"({where}) AND f.id != ?", [*params, int(except_file)]
        return self.chunk_ids_where(where, params)

    def chunk_ids_where(self, sql_filter: str, params: Sequence[object]) -> np.ndarray:
        """Ids of chunks whose file satisfies an SQL condition on `f` (files)."""
        rows = self.conn.execute(
            f"SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE {sql_filter}",
            params,
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def integrity_problems(self) -> list[str]:
        """Problems found by SQLite's and FTS5's own checks; empty when healthy.

        The FTS5 check is run as an INSERT (it changes nothing), so a read-only
        connection can only run SQLite's and says the full-text index went unchecked.
        """
        problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        if self.readonly:
            return problems + ["fts: not checked (the index is open read-only)"]
        try:
            self.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            problems.append("fts: not checked (the index file is read-only)"
                            if "readonly" in str(exc) else f"fts: {exc}")
        return problems

    def rebuild_fulltext(self) -> int:
        """Rebuild the full-text index from the stored passage text; how many passages
        it holds."""
        self.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        return int(self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])


def upsert_file_sql(mark: str) -> str:
    """Insert or update a file's row, returning its id; `mark` is the dialect's
    parameter placeholder."""
    return f"""
        INSERT INTO files(path, display_path, ext, title, size, mtime_ns, content_hash,
                          status, reason, indexed_at, parent_id, sender, recipients,
                          date_ns)
        VALUES ({", ".join([mark] * 14)})
        ON CONFLICT (path) DO UPDATE SET
            display_path = excluded.display_path, ext = excluded.ext,
            title = excluded.title, size = excluded.size, mtime_ns = excluded.mtime_ns,
            content_hash = excluded.content_hash, status = excluded.status,
            reason = excluded.reason, indexed_at = excluded.indexed_at,
            parent_id = excluded.parent_id, sender = excluded.sender,
            recipients = excluded.recipients, date_ns = excluded.date_ns
        RETURNING id
    """


def fingerprint_columns(fingerprint: Fingerprint | None) -> tuple[int, bytes | None]:
    """A fingerprint as its table stores it: (shingles, minhash bytes)."""
    return (fingerprint.shingles, fingerprint.to_bytes()) if fingerprint else (0, None)


def fingerprints_of(rows: Iterable[Sequence[Any]]) -> dict[FileId, Fingerprint]:
    """Fingerprints from (file id, shingles, minhash) rows, those in today's format."""
    out: dict[FileId, Fingerprint] = {}
    for file_id, shingles, data in rows:
        found = Fingerprint.from_bytes(bytes(data), int(shingles))
        if found is not None:
            out[FileId(file_id)] = found
    return out


def join_passages(rows: Sequence[tuple[int, str]]) -> str | None:
    """A document's text from its passages, (char_start, text) each (see
    Store.document_text); None when there are none."""
    if not rows:
        return None
    out: list[str] = []
    pos = 0
    for start, text in sorted(rows):
        if start > pos:
            out.append("\n" * (start - pos))
        if start + len(text) > pos:
            out.append(text[max(0, pos - start):])
            pos = start + len(text)
    return "".join(out)


T = TypeVar("T")
_ID_BATCH = 500  # SQLite allows 32,766 host parameters; small batches keep plans cheap


def _in_batches(ids: Sequence[T]) -> Iterator[tuple[Sequence[T], str]]:
    """`ids` in slices for an `IN (…)` list, each with its placeholders."""
    for start in range(0, len(ids), _ID_BATCH):
        part = ids[start:start + _ID_BATCH]
        if len(part) and isinstance(part[0], np.generic):
            # numpy integers as Python ones: sqlite3 binds them as blobs, matching nothing
            part = [cast(np.generic, i).item() for i in part]
        yield part, ",".join("?" * len(part))


FINGERPRINTS_SCHEMA = 5  # the schema version that added them
MEMBERS_SCHEMA = 6  # the one that added parent_id, sender, recipients and date_ns
PASSAGE_KEYS_SCHEMA = 7  # passage keys and the reasons passages are left unembedded
OCR_SCHEMA = 8  # passages marked as read by OCR

# Each new passage of a file (id above its old ones) whose key another passage with a
# vector shares gets a copy of that vector; one source per passage, however many
# copies of the text the index holds.
_COPY_VECTORS_SQL = """
    INSERT OR IGNORE INTO vectors(chunk_id, model_id, scale, data)
    SELECT c.id, v.model_id, v.scale, v.data FROM chunks c
    JOIN vectors v ON v.chunk_id = (
        SELECT d.id FROM chunks d JOIN vectors w ON w.chunk_id = d.id
        WHERE d.embed_key = c.embed_key AND d.id != c.id LIMIT 1)
    WHERE c.file_id = ? AND c.id > ?
"""


def _vector_rows(rows: Sequence[tuple[int, float, bytes]],
                 dim: int) -> tuple[np.ndarray, QuantizedVectors]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    scales = np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))
    codes = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.int8)
    return ids, QuantizedVectors(codes.reshape(len(rows), dim), scales)
