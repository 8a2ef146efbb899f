"""The index in a shared PostgreSQL database: the store contract (engine.storage) over
psycopg, for a team's index that several indexers write and many desktops search.

Keyword search is PostgreSQL full text (a generated `tsvector` with a GIN index) ranked
by the same BM25 as FTS5's, computed in SQL from statistics the schema keeps, so fusion
and its normalisation (engine.ranking) see the same scale on both engines.  Vectors are
int8 rows with a change log, exactly what engine.dense reads from SQLite.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from engine import pgschema
from engine.duplicates import FileEntry
from engine.errors import StoreError
from engine.fingerprint import Fingerprint
from engine.ids import ChunkId, FileId
from engine.quantize import QuantizedVectors
from engine.query import KeywordMatch, ParsedQuery, SqlDialect, file_filter_sql
from engine.reuse import passage_key
from engine.store import (
    ChunkInput,
    ChunkRow,
    Counts,
    FileRecord,
    FileState,
    _prefix_range,
    _vector_rows,
    fingerprint_columns,
    fingerprints_of,
    join_passages,
    upsert_file_sql,
)

try:
    import psycopg
    from psycopg import conninfo
except ImportError:  # pragma: no cover - the message says what to install
    psycopg = None  # type: ignore[assignment]

POSTGRES = SqlDialect("%s", "strpos(lower(coalesce({column}, '')), %s) > 0", "true", "false")
K1, B = 1.2, 0.75  # FTS5's BM25 constants
Params = Sequence[object] | Mapping[str, object]  # positional or named query parameters

ROOT_LOCKS = 0x64666972  # the advisory-lock class of per-root claims ("dfir")

_CHUNK_ROW_SQL = """
    SELECT c.id, c.file_id, c.ord, c.page, c.char_start, c.char_end, c.text, c.title,
           f.path, f.display_path, f.ext, f.mtime_ns, c.ocr
    FROM chunks c JOIN files f ON f.id = c.file_id
"""

# BM25 of each admitted passage, as FTS5 computes it (title and text as one field):
# Σ idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen)), over the query's lexemes.  The
# passage's tsvector is first cut down to the query's lexemes, in C: setweight marks
# their positions and ts_filter keeps only those, so the sum unnests two or three
# lexemes, not the passage's hundred or more (4.5x faster at p50 on 200,000
# passages, the same scores: tests/bench/bench_pg_bm25.py).
_BM25_SQL = """
    SELECT c.id, (SELECT coalesce(sum(q.idf * cardinality(t.positions) * {k1p1}
                        / (cardinality(t.positions) + {k1} * (1 - {b} + {b} * c.tokens / %s))),
                        0)
                  FROM unnest(ts_filter(setweight(c.words, 'A', %s::text[]), '{a}')) t
                  JOIN unnest(%s::text[], %s::float8[]) q(lexeme, idf) ON q.lexeme = t.lexeme
                 ) AS score
    FROM chunks c {files}
    WHERE c.words @@ ({match}) AND {where}
""".replace("{k1p1}", str(K1 + 1)).replace("{k1}", str(K1)).replace("{b}", str(B))
# PostgreSQL's own cover-density ranking, kept to measure against (tests/bench/
# bench_pg_ranking.py): BM25 ranks better on both collections, and only BM25 shares
# FTS5's scale, which the fusion's normalisation relies on.
_TS_RANK_CD_SQL = """
    SELECT c.id, ts_rank_cd(c.words, ({match})) AS score
    FROM chunks c {files}
    WHERE c.words @@ ({match}) AND {where}
"""
RANKINGS = {"bm25": _BM25_SQL, "ts_rank_cd": _TS_RANK_CD_SQL}


def _clean(text: str | None) -> str | None:
    """Text PostgreSQL can store, of the same length: NUL and unpaired surrogates (which
    SQLite keeps) become U+FFFD, so character offsets stay right."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _tsquery(match: KeywordMatch) -> tuple[str, list[object]]:
    """A tsquery expression for `match` and its parameters."""
    phrase = "deskfind_query(%s)"
    parts: list[str] = []
    params: list[object] = []
    if match.any_of:
        parts.append("(" + " || ".join([phrase] * len(match.any_of)) + ")")
        params.extend(_clean(t) for t in match.any_of)
    for p in match.all_of:
        parts.append(phrase)
        params.append(_clean(p))
    for w in match.none_of:
        parts.append(f"!!{phrase}")
        params.append(_clean(w))
    return " && ".join(parts), params


