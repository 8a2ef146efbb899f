"""Indexing in two phases: text into the store and FTS first, embeddings after."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import TracebackType

from engine.dense import LOG_KEEP
from engine.embedder import Embedder
from engine.errors import StoreError
from engine.fingerprint import Fingerprint, fingerprint
from engine.generated import GENERATED, is_generated
from engine.ids import ChunkId, FileId
from engine.quantize import quantize
from engine.reuse import passage_key
from engine.storage import IndexStore
from engine.store import ChunkInput, FileRecord, FileState
from indexer.chunking import chunk_spans, page_of
from indexer.errors import ExtractionError
from indexer.extract import (
    SNIFF_BYTES,
    Extracted,
    Extractor,
    Member,
    extractor_for,
    runs_in_process,
    sniff_kind,
)
from indexer.formats.base import name_title
from indexer.formats.paged import NO_TEXT_LAYER
from indexer.isolation import ExtractionPool, WorkerStartError
from indexer.ocr import DEFAULT_OCR, OcrSettings, read_with_ocr, unavailable_reason, wants_ocr
from indexer.secrets import SECRET_REASON, looks_secret
from indexer.walk import FoundFile, WalkRules, admits, file_ext, walk

log = logging.getLogger("deskfind.indexer")

Progress = Callable[[str, int, int], None]  # (phase, done, total)
Hold = Callable[[], str]  # why embedding should wait now ("" when it need not)


@dataclass
class IndexReport:
    """What one indexing run did; counters are per run, not totals."""

    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0  # passages the model ran on
    chunks_reused: int = 0  # passages given the vector of one with the same title and text
    chunks_generated: int = 0  # passages of generated text, left unembedded
    embedding_paused: str = ""  # why embedding stopped before the end ("" if it did not)
    failures: list[tuple[str, str]] = field(default_factory=list)


def display_path(path: bytes) -> str:
    """A printable form of a path; the exact bytes are kept separately."""
    return path.decode("utf-8", errors="backslashreplace")


def passage_text(title: str, text: str) -> str:
    """What gets embedded: the passage with its document's title in front, since a
    passage alone often lacks the context that says what it is about."""
    return f"{title}\n{text}" if title else text


def passages(extracted: Extracted) -> list[ChunkInput]:
    """A document's passages; in a paged document none crosses a page break.

    Keeping passages within their page means a hit on slide 7 or page 3 reports
    that page, even when pages are short.
    """
    text, starts = extracted.text, extracted.pages
    bounds = (0, *starts, len(text))
    ocr = frozenset(extracted.ocr_pages)
    chunks: list[ChunkInput] = []
    for page_start, page_end in pairwise(bounds):
        page = page_of(page_start, starts)
        by_ocr = (page or 1) in ocr
        for span in chunk_spans(text[page_start:page_end]):
            start, end = page_start + span.start, page_start + span.end
            chunks.append(ChunkInput(len(chunks), text[start:end], start, end, page, by_ocr))
    return chunks


MAX_ATTEMPTS = 3  # starts of one queued file before it is recorded as failed
BATCH_CHARS = 16_000_000  # extracted text held for one write transaction, at most

_SURROGATES = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with lone surrogates replaced: codecs like UTF-7 can decode to them, and
    SQLite (UTF-8) cannot store them."""
    return _SURROGATES.sub("\ufffd", text)


def storable(extracted: Extracted) -> Extracted:
    """An extraction whose text and title the store can hold."""
    return replace(extracted, text=storable_text(extracted.text),
                   title=storable_text(extracted.title))


class NotRegularFile(OSError):
    """The path is a FIFO, device, socket, folder or symbolic link, not a file to read."""


_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def read_regular_file(root: bytes, path: bytes, limit: int) -> tuple[bytes, os.stat_result]:
    """The first `limit` + 1 bytes of the regular file at `path`, and its fstat.

    Every component below `root` is opened without following symbolic links, and
    non-blocking, so a file swapped for a link (to a secret, out of the root) or for a
    FIFO after the walk is refused instead of read or waited on.
    """
    rel = os.path.relpath(path, root) if path != root else b"."
    parts = [] if rel == b"." else rel.split(b"/")
    if b".." in parts:
        raise NotRegularFile(f"outside its root: {display_path(path)}")
    try:
        if not parts:  # the root is the file itself
            fd = os.open(path, _FILE_FLAGS)
        else:
            folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                for part in parts[:-1]:
                    inner = os.open(part, _DIR_FLAGS, dir_fd=folder)
                    os.close(folder)
                    folder = inner
                fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=folder)
            finally:
                os.close(folder)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotRegularFile("a symbolic link now stands where the file was") from exc
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile("not a regular file (a FIFO, device or socket)")
        os.set_blocking(fh.fileno(), True)
        return fh.read(limit + 1), st


