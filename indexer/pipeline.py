"""Indexing in two phases: text into the store and FTS first, embeddings after."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import TracebackType

from engine.dense import LOG_KEEP
from engine.embedder import Embedder
from engine.quantize import quantize
from engine.store import ChunkInput, FileRecord, FileState, Store
from indexer.chunking import chunk_spans, page_of
from indexer.errors import ExtractionError
from indexer.extract import Extracted, Extractor, extractor_for, runs_in_process
from indexer.isolation import ExtractionPool
from indexer.walk import FoundFile, WalkRules, admits, file_ext, walk

log = logging.getLogger("deskfind.indexer")

Progress = Callable[[str, int, int], None]  # (phase, done, total)


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
    chunks_embedded: int = 0
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
    chunks: list[ChunkInput] = []
    for page_start, page_end in pairwise(bounds):
        page = page_of(page_start, starts)
        for span in chunk_spans(text[page_start:page_end]):
            start, end = page_start + span.start, page_start + span.end
            chunks.append(ChunkInput(len(chunks), text[start:end], start, end, page))
    return chunks


class Indexer:
    """Keeps a store in step with the files under its roots.

    Documents other than plain text are read in a worker process (`ExtractionPool`).
    A pool the indexer made itself is stopped at the end of each scan, so an indexer
    that is never closed leaves no process behind; a pool passed in is the caller's.
    """

    def __init__(self, store: Store, rules: WalkRules | None = None, *,
                 commit_every: int = 64, pool: ExtractionPool | None = None) -> None:
        self.store = store
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
        with self.store.write():
            self.store.add_root(root)
        self._scan_tree(root, report, progress)

    def _scan_tree(self, root: bytes, report: IndexReport,
                   progress: Progress | None = None) -> None:
        """Index a folder: its files in batched transactions, then its deletions."""
        known = self.store.file_states(root)
        found = list(walk(root, self.rules)) if os.path.isdir(root) else \
            self._single_file(root)
        report.seen += len(found)
        pending = 0
        self.store.conn.execute("BEGIN IMMEDIATE")
        try:
            for n, item in enumerate(found, 1):
                self._index_file(item, known.pop(item.path, None), report)
                pending += 1
                if pending >= self.commit_every:
                    self.store.conn.execute("COMMIT")
                    self.store.conn.execute("BEGIN IMMEDIATE")
                    pending = 0
                if progress:
                    progress("reading", n, len(found))
            report.deleted += self.store.delete_files(s.id for s in known.values())
            self.store.conn.execute("COMMIT")
        except BaseException:
            self.store.conn.execute("ROLLBACK")
            raise

    def sync_paths(self, paths: Sequence[bytes], roots: Sequence[bytes],
                   report: IndexReport) -> None:
        """Re-check queued paths against the disk, then take them off the queue.

        A path is a hint that something changed there: a file is re-indexed or dropped,
        a folder is rescanned (moved-in folders, reconcile scans).  Paths under a root
        whose folder is gone (an unmounted drive) are left alone: the root is offline,
        and its documents must survive until it comes back.
        """
        for path in paths:
            root = next((r for r in roots if path == r or path.startswith(r.rstrip(b"/") + b"/")),
                        None)
            if root is not None and os.path.isdir(root):
                if os.path.isdir(path) and not os.path.islink(path) and \
                        admits(self.rules, root, path, is_dir=True):
                    self._scan_tree(path, report)
                    with self.store.write():
                        self.store.dequeue([path])
                    continue
                with self.store.write():
                    self._sync_file(path, root, report)
                    self.store.dequeue([path])
            else:
                with self.store.write():
                    self.store.dequeue([path])

    def _sync_file(self, path: bytes, root: bytes, report: IndexReport) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode) and admits(self.rules, root, path):
            item = FoundFile(path, st.st_size, st.st_mtime_ns)
            report.seen += 1
            self._index_file(item, self.store.file_state(path), report)
            return
        # Gone, excluded, or no longer a regular file: forget it and anything below it.
        gone = self.store.file_states(path)
        report.deleted += self.store.delete_files(s.id for s in gone.values())

    def _single_file(self, path: bytes) -> list[FoundFile]:
        try:
            st = os.stat(path)
        except OSError:
            return []
        return [FoundFile(path, st.st_size, st.st_mtime_ns)]

    def _index_file(self, item: FoundFile, state: FileState | None, report: IndexReport) -> None:
        if state and (state.size, state.mtime_ns) == (item.size, item.mtime_ns):
            report.unchanged += 1
            return
        ext = file_ext(item.path)
        name = display_path(os.path.basename(item.path))
        record = FileRecord(item.path, display_path(item.path), ext, name, item.size,
                            item.mtime_ns, None)
        extractor = extractor_for(ext)
        if extractor is None:
            self._record(record, "skipped", f"no text extractor for .{ext or '(none)'}", report)
            return
        if item.size > self.rules.max_file_bytes:
            self._record(record, "skipped", f"larger than {self.rules.max_file_bytes} bytes",
                         report)
            return
        try:
            with open(item.path, "rb") as fh:
                data = fh.read(self.rules.max_file_bytes + 1)
        except OSError as exc:
            self._record(record, "failed", f"cannot read: {exc.strerror}", report)
            return
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        if state and state.content_hash == digest and state.status == "indexed":
            self.store.touch_file(state.id, item.size, item.mtime_ns)
            report.unchanged += 1
            return
        try:
            extracted = self._extract(extractor, data, ext, name)
        except ExtractionError as exc:
            self._record(replace(record, content_hash=digest), "failed", str(exc), report)
            return
        self._store_text(record, digest, extracted, state is not None, report)

    def _extract(self, extractor: Extractor, data: bytes, ext: str, name: str) -> Extracted:
        """Plain text in this process; every other format in the worker."""
        if runs_in_process(ext):
            return extractor(data, name)
        return self.pool.extract(data, ext, name)

    def _store_text(self, record: FileRecord, digest: str, extracted: Extracted,
                    existed: bool, report: IndexReport) -> None:
        record = FileRecord(record.path, record.display_path, record.ext, extracted.title,
                            record.size, record.mtime_ns, digest)
        file_id = self.store.upsert_file(record, "indexed")
        chunks = passages(extracted)
        self.store.replace_chunks(file_id, extracted.title, chunks)
        report.chunks_written += len(chunks)
        if existed:
            report.updated += 1
        else:
            report.added += 1

    def _record(self, record: FileRecord, status: str, reason: str, report: IndexReport) -> None:
        file_id = self.store.upsert_file(record, status, reason)
        self.store.replace_chunks(file_id, record.title, [])  # drop what an older version had
        if status == "failed":
            report.failed += 1
            report.failures.append((record.display_path, reason))
        else:
            report.skipped += 1
        log.info("%s %s: %s", status, record.display_path, reason)

    # -- phase 2: chunks → vectors -------------------------------------------------------

    def embed_pending(self, embedder: Embedder, report: IndexReport,
                      progress: Progress | None = None, batch: int = 256,
                      limit: int | None = None) -> int:
        """Embed passages that have no vector from this model yet (at most `limit`)."""
        with self.store.write():
            self.store.drop_vectors_of_other_models(embedder.model_id)
        total = self.store.counts().chunks - self.store.counts(embedder.model_id).embedded
        done = 0
        while True:
            want = batch if limit is None else min(batch, limit - done)
            todo = self.store.chunks_without_vectors(embedder.model_id, want) if want else []
            if not todo:
                break
            vectors = embedder.embed_passages([passage_text(t, x) for _, t, x in todo])
            with self.store.write():
                self.store.put_vectors(embedder.model_id, [c for c, _, _ in todo],
                                       quantize(vectors))
                self.store.trim_vector_log(LOG_KEEP)
            done += len(todo)
            report.chunks_embedded += len(todo)
            if progress:
                progress("embedding", done, max(total, done))
        return done

