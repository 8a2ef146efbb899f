"""Extraction in a worker process, so a crash, hang or memory blow-up costs one file.

MuPDF is native code: a hostile PDF can segfault it (no `try` catches that), loop
forever or allocate without bound.  The worker is a separate process started with
'spawn' (no inherited locks or threads), its address space is capped with
RLIMIT_AS, each file gets a deadline after which the worker is killed, and workers
are replaced after a number of files so fragmentation and leaks cannot build up.
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType

from indexer.errors import ExtractionError, IndexerError
from indexer.extract import EXTRACTORS
from indexer.formats.base import Extracted, Extractor
from indexer.workers import WorkerProcess, death_reason

log = logging.getLogger("deskfind.indexer.isolation")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_BYTES = 2 * 1024**3
DEFAULT_FILES_PER_WORKER = 200


class WorkerStartError(IndexerError):
    """No extraction worker can be started; no file is to blame, so none is marked."""

# The function travels by reference (module + name; a functools.partial of one too).
Job = tuple[Callable[[bytes, str], object], bytes, str]


def _run_job(job: Job) -> tuple[object, ...]:
    """Run one extraction and turn every Python-level failure into a reason.

    The answer is ("ok", Extracted), ("error", reason) or ("bug", reason, traceback).
    """
    extractor, data, name = job
    try:
        return ("ok", extractor(data, name))
    except ExtractionError as exc:
        return ("error", str(exc))
    except MemoryError:
        return ("error", "out of memory")
    except RecursionError:
        return ("error", "document nested too deeply")
    except Exception as exc:  # a bug or an unexpected library error: report, go on
        return ("bug", f"extractor error: {type(exc).__name__}: {exc}"[:300],
                traceback.format_exc())


def _start_failed(code: int | None) -> WorkerStartError:
    return WorkerStartError(f"the extraction worker did not start (exit status {code}); "
                            "its error output is on stderr")


class ExtractionPool:
    """Runs extractors in a worker process; `extract` raises ExtractionError on failure.

    The worker starts on first use and is replaced after a crash, a timeout, running
    out of memory or `files_per_worker` files.  After `close()` the pool may be used
    again (a new worker starts).  Not thread-safe: one caller at a time.
    """

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_bytes: int = DEFAULT_MEMORY_BYTES,
                 files_per_worker: int = DEFAULT_FILES_PER_WORKER,
                 extractors: Mapping[str, Extractor] | None = None,
                 start_method: str = "spawn") -> None:
        if timeout_s <= 0 or files_per_worker < 1:
            raise ValueError("need timeout_s > 0 and files_per_worker >= 1")
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.files_per_worker = files_per_worker
        self._extractors = extractors
        self._context = multiprocessing.get_context(start_method)
        self._worker: WorkerProcess | None = None
        self.workers_started = 0

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether a worker process is up."""
        return self._worker is not None

    def close(self) -> None:
        """Stop the worker, if one is running."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def extract(self, data: bytes, ext: str, name: str) -> Extracted:
        """Text and title of a file's bytes, read by the extractor for `ext` in a worker."""
        found = self.call(self._lookup(ext), data, name)
        if not isinstance(found, Extracted):
            raise ExtractionError(f"extractor error: it returned {type(found).__name__}")
        return found

    def call(self, function: Callable[[bytes, str], object], data: bytes, name: str, *,
             timeout_s: float | None = None) -> object:
        """`function(data, name)` run in the worker within `timeout_s` (default: the
        pool's per-file timeout); ExtractionError says why it gave no answer."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        worker = self._send((function, data, name))
        if not worker.conn.poll(timeout):
            self._discard(kill=True)
            raise ExtractionError(f"timeout after {timeout:g} s")
        try:
            answer = worker.conn.recv()
        except (EOFError, OSError):
            raise ExtractionError(death_reason(self._discard(kill=False), "extractor")) from None
        worker.jobs += 1
        return self._settle(worker, answer, name)

    def _lookup(self, ext: str) -> Extractor:
        table = EXTRACTORS if self._extractors is None else self._extractors
        extractor = table.get(ext)
        if extractor is None:
            raise ExtractionError(f"no text extractor for .{ext or '(none)'}")
        return extractor

    def _send(self, job: Job) -> WorkerProcess:
        """Hand a job to a live worker; a worker that died while idle is replaced once."""
        for attempt in (1, 2):
            worker = self._ready_worker()
            try:
                worker.conn.send(job)
                return worker
            except OSError:
                code = self._discard(kill=False)
                if attempt == 2:
                    raise ExtractionError(death_reason(code, "extractor")) from None
        raise AssertionError("unreachable")

    def _ready_worker(self) -> WorkerProcess:
        if self._worker is None:
            self._worker = WorkerProcess(self._context, self.memory_bytes, _run_job,
                                         "deskfind-extract", _start_failed)
            self.workers_started += 1
        return self._worker

    def _discard(self, *, kill: bool) -> int | None:
        """Drop the current worker (killing it, or reaping a dead one); its exit code."""
        worker, self._worker = self._worker, None
        if worker is None:
            return None
        return worker.kill() if kill else worker.reap()

    def _settle(self, worker: WorkerProcess, answer: tuple[object, ...], name: str) -> object:
        """Recycle the worker when due, then return the answer or raise the reason."""
        status, payload = answer[0], answer[1]
        if worker.jobs >= self.files_per_worker or payload == "out of memory":
            self.close()  # a fresh process gives back fragmented or leaked memory
        if status == "ok":
            return payload
        if status == "bug":
            log.error("extractor failed on %s: %s\n%s", name, payload, answer[2])
        raise ExtractionError(str(payload))