def _file_record(item: FoundFile) -> FileRecord:
    ext = file_ext(item.path)
    name = display_path(os.path.basename(item.path))
    return FileRecord(item.path, display_path(item.path), ext, name, item.size,
                      item.mtime_ns, None)


@dataclass(frozen=True)
class _MemberRead:
    """A document inside a file (archive member, message, attachment), ready to write."""

    record: FileRecord
    status: str
    reason: str = ""
    extracted: Extracted | None = None
    fingerprint: Fingerprint | None = None


def _member_reads(container: FileRecord, members: Sequence[Member]) -> tuple[_MemberRead, ...]:
    """Members as rows of their own, under virtual paths below their container's.

    A member carries its container's modification time (a message its own date), so
    after:/before: treat an archive's contents like the archive.
    """
    reads = []
    for m in members:
        path = container.path + b"/" + os.fsencode(m.name)
        extracted = storable(m.extracted) if m.extracted is not None else None
        status, reason = m.status, m.reason
        if extracted is not None and looks_secret(extracted.text):
            extracted, status, reason = None, "skipped", SECRET_REASON
        mail = extracted.mail if extracted is not None else None
        title = extracted.title if extracted else name_title(os.path.basename(m.name))
        record = FileRecord(path, display_path(path), m.ext, title, m.size,
                            container.mtime_ns, m.content_hash or None,
                            mail.sender if mail else None, mail.recipients if mail else None,
                            mail.date_ns if mail else None)
        reads.append(_MemberRead(record, status, reason, extracted,
                                 fingerprint(extracted.text) if extracted else None))
    return tuple(reads)


@dataclass(frozen=True)
class _Read:
    """What reading one file found, before anything is written: `outcome` is unchanged,
    touch (same content, new stat data), indexed, skipped, failed, or ocr (to be read
    again by OCR once the scan's other files are written)."""

    record: FileRecord
    state: FileState | None
    outcome: str
    reason: str = ""
    extracted: Extracted | None = None
    fingerprint: Fingerprint | None = None
    members: tuple[_MemberRead, ...] = ()

    @property
    def chars(self) -> int:
        own = len(self.extracted.text) if self.extracted else 0
        return own + sum(len(m.extracted.text) for m in self.members if m.extracted)