# The server's reasons for cancelling a write that say nothing about the data written
# (SQLSTATE classes and codes): transaction rollback (deadlock, serialisation), lock not
# available, query cancelled, operator intervention (shutdown), connection exception.
_CANCELLED_STATES = ("40", "55P03", "57", "08")


def _write_failed(exc: BaseException) -> StoreError:
    return StoreError(f"cannot write the index: {exc}")


def _cancelled(exc: BaseException) -> bool:
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return False
    if isinstance(exc, psycopg.InterfaceError):
        return True
    state = exc.sqlstate  # None: the connection broke before the server said why
    return isinstance(exc, psycopg.OperationalError) if state is None else \
        state.startswith(_CANCELLED_STATES)


class PgStore:
    """One PostgreSQL index database.  Writers of different roots write at once; the
    vector log is appended at each write's commit under one advisory lock, so its order
    is commit order.  Readers never wait."""

    def __init__(self, conn: Any, dsn: str, readonly: bool = False,
                 owner: str | None = None) -> None:
        self.conn = conn
        self.dsn = dsn
        self.readonly = readonly
        self.shared = True  # a team's index (see IndexStore.shared)
        # Whose work queue this is: one per machine, as each watches its own folders.
        self.owner = owner or socket.gethostname()
        # Who holds a claim on passages being embedded: this connection, not the machine
        # (two indexers of one machine share a queue owner but not their embedding).
        self.claimant = f"{self.owner}/{os.getpid()}/{secrets.token_hex(4)}"
        self.ranking = "bm25"  # or "ts_rank_cd", for measurement only (see RANKINGS)

    @classmethod
    def open(cls, dsn: str, *, readonly: bool = False, owner: str | None = None) -> PgStore:
        if psycopg is None:
            raise StoreError("a postgresql:// database needs psycopg: "
                             "pip install 'psycopg[binary]'")
        try:
            conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {_public(dsn)}: "
                             f"{str(exc).strip().splitlines()[-1]}") from exc
        try:
            if readonly:
                conn.execute("SET default_transaction_read_only = on")
                version = pgschema.schema_version(conn)
                pgschema.check_version(version)
                if version == 0:
                    raise StoreError(f"no index in {_public(dsn)}: run `deskfind index "
                                     "FOLDER --database …` first")
            else:
                pgschema.migrate(conn)
                conn.execute(_PENDING_STATS_SQL)
                conn.execute(_PENDING_LOG_SQL)
            store = cls(conn, dsn, readonly, owner)
            if not readonly:  # paths queued before queues had owners: someone's work
                conn.execute("UPDATE queue SET owner = %s WHERE owner = ''", (store.owner,))
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self.conn.close()

    def describe(self) -> str:
        return _public(self.dsn)

    def reader(self) -> PgStore:
        """A second, read-only connection as the same role (see Store.reader)."""
        return PgStore.open(self.dsn, readonly=True, owner=self.owner)

    def preload(self) -> int:
        """Nothing to ask for: the server caches its own pages (see Store.preload)."""
        return 0

    @contextmanager
    def write(self) -> Iterator[Any]:
        """A write transaction.  Its vector changes reach the log at its end (schema 4),
        so it waits for another writer only while that one commits its own."""
        try:
            with self.conn.transaction():
                self.conn.execute("SELECT set_config('deskfind.log_at_commit', 'on', true)")
                yield self.conn
                self.conn.execute("SELECT deskfind_flush_stats()")
                self.conn.execute("SELECT deskfind_flush_log()")
        except psycopg.OperationalError as exc:
            raise _write_failed(exc) from exc

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A savepoint inside the current write transaction (see Store.atomic).  A
        write the server cancels (a deadlock, a lock wait past lock_timeout, a lost
        connection) is the index's trouble, not the data's: it is a StoreError."""
        try:
            with self.conn.transaction():
                yield
        except psycopg.Error as exc:
            if _cancelled(exc):
                raise _write_failed(exc) from exc
            raise

    def _rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())

    def _one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
        return row

    def _count(self, sql: str, params: Params = ()) -> int:
        row = self._one(sql, params)
        return int(row[0] or 0) if row else 0

    # -- who may read, who indexes -------------------------------------------------------

    def grant_root(self, root: bytes, role: str) -> None:
        """Let database `role` (and its members) read what is indexed under `root`."""
        self.conn.execute("INSERT INTO root_readers(root, role) VALUES (%s, %s) "
                          "ON CONFLICT DO NOTHING", (root, role))

    def revoke_root(self, root: bytes, role: str) -> None:
        self.conn.execute("DELETE FROM root_readers WHERE root = %s AND role = %s",
                          (root, role))

    def role_exists(self, role: str) -> bool:
        return bool(self._count("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)))

    def root_readers(self, root: bytes) -> list[str]:
        return [str(r[0]) for r in self._rows(
            "SELECT role FROM root_readers WHERE root = %s ORDER BY role", (root,))]

    @contextmanager
    def claim_root(self, root: bytes) -> Iterator[None]:
        """Hold `root` for this indexer while the block runs: a second indexer claiming
        it (on any machine) is refused instead of indexing the same files at once."""
        key = int.from_bytes(hashlib.blake2b(root, digest_size=4).digest(), "big",
                             signed=True)
        if not self._count("SELECT pg_try_advisory_lock(%s, %s)::integer", (ROOT_LOCKS, key)):
            raise StoreError(f"another indexer is indexing {os.fsdecode(root)} right now")
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (ROOT_LOCKS, key))

    # -- meta, roots, queue -------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    def add_root(self, root: bytes) -> None:
        """Index `root` from now on; passages already indexed under it (it lies inside
        another root) are counted under it from now on."""
        added = self.conn.execute("INSERT INTO roots(path, added_at) VALUES (%s, %s) "
                                  "ON CONFLICT DO NOTHING", (root, time.time())).rowcount
        if added:
            self.conn.execute("SELECT deskfind_claim_passages(%s)", (root,))
            self.conn.execute("SELECT deskfind_flush_stats()")

    def roots(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._rows("SELECT path FROM roots ORDER BY path")]

    def remove_root(self, root: bytes) -> int:
        self.conn.execute("DELETE FROM roots WHERE path = %s", (root,))
        return self.delete_files(s.id for s in self.file_states(root).values())

    def enqueue(self, paths: Iterable[bytes]) -> None:
        now = time.time()
        self.conn.execute("INSERT INTO queue(owner, path, enqueued_at) SELECT %s, p, %s "
                          "FROM unnest(%s::bytea[]) p ON CONFLICT DO NOTHING",
                          (self.owner, now, list(paths)))

    def queued(self, limit: int) -> list[bytes]:
        """The oldest `limit` paths of this indexer's queue (other machines' are theirs)."""
        rows = self._rows("SELECT path FROM queue WHERE owner = %s "
                          "ORDER BY enqueued_at, path LIMIT %s", (self.owner, limit))
        return [bytes(r[0]) for r in rows]

    def dequeue(self, paths: Iterable[bytes]) -> None:
        self.conn.execute("DELETE FROM queue WHERE owner = %s AND path = ANY(%s::bytea[])",
                          (self.owner, list(paths)))

    def start_attempt(self, path: bytes) -> int:
        row = self._one("UPDATE queue SET attempts = attempts + 1 WHERE owner = %s AND "
                        "path = %s RETURNING attempts", (self.owner, path))
        return 0 if row is None else int(row[0])

    def queue_length(self) -> int:
        return self._count("SELECT count(*) FROM queue WHERE owner = %s", (self.owner,))

    # -- files --------------------------------------------------------------------------

    def file_state(self, path: bytes) -> FileState | None:
        row = self._one("SELECT id, size, mtime_ns, content_hash, status FROM files "
                        "WHERE path = %s", (path,))
        return None if row is None else FileState(FileId(row[0]), *row[1:])

    def file_states(self, root: bytes) -> dict[bytes, FileState]:
        """Every known file on disk at `root` or below it (see Store.file_states)."""
        lo, hi = _prefix_range(root)
        rows = self._rows(
            "SELECT path, id, size, mtime_ns, content_hash, status FROM files "
            "WHERE (path = %s OR (path >= %s AND path < %s)) AND parent_id IS NULL",
            (root, lo, hi))
        return {bytes(r[0]): FileState(FileId(r[1]), r[2], r[3], r[4], r[5]) for r in rows}

    def upsert_file(self, rec: FileRecord, status: str, reason: str | None = None, *,
                    parent: FileId | None = None) -> FileId:
        row = self._one(
            upsert_file_sql("%s"),
            (rec.path, _clean(rec.display_path), _clean(rec.ext), _clean(rec.title), rec.size,
             rec.mtime_ns, rec.content_hash, status, _clean(reason), time.time(), parent,
             _clean(rec.sender), _clean(rec.recipients), rec.date_ns))
        assert row is not None
        return FileId(row[0])

    def delete_members(self, parent: FileId) -> int:
        return int(self.conn.execute("DELETE FROM files WHERE parent_id = %s",
                                     (parent,)).rowcount)

    def members(self, parent: FileId) -> list[bytes]:
        rows = self._rows("SELECT path FROM files WHERE parent_id = %s ORDER BY path",
                          (parent,))
        return [bytes(r[0]) for r in rows]

    def container_of(self, path: bytes) -> bytes | None:
        row = self._one("SELECT p.path FROM files f JOIN files p ON p.id = f.parent_id "
                        "WHERE f.path = %s", (path,))
        return None if row is None else bytes(row[0])

    def touch_file(self, file_id: FileId, size: int, mtime_ns: int) -> None:
        self.conn.execute("UPDATE files SET size = %s, mtime_ns = %s WHERE id = %s",
                          (size, mtime_ns, file_id))

    def replace_chunks(self, file_id: FileId, title: str, chunks: Sequence[ChunkInput]) -> int:
        """Replace a file's passages, reusing vectors by passage key (see Store)."""
        last_old = self._count("SELECT max(id) FROM chunks WHERE file_id = %s", (file_id,))
        title = _clean(title) or ""
        texts = [_clean(c.text) or "" for c in chunks]
        self.conn.execute(
            "INSERT INTO chunks(file_id, ord, page, char_start, char_end, text, title, "
            "embed_key, ocr) SELECT %s, * FROM unnest(%s::integer[], %s::integer[], "
            "%s::integer[], %s::integer[], %s::text[], %s::text[], %s::bytea[], "
            "%s::boolean[])",
            (file_id, [c.ord for c in chunks], [c.page for c in chunks],
             [c.char_start for c in chunks], [c.char_end for c in chunks], texts,
             [title] * len(chunks), [passage_key(title, t) for t in texts],
             [bool(c.ocr) for c in chunks]))
        reused = 0
        if chunks:
            reused = self.conn.execute(_COPY_VECTORS_SQL, (file_id, last_old)).rowcount
        self.conn.execute("DELETE FROM chunks WHERE file_id = %s AND id <= %s",
                          (file_id, last_old))
        return max(0, int(reused))

    def delete_files(self, file_ids: Iterable[FileId]) -> int:
        ids = [int(i) for i in file_ids]
        self.conn.execute("DELETE FROM files WHERE id = ANY(%s::bigint[])", (ids,))
        return len(ids)

    def failures(self, limit: int = 50) -> list[tuple[str, str, str]]:
        rows = self._rows("SELECT display_path, status, coalesce(reason, '') FROM files "
                          "WHERE status != 'indexed' ORDER BY indexed_at DESC LIMIT %s",
                          (limit,))
        return [(r[0], r[1], r[2]) for r in rows]

    def counts(self, model_id: str | None = None) -> Counts:
        by_status = dict(self._rows("SELECT status, count(*) FROM files GROUP BY status"))
        chunks = self._count("SELECT count(*) FROM chunks")
        embedded = self._count("SELECT count(*) FROM vectors") if model_id is None else \
            self._count("SELECT count(*) FROM vectors WHERE model_id = %s", (model_id,))
        return Counts(files=sum(by_status.values()), indexed=by_status.get("indexed", 0),
                      failed=by_status.get("failed", 0), skipped=by_status.get("skipped", 0),
                      chunks=chunks, embedded=embedded)

    # -- fingerprints -------------------------------------------------------------------

    def put_fingerprint(self, file_id: FileId, fingerprint: Fingerprint | None) -> None:
        self.conn.execute(
            "INSERT INTO fingerprints(file_id, shingles, minhash) VALUES (%s, %s, %s) "
            "ON CONFLICT (file_id) DO UPDATE SET shingles = excluded.shingles, "
            "minhash = excluded.minhash", (file_id, *fingerprint_columns(fingerprint)))

    def drop_fingerprint(self, file_id: FileId) -> None:
        self.conn.execute("DELETE FROM fingerprints WHERE file_id = %s", (file_id,))

    def fingerprints(self, file_ids: Sequence[FileId]) -> dict[FileId, Fingerprint]:
        return fingerprints_of(self._rows(
            "SELECT file_id, shingles, minhash FROM fingerprints WHERE minhash IS NOT NULL "
            "AND file_id = ANY(%s::bigint[])", ([int(i) for i in file_ids],)))

    def files_without_fingerprint(self, limit: int) -> list[tuple[FileId, bytes]]:
        rows = self._rows(
            "SELECT f.id, f.path FROM files f LEFT JOIN fingerprints p ON p.file_id = f.id "
            "WHERE f.status = 'indexed' AND p.file_id IS NULL ORDER BY f.id LIMIT %s",
            (limit,))
        return [(FileId(r[0]), bytes(r[1])) for r in rows]

    def duplicate_candidates(self) -> list[FileEntry]:
        rows = self._rows(
            "SELECT id, path, display_path, size, mtime_ns, content_hash FROM files "
            "WHERE content_hash IS NOT NULL OR status = 'indexed' ORDER BY path")
        return [FileEntry(r[0], bytes(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    # -- passages -----------------------------------------------------------------------

    def chunk_owners(self, ids: Sequence[ChunkId]) -> dict[ChunkId, FileId]:
        rows = self._rows("SELECT id, file_id FROM chunks WHERE id = ANY(%s::bigint[])",
                          ([int(i) for i in ids],))
        return {ChunkId(r[0]): FileId(r[1]) for r in rows}

    def document_text(self, path: bytes) -> str | None:
        rows = self._rows("SELECT c.char_start, c.text FROM chunks c JOIN files f "
                          "ON f.id = c.file_id WHERE f.path = %s ORDER BY c.ord", (path,))
        return join_passages([(int(s), str(t)) for s, t in rows])

    def chunk_rows(self, ids: Sequence[ChunkId]) -> dict[ChunkId, ChunkRow]:
        rows = self._rows(f"{_CHUNK_ROW_SQL} WHERE c.id = ANY(%s::bigint[])",
                          ([int(i) for i in ids],))
        out = (ChunkRow(ChunkId(r[0]), FileId(r[1]), r[2], r[3], r[4], r[5], r[6], r[7],
                        bytes(r[8]), r[9], r[10], r[11], bool(r[12])) for r in rows)
        return {row.id: row for row in out}

    def passages_of(self, file_id: FileId) -> np.ndarray:
        return self._ids("SELECT id FROM chunks WHERE file_id = %s ORDER BY id", (file_id,))

    def chunk_ids(self, filters: ParsedQuery | None = None, *,
                  except_file: FileId | None = None) -> np.ndarray:
        where, params = file_filter_sql(filters, dialect=POSTGRES) if filters \
            else (POSTGRES.true, [])
        if except_file is not None:
            where, params = f"({where}) AND f.id != %s", [*params, int(except_file)]
        return self._ids(f"SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
                         f"WHERE {where}", params)

    def _ids(self, sql: str, params: Sequence[object]) -> np.ndarray:
        rows = self._rows(sql, params)
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def chunks_without_vectors(self, model_id: str, limit: int) -> list[tuple[ChunkId, str, str]]:
        """As Store's, less the passages another indexer has claimed to embed; the
        ones returned are claimed for this one (schema 5) until their vectors are put."""
        params = {"model": model_id, "limit": limit, "claimant": self.claimant,
                  "stale": CLAIM_SECONDS}
        rows: list[tuple[Any, ...]] = []
        for _ in range(8):  # bounded: at worst this round ends early, the next goes on
            rows = self._rows(_CLAIM_SQL, params)
            if rows or not self._count(_UNCLAIMED_SQL, params):
                break
            # Every passage picked was claimed by another indexer between the pick and
            # the claim; pick again from what is left.
        return [(ChunkId(r[0]), r[1], r[2]) for r in rows]

    def leave_unembedded(self, ids: Sequence[ChunkId], reason: str) -> None:
        self.conn.execute("UPDATE chunks SET embed_skip = %s WHERE id = ANY(%s::bigint[])",
                          (reason, [int(i) for i in ids]))

    def embed_again(self, reason: str) -> int:
        return int(self.conn.execute("UPDATE chunks SET embed_skip = NULL "
                                     "WHERE embed_skip = %s", (reason,)).rowcount)

    def unembedded(self, file_id: FileId | None = None) -> dict[str, int]:
        one = "" if file_id is None else " AND file_id = %s"
        rows = self._rows("SELECT embed_skip, count(*) FROM chunks WHERE embed_skip "
                          f"IS NOT NULL{one} GROUP BY embed_skip",
                          () if file_id is None else (int(file_id),))
        return {str(reason): int(n) for reason, n in rows}

    # -- vectors ------------------------------------------------------------------------

    def drop_vectors_of_other_models(self, model_id: str) -> int:
        return int(self.conn.execute("DELETE FROM vectors WHERE model_id != %s",
                                     (model_id,)).rowcount)

    def put_vectors(self, model_id: str, ids: Sequence[ChunkId], q: QuantizedVectors) -> None:
        self.put_vector_rows(model_id, [(i, float(s), row.tobytes()) for i, s, row
                                        in zip(ids, q.scales, q.codes, strict=True)])

    def put_vector_rows(self, model_id: str,
                        rows: Sequence[tuple[ChunkId, float, bytes]]) -> None:
        ids = [int(r[0]) for r in rows]
        self.conn.execute(
            "INSERT INTO vectors(chunk_id, model_id, scale, data, root_id) "
            "SELECT i, %s, s, d, c.root_id "
            "FROM unnest(%s::bigint[], %s::real[], %s::bytea[]) AS r(i, s, d) "
            "JOIN chunks c ON c.id = r.i "
            "ON CONFLICT (chunk_id) DO UPDATE SET model_id = excluded.model_id, "
            "scale = excluded.scale, data = excluded.data",
            (model_id, ids, [float(r[1]) for r in rows], [r[2] for r in rows]))
        self.conn.execute("DELETE FROM embed_claims WHERE chunk_id = ANY(%s::bigint[])", (ids,))

    def vectors_by_key(self, model_id: str,
                       keys: Sequence[bytes]) -> dict[bytes, tuple[float, bytes]]:
        rows = self._rows(
            "SELECT DISTINCT ON (c.embed_key) c.embed_key, v.scale, v.data FROM chunks c "
            "JOIN vectors v ON v.chunk_id = c.id AND v.model_id = %s "
            "WHERE c.embed_key = ANY(%s::bytea[])", (model_id, sorted(set(keys))))
        return {bytes(k): (float(scale), bytes(data)) for k, scale, data in rows}

    def load_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        rows = self._rows("SELECT chunk_id, scale, data FROM vectors WHERE model_id = %s "
                          "ORDER BY chunk_id", (model_id,))
        return _vector_rows(rows, dim)  # type: ignore[arg-type]

    def vectors_for(self, model_id: str, ids: Sequence[int] | np.ndarray,
                    dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        rows = self._rows("SELECT chunk_id, scale, data FROM vectors WHERE chunk_id = "
                          "ANY(%s::bigint[]) AND model_id = %s ORDER BY chunk_id",
                          (sorted({int(i) for i in ids}), model_id))
        return _vector_rows(rows, dim)  # type: ignore[arg-type]

    # The log position is the whole log's (one number for every reader); the passages
    # a reader is shown are those of the roots it may read (schema 4).

    def vector_version(self) -> int:
        return self._count("SELECT deskfind_vector_position()") or \
            int(self.get_meta("vector_log_trimmed") or 0)

    def vector_changes(self, since: int) -> tuple[int, np.ndarray] | None:
        if since < int(self.get_meta("vector_log_trimmed") or 0):
            return None
        # One statement, so the position and the rows come from one snapshot.
        position, changed = self._rows(
            "SELECT deskfind_vector_position(), "
            "ARRAY(SELECT chunk_id FROM vector_log WHERE seq > %s ORDER BY seq)", (since,))[0]
        if any(c is None for c in changed):  # who may read what changed: start again
            return None
        return max(int(position or 0), since), np.unique(np.asarray(changed, np.int64))

    def trim_vector_log(self, keep: int) -> None:
        cut = self.vector_version() - keep
        if cut > int(self.get_meta("vector_log_trimmed") or 0):
            self.conn.execute("DELETE FROM vector_log WHERE seq <= %s", (cut,))
            self.set_meta("vector_log_trimmed", str(cut))

    # -- keyword search -----------------------------------------------------------------

    def keyword_search(self, match: KeywordMatch, limit: int,
                       filters: ParsedQuery | None = None) -> list[tuple[ChunkId, float]]:
        """Top passages admitted by `match` among the files `filters` keep, by BM25."""
        tail = f"ORDER BY score DESC, c.id LIMIT {int(limit)}"
        if filters is None or not filters.has_filters:
            return self._bm25(match, POSTGRES.true, [], tail)
        where, params = file_filter_sql(filters, dialect=POSTGRES)
        return self._bm25(match, where, params, tail, files=True)

    def keyword_scores(self, match: KeywordMatch, ids: Sequence[ChunkId]) -> dict[ChunkId, float]:
        if not ids:
            return {}
        return dict(self._bm25(match, "c.id = ANY(%s::bigint[])", [[int(i) for i in ids]], ""))

    def _bm25(self, match: KeywordMatch, where: str, params: Sequence[object],
              tail: str, *, files: bool = False) -> list[tuple[ChunkId, float]]:
        """`files`: `where` filters on files `f`, so they are joined (chunks have
        row-level security of their own, so reading only them shows no more)."""
        tsquery, match_params = _tsquery(match)
        lexemes, idfs = self._idfs([*match.any_of, *match.all_of])
        stats = self._one("SELECT sum(passages), sum(tokens) FROM chunk_stats")
        avg = (float(stats[1]) / float(stats[0])) if stats and stats[0] else 1.0
        join = "JOIN files f ON f.id = c.file_id" if files else ""
        sql = RANKINGS[self.ranking].replace("{match}", tsquery).replace("{where}", where) \
            .replace("{files}", join)
        # The score's parameters come first: BM25's statistics, or ts_rank_cd's query.
        scoring = match_params if self.ranking == "ts_rank_cd" else [avg, lexemes, lexemes, idfs]
        rows = self._rows(sql + tail, [*scoring, *match_params, *params])
        return [(ChunkId(r[0]), float(r[1])) for r in rows]

    def _idfs(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """The lexemes of `texts` and FTS5's idf of each.  A lexeme is listed once per
        text holding it: FTS5 scores each quoted term of a query on its own, so a word
        a query repeats weighs that many times."""
        lexemes = [(t, c) for per_text in self.token_counts(texts) for t, c in per_text.items()]
        n = self.passage_count()
        idfs = [max(float(np.log((n - c + 0.5) / (c + 0.5))) if n else 0.0, 1e-6)
                for _, c in lexemes]
        return [t for t, _ in lexemes], idfs

    def token_counts(self, texts: Sequence[str]) -> list[dict[str, int]]:
        """For each text, its distinct lexemes and how many passages hold each."""
        if not texts:
            return []
        rows = self._rows(
            "SELECT t.n, v.lexeme, coalesce(s.passages, 0) "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS t(text, n), "
            "unnest(deskfind_words(t.text)) AS v "
            "LEFT JOIN LATERAL (SELECT sum(s.passages) AS passages FROM term_stats s "
            "WHERE s.lexeme = v.lexeme) s ON true",
            ([_clean(t) for t in texts],))
        out: list[dict[str, int]] = [{} for _ in texts]
        for n, lexeme, passages in rows:
            out[int(n) - 1][str(lexeme)] = int(passages)
        return out

    def passage_count(self) -> int:
        """Passages in the roots this role may read (BM25's collection size)."""
        return self._count("SELECT sum(passages) FROM chunk_stats")

    # -- health -------------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """Whether the keyword statistics agree with the passages they count."""
        kept = self.passage_count()
        actual = self._count("SELECT count(*) FROM chunks")
        if kept != actual:
            return [f"keyword statistics count {kept} passages, the index holds {actual}"]
        return []

    def rebuild_fulltext(self) -> int:
        """Count the keyword statistics again from the passages; how many there are."""
        self.conn.execute("UPDATE chunks c SET root_id = deskfind_root_id(f.path) FROM files f "
                          "WHERE f.id = c.file_id AND c.root_id <> deskfind_root_id(f.path)")
        self.conn.execute("DELETE FROM term_stats")
        self.conn.execute(
            "INSERT INTO term_stats(lexeme, root_id, passages) SELECT lexeme, root_id, "
            "count(*) FROM chunks, unnest(tsvector_to_array(words)) AS lexeme "
            "GROUP BY lexeme, root_id")
        self.conn.execute("DELETE FROM chunk_stats")
        self.conn.execute("INSERT INTO chunk_stats(root_id, passages, tokens) SELECT root_id, "
                          "count(*), coalesce(sum(tokens), 0) FROM chunks GROUP BY root_id")
        self.conn.execute("REINDEX INDEX chunks_words")
        return self.passage_count()


# Where this session's triggers note BM25 statistics until its transaction folds them
# in (see migration 1).  Rolled back with the transaction or savepoint that wrote them.
_PENDING_STATS_SQL = """
    CREATE TEMP TABLE IF NOT EXISTS deskfind_pending (
        lexeme   text,
        root_id  integer NOT NULL,
        passages bigint NOT NULL,
        tokens   bigint NOT NULL DEFAULT 0
    )
"""

# How long an indexer's claim on passages it is embedding holds off the others: far
# longer than a batch takes, so a claim this old means its indexer stopped.
CLAIM_SECONDS = 900.0

# Passages without a vector of the model that no other indexer holds a live claim on.
_UNCLAIMED = """
    FROM chunks c JOIN files f ON f.id = c.file_id
    LEFT JOIN vectors v ON v.chunk_id = c.id AND v.model_id = %(model)s
    LEFT JOIN embed_claims k ON k.chunk_id = c.id
    WHERE v.chunk_id IS NULL AND c.embed_skip IS NULL
      AND (k.chunk_id IS NULL OR k.owner = %(claimant)s
           OR k.claimed_at < extract(epoch FROM clock_timestamp()) - %(stale)s)
"""
_UNCLAIMED_SQL = "SELECT count(*) FROM (SELECT 1 " + _UNCLAIMED + " LIMIT 1) t"
# Pick the next passages to embed (newest files first) and claim them in one statement.
# Two indexers picking at once both try to claim: the second waits for the first's
# claim to commit, then takes only what the first did not (the WHERE on conflict).
_CLAIM_SQL = """
    WITH picked AS (
        SELECT c.id, f.mtime_ns """ + _UNCLAIMED + """
        ORDER BY f.mtime_ns DESC, c.id LIMIT %(limit)s
    ), claimed AS (
        INSERT INTO embed_claims AS k (chunk_id, owner, claimed_at)
        SELECT id, %(claimant)s, extract(epoch FROM clock_timestamp()) FROM picked
        ON CONFLICT (chunk_id) DO UPDATE SET owner = excluded.owner,
                                             claimed_at = excluded.claimed_at
            WHERE k.owner = excluded.owner
               OR k.claimed_at < extract(epoch FROM clock_timestamp()) - %(stale)s
        RETURNING chunk_id
    )
    SELECT c.id, c.title, c.text FROM claimed JOIN chunks c ON c.id = claimed.chunk_id
    JOIN files f ON f.id = c.file_id ORDER BY f.mtime_ns DESC, c.id
"""

# Where this session's write transaction notes its vector changes until it appends
# them to the log at its end (see migration 5).
_PENDING_LOG_SQL = """
    CREATE TEMP TABLE IF NOT EXISTS deskfind_pending_log (
        chunk_id bigint NOT NULL,
        root_id  integer NOT NULL
    )
"""

# As Store's: each new passage of a file whose key another passage with a vector shares
# gets a copy of that vector.
_COPY_VECTORS_SQL = """
    INSERT INTO vectors(chunk_id, model_id, scale, data, root_id)
    SELECT c.id, v.model_id, v.scale, v.data, c.root_id FROM chunks c
    CROSS JOIN LATERAL (
        SELECT w.model_id, w.scale, w.data FROM chunks d JOIN vectors w ON w.chunk_id = d.id
        WHERE d.embed_key = c.embed_key AND d.id != c.id LIMIT 1) v
    WHERE c.file_id = %s AND c.id > %s
    ON CONFLICT DO NOTHING
"""


@contextmanager
def scratch_schema(dsn: str) -> Iterator[str]:
    """A connection string to a new, empty schema of the database at `dsn`, dropped with
    everything in it afterwards (an evaluation's throwaway index)."""
    if psycopg is None:
        raise StoreError("a postgresql:// database needs psycopg: pip install 'psycopg[binary]'")
    name = f"deskfind_scratch_{os.getpid()}_{time.monotonic_ns()}"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    except psycopg.Error as exc:
        raise StoreError(f"cannot make a scratch schema in {_public(dsn)}: {exc}") from exc
    parts = conninfo.conninfo_to_dict(dsn)
    parts["options"] = f"{parts.get('options') or ''} -c search_path={name}".strip()
    try:
        yield conninfo.make_conninfo("", **parts)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def _public(dsn: str) -> str:
    """A connection string without its password, to show."""
    if psycopg is None:
        return dsn.split("@")[-1]
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the database (its connection string does not parse)"
    host = parts.get("host") or "localhost"
    name = parts.get("dbname") or parts.get("service") or parts.get("user") or ""
    return f"postgresql database {name} on {host}"