class Indexer:
    """Keeps a store in step with the files under its roots.

    Documents other than plain text are read in a worker process (`ExtractionPool`).
    A pool the indexer made itself is stopped at the end of each scan, so an indexer
    that is never closed leaves no process behind; a pool passed in is the caller's.
    """

    def __init__(self, store: IndexStore, rules: WalkRules | None = None, *,
                 commit_every: int = 64, pool: ExtractionPool | None = None,
                 stop: threading.Event | None = None, skip_generated: bool = True,
                 ocr: OcrSettings | None = DEFAULT_OCR) -> None:
        self.store = store
        self.ocr = ocr  # None: OCR is off
        self.skip_generated = skip_generated  # leave generated text unembedded
        self.stop = stop or threading.Event()  # set: finish the current file, then return
        self.rules = rules or WalkRules()
        self.commit_every = commit_every
        self._owns_pool = pool is None
        self.pool = pool or ExtractionPool()

    def close(self) -> None:
        """Stop the extraction worker if this indexer started it."""
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- phase 1: files → chunks → FTS ---------------------------------------------------

    def scan(self, roots: Iterable[bytes], report: IndexReport,
             progress: Progress | None = None) -> None:
        """Bring the store's files under `roots` in line with the disk."""
        try:
            for root in roots:
                self._scan_root(root, report, progress)
        finally:
            self.close()

    def _scan_root(self, root: bytes, report: IndexReport, progress: Progress | None) -> None:
        refusal = self.rules.refusal(root, is_dir=os.path.isdir(root))
        if refusal is not None:  # the CLI and the settings refuse these before they get here
            log.warning("not indexing: %s", refusal)
            return
        with self.store.write():
            self.store.add_root(root)
        with self.store.claim_root(root):  # a shared index: never two indexers on one root
            self._scan_tree(root, report, progress)

    def _scan_tree(self, root: bytes, report: IndexReport,
                   progress: Progress | None = None) -> None:
        """Index a folder: its files read and extracted outside any transaction, then
        written in short batched ones, then its deletions.

        Stops between files when `stop` is set; what was read so far is written, and
        the rest waits for the next scan (unchanged files cost a stat then).
        """
        known = self.store.file_states(root)
        found = list(walk(root, self.rules)) if os.path.isdir(root) else \
            self._single_file(root)
        report.seen += len(found)
        batch: list[_Read] = []
        later: list[_Read] = []  # files to read by OCR once the others are written
        chars = 0
        for n, item in enumerate(found, 1):
            if self.stop.is_set():
                self._write_batch(batch, report)
                return
            read = self._read(item, known.pop(item.path, None), root)
            if read.outcome == "ocr":
                later.append(read)
                continue
            batch.append(read)
            chars += read.chars
            if len(batch) >= self.commit_every or chars >= BATCH_CHARS:
                self._write_batch(batch, report)
                batch, chars = [], 0
            if progress:
                progress("reading", n, len(found))
        self._write_batch(batch, report, gone=[s.id for s in known.values()])
        for n, read in enumerate(later, 1):  # phase 1.5
            if self.stop.is_set():
                return  # unwritten, so the next scan reads them again
            self._write_batch([self._read_by_ocr(read, root)], report)
            if progress:
                progress("ocr", n, len(later))

    def _write_batch(self, batch: list[_Read], report: IndexReport,
                     gone: Sequence[FileId] = ()) -> None:
        """Write the files read, and forget the `gone` ones, in one short transaction."""
        if batch or gone:
            with self.store.write():
                for read in batch:
                    self._apply(read, report)
                report.deleted += self.store.delete_files(gone)

    def sync_paths(self, paths: Sequence[bytes], roots: Sequence[bytes],
                   report: IndexReport) -> None:
        """Re-check queued paths against the disk, then take them off the queue.

        A path is a hint that something changed there: a file is re-indexed or dropped,
        a folder is rescanned (moved-in folders, reconcile scans).  Paths under a root
        whose folder is gone (an unmounted drive) are left alone: the root is offline,
        and its documents must survive until it comes back.  A file that was started
        MAX_ATTEMPTS times without finishing (the process died on it) is recorded as
        failed instead of being tried again.  Stops between paths when `stop` is set.

        Paths found gone are forgotten last, so a file moved within the batch gives
        its passages' vectors to its new path before the old one is dropped.
        """
        gone: list[tuple[bytes, bytes]] = []  # (path, root)
        later: list[tuple[_Read, bytes]] = []  # (read, root) to read by OCR, still queued
        # Not in a `finally`: after an error the gone paths stay queued, to be seen again.
        self._sync_each(paths, roots, report, gone, later)
        self._forget_gone(gone, report)
        for read, root in later:
            if self.stop.is_set():
                return
            read = self._read_by_ocr(read, root)
            with self.store.write():
                report.seen += 1
                self._apply(read, report)
                self.store.dequeue([read.record.path])

    def _sync_each(self, paths: Sequence[bytes], roots: Sequence[bytes],
                   report: IndexReport, gone: list[tuple[bytes, bytes]],
                   later: list[tuple[_Read, bytes]]) -> None:
        for path in paths:
            if self.stop.is_set():
                return
            root = next((r for r in roots if path == r or path.startswith(r.rstrip(b"/") + b"/")),
                        None)
            if root is None or not os.path.isdir(root):
                with self.store.write():
                    self.store.dequeue([path])
                continue
            if os.path.isdir(path) and not os.path.islink(path) and \
                    admits(self.rules, root, path, is_dir=True):
                self._scan_tree(path, report)
                with self.store.write():
                    self.store.dequeue([path])
                continue
            with self.store.write():
                attempts = self.store.start_attempt(path)
            read = self._read_queued(path, root, attempts)
            if read is None:  # gone, excluded, or no longer a regular file
                gone.append((path, root))
                continue
            if read.outcome == "ocr":
                later.append((read, root))
                continue
            with self.store.write():
                report.seen += 1
                self._apply(read, report)
                self.store.dequeue([path])

    def _forget_gone(self, gone: Sequence[tuple[bytes, bytes]], report: IndexReport) -> None:
        """Drop the files at paths found gone, unless one came back in the meantime."""
        if not gone:
            return
        with self.store.write():
            for path, root in gone:
                if os.path.isfile(path) and not os.path.islink(path) and \
                        admits(self.rules, root, path):
                    continue  # back again: it stays queued, to be read next time
                states = self.store.file_states(path)
                report.deleted += self.store.delete_files(s.id for s in states.values())
                self.store.dequeue([path])

    def _read_queued(self, path: bytes, root: bytes, attempts: int) -> _Read | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or not admits(self.rules, root, path):
            return None
        item = FoundFile(path, st.st_size, st.st_mtime_ns)
        state = self.store.file_state(path)
        if attempts > MAX_ATTEMPTS:
            return _Read(_file_record(item), state, "failed",
                         f"gave up after {MAX_ATTEMPTS} attempts: the indexer stopped while "
                         "reading it each time")
        return self._read(item, state, root)

    def _single_file(self, path: bytes) -> list[FoundFile]:
        try:
            st = os.lstat(path)
        except OSError:
            return []
        return [FoundFile(path, st.st_size, st.st_mtime_ns)]

    def _read(self, item: FoundFile, state: FileState | None, root: bytes, *,
              by_ocr: bool = False) -> _Read:
        """Everything indexing a file needs, read and extracted; nothing is written.

        Whatever goes wrong with the file (unreadable, not a regular file any more, a
        failing extractor) becomes its outcome; only the store's own errors propagate.
        A file that needs OCR comes back as outcome `ocr` unless `by_ocr` is set, which
        reads it with OCR now.
        """
        record = _file_record(item)
        if state and (state.size, state.mtime_ns) == (item.size, item.mtime_ns) and \
                not by_ocr and not self._ocr_retry(state, record.ext):
            return _Read(record, state, "unchanged")
        kind = record.ext
        if not kind or extractor_for(kind) is None:  # an mbox or Maildir message, maybe
            kind = self._sniff(root, item.path) or kind
            record = replace(record, ext=kind)  # ext:eml finds Maildir messages too
        if extractor_for(kind) is None and not wants_ocr(kind):
            return _Read(record, state, "skipped",
                         f"no text extractor for .{record.ext or '(none)'}")
        if wants_ocr(kind) and self._ocr_missing():
            return _Read(record, state, "skipped", self._ocr_missing())
        too_large = _Read(record, state, "skipped",
                          f"larger than {self.rules.max_file_bytes} bytes")
        if item.size > self.rules.max_file_bytes:
            return too_large
        try:
            data, st = read_regular_file(root, item.path, self.rules.max_file_bytes)
        except NotRegularFile as exc:
            return _Read(record, state, "skipped", str(exc))
        except OSError as exc:
            return _Read(record, state, "failed", f"cannot read: {exc.strerror or exc}")
        # Describe what was opened, not what the walk saw a moment before.
        record = replace(record, size=st.st_size, mtime_ns=st.st_mtime_ns)
        if len(data) > self.rules.max_file_bytes:  # it grew since the walk
            return replace(too_large, record=record)
        if looks_secret(data):
            return _Read(record, state, "skipped", SECRET_REASON)
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        record = replace(record, content_hash=digest)
        if state and state.content_hash == digest and state.status == "indexed":
            return _Read(record, state, "touch")
        if wants_ocr(kind) and not by_ocr:
            return _Read(record, state, "ocr")
        return self._extracted(record, state, data, kind, by_ocr)

    def _ocr_retry(self, state: FileState, ext: str) -> bool:
        """Whether a file skipped for want of OCR should be read now that OCR can run."""
        return state.status == "skipped" and (wants_ocr(ext) or ext == "pdf") and \
            not self._ocr_missing()

    def _ocr_missing(self) -> str:
        """Why files that need OCR cannot get it here ('' when they can)."""
        if self.ocr is None:
            return "needs OCR, which is off (setting ocr)"
        return unavailable_reason() or ""

    def _extracted(self, record: FileRecord, state: FileState | None, data: bytes, kind: str,
                   by_ocr: bool) -> _Read:
        """The read of a file's bytes by its extractor (and OCR when `by_ocr`)."""
        try:
            if by_ocr:
                assert self.ocr is not None
                found = read_with_ocr(self.pool, data, record.title, self.ocr)
            else:
                extractor = extractor_for(kind)
                assert extractor is not None
                found = self._extract(extractor, data, kind, record.title)
            extracted = storable(found)
        except ExtractionError as exc:
            if str(exc) == NO_TEXT_LAYER and kind == "pdf":
                if not self._ocr_missing():
                    return _Read(record, state, "ocr")
                return _Read(record, state, "skipped", f"{exc}; {self._ocr_missing()}")
            return _Read(record, state, "failed", str(exc))
        except WorkerStartError:
            raise  # no file is to blame: the run stops and every file keeps its state
        except Exception as exc:  # an in-process extractor's bug costs this file only
            log.exception("extracting %s failed", record.display_path)
            return _Read(record, state, "failed",
                         f"extractor error: {type(exc).__name__}: {exc}"[:300])
        if looks_secret(extracted.text):  # a key in a PDF or an Office file, say
            return _Read(record, state, "skipped", SECRET_REASON)
        if extracted.blank_pages and kind == "pdf" and not by_ocr and not self._ocr_missing():
            return _Read(record, state, "ocr")  # its scanned pages, with the rest
        if extracted.mail is not None:
            mail = extracted.mail
            record = replace(record, sender=mail.sender, recipients=mail.recipients,
                             date_ns=mail.date_ns)
        # Taken here, outside the write transaction: it reads the whole text.
        return _Read(record, state, "indexed", extracted=replace(extracted, members=()),
                     fingerprint=fingerprint(extracted.text),
                     members=_member_reads(record, extracted.members))

    def _read_by_ocr(self, deferred: _Read, root: bytes) -> _Read:
        """A file deferred to OCR, read again with it (it may have changed meanwhile)."""
        record = deferred.record
        item = FoundFile(record.path, record.size, record.mtime_ns)
        return self._read(item, deferred.state, root, by_ocr=True)

    @staticmethod
    def _sniff(root: bytes, path: bytes) -> str | None:
        """The format of a file its extension does not name, from its first bytes."""
        try:
            head, _ = read_regular_file(root, path, SNIFF_BYTES)
        except OSError:
            return None  # reading it properly will say what is wrong, if it gets there
        return sniff_kind(path, head)

    def _extract(self, extractor: Extractor, data: bytes, ext: str, name: str) -> Extracted:
        """Plain text in this process; every other format in the worker."""
        if runs_in_process(ext):
            return extractor(data, name)
        return self.pool.extract(data, ext, name)

    def _apply(self, read: _Read, report: IndexReport) -> None:
        """Write one file's outcome inside the caller's transaction.

        A write that fails on the file's data is rolled back to before it and recorded
        as the file's failure; the store's own errors (busy, disk full) propagate and
        the caller's transaction rolls back whole.
        """
        try:
            with self.store.atomic():
                self._write(read, report)
        except (sqlite3.OperationalError, StoreError):
            raise
        except Exception as exc:
            log.exception("storing %s failed", read.record.display_path)
            self._record(read.record, "failed",
                         f"cannot store: {type(exc).__name__}: {exc}"[:300], report)

    def _write(self, read: _Read, report: IndexReport) -> None:
        state = read.state
        if read.outcome == "unchanged":
            report.unchanged += 1
        elif read.outcome == "touch":
            assert state is not None
            self.store.touch_file(state.id, read.record.size, read.record.mtime_ns)
            report.unchanged += 1
        elif read.outcome == "indexed":
            assert read.extracted is not None
            self._store_text(read, state is not None, report)
        else:
            self._record(read.record, read.outcome, read.reason, report)

    def _store_text(self, read: _Read, existed: bool, report: IndexReport) -> None:
        extracted = read.extracted
        assert extracted is not None
        record = replace(read.record, title=extracted.title)
        file_id = self.store.upsert_file(record, "indexed")
        chunks = passages(extracted)
        report.chunks_reused += self.store.replace_chunks(file_id, extracted.title, chunks)
        self.store.put_fingerprint(file_id, read.fingerprint)
        report.chunks_written += len(chunks)
        self._store_members(file_id, read.members, report)
        if existed:
            report.updated += 1
        else:
            report.added += 1

    def _store_members(self, parent: FileId, members: Sequence[_MemberRead],
                       report: IndexReport) -> None:
        """Replace the documents held inside a file with those just read from it."""
        self.store.delete_members(parent)
        for m in members:
            member_id = self.store.upsert_file(m.record, m.status, m.reason or None,
                                               parent=parent)
            chunks = passages(m.extracted) if m.extracted is not None else []
            self.store.replace_chunks(member_id, m.record.title, chunks)
            if m.extracted is not None:
                self.store.put_fingerprint(member_id, m.fingerprint)
            report.chunks_written += len(chunks)
            if m.status == "failed":
                report.failures.append((m.record.display_path, m.reason))

    def _record(self, record: FileRecord, status: str, reason: str, report: IndexReport) -> None:
        reason = storable_text(reason)
        file_id = self.store.upsert_file(record, status, reason)
        self.store.replace_chunks(file_id, record.title, [])  # drop what an older version had
        self.store.delete_members(file_id)
        self.store.drop_fingerprint(file_id)
        if status == "failed":
            report.failed += 1
            report.failures.append((record.display_path, reason))
        else:
            report.skipped += 1
        log.info("%s %s: %s", status, record.display_path, reason)

    def fingerprint_pending(self, limit: int | None = None, batch: int = 64) -> int:
        """Fingerprint indexed files that have none yet (at most `limit`), from their
        stored passages: files indexed before fingerprints existed get one without
        being read again."""
        done = 0
        while limit is None or done < limit:
            want = batch if limit is None else min(batch, limit - done)
            todo = self.store.files_without_fingerprint(want)
            if not todo or self.stop.is_set():
                break
            prints = [(file_id, fingerprint(self.store.document_text(path) or ""))
                      for file_id, path in todo]
            with self.store.write():
                for file_id, found in prints:
                    self.store.put_fingerprint(file_id, found)
            done += len(todo)
        return done

    # -- phase 2: chunks → vectors -------------------------------------------------------

    def embed_pending(self, embedder: Embedder, report: IndexReport,
                      progress: Progress | None = None, batch: int = 256,
                      limit: int | None = None, hold: Hold | None = None) -> int:
        """Embed passages that have no vector from this model yet (at most `limit`); how
        many were dealt with, generated text left unembedded included.  `hold` is asked
        before each batch: a reason means stop there (kept in `report.embedding_paused`)."""
        with self.store.write():
            self.store.drop_vectors_of_other_models(embedder.model_id)
            if not self.skip_generated:
                self.store.embed_again(GENERATED)
        total = self.store.counts().chunks - self.store.counts(embedder.model_id).embedded - \
            sum(self.store.unembedded().values())
        done = 0
        while True:
            report.embedding_paused = hold() if hold is not None else ""
            if report.embedding_paused:
                break
            want = batch if limit is None else min(batch, limit - done)
            todo = self.store.chunks_without_vectors(embedder.model_id, want) if want else []
            if not todo:
                break
            done += len(todo)  # generated passages count as done: they are dealt with
            if self.skip_generated:
                todo = self._without_generated(todo, report)
            ran = self._embed_once(embedder, todo) if todo else 0
            report.chunks_embedded += ran
            report.chunks_reused += len(todo) - ran
            if progress:
                progress("embedding", done, max(total, done))
        return done

    def _without_generated(self, todo: Sequence[tuple[ChunkId, str, str]],
                           report: IndexReport) -> list[tuple[ChunkId, str, str]]:
        """`todo` less its generated passages, which are recorded as not to embed."""
        generated = [chunk_id for chunk_id, _, text in todo if is_generated(text)]
        if generated:
            with self.store.write():
                self.store.leave_unembedded(generated, GENERATED)
            report.chunks_generated += len(generated)
        skip = set(generated)
        return [row for row in todo if row[0] not in skip]

    def _embed_once(self, embedder: Embedder, todo: Sequence[tuple[ChunkId, str, str]]) -> int:
        """Give each passage of `todo` a vector, running the model once per distinct
        title and text that has none yet; how many passages it ran on."""
        keys = [passage_key(title, text) for _, title, text in todo]
        known = self.store.vectors_by_key(embedder.model_id, keys)
        fresh: dict[bytes, int] = {}  # key → row among the texts to embed
        texts: list[str] = []
        for key, (_, title, text) in zip(keys, todo, strict=True):
            if key not in known and key not in fresh:
                fresh[key] = len(texts)
                texts.append(passage_text(title, text))
        if texts:
            q = quantize(embedder.embed_passages(texts))
            for key, row in fresh.items():
                known[key] = (float(q.scales[row]), q.codes[row].tobytes())
        with self.store.write():
            self.store.put_vector_rows(embedder.model_id, [
                (chunk_id, *known[key]) for (chunk_id, _, _), key in zip(todo, keys, strict=True)])
            self.store.trim_vector_log(LOG_KEEP)
        return len(texts)
