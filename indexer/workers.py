"""Child processes for untrusted parsing, shared by extraction and PDF previews.

A worker is started with 'spawn' (it inherits no locks or threads of its parent, which
may be the GUI), caps its own address space with RLIMIT_AS, greets its parent once it
is ready, then runs jobs from its pipe until it reads None or the pipe closes.  Native
code that crashes or loops costs the worker; its parent kills or reaps it and starts
another for the next job.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

START_TIMEOUT_S = 120.0  # a fresh interpreter on a busy machine can be slow to start
STOP_GRACE_S = 5.0  # how long a worker asked to stop may take before it is killed
_READY = "ready"

Job = Callable[[Any], tuple[object, ...]]  # a job's payload → its answer, never raising


def limit_memory(limit: int) -> None:
    """Cap this process's address space, where the platform supports it."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def serve(conn: Connection, memory_bytes: int, run: Job) -> None:
    """The worker's life: answer each payload from `conn` with `run` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    limit_memory(memory_bytes)
    conn.send(_READY)
    while True:
        try:
            payload = conn.recv()
        except EOFError:
            return
        if payload is None:
            return
        conn.send(run(payload))


def death_reason(exitcode: int | None, who: str) -> str:
    """Why a worker ended, in the words recorded for the job it was running."""
    if exitcode is not None and exitcode < 0:
        return f"{who} crashed (signal {-exitcode})"
    return f"{who} exited with status {exitcode}"


class WorkerProcess:
    """One worker process and the parent's end of its pipe.

    Raises what `start_failed(exit code)` makes when the worker does not greet in time.
    """

    def __init__(self, context: BaseContext, memory_bytes: int, run: Job, name: str,
                 start_failed: Callable[[int | None], Exception]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(  # type: ignore[attr-defined]
            target=serve, args=(child, memory_bytes, run), name=name, daemon=True)
        self.process.start()
        child.close()
        self.jobs = 0
        try:
            if self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == _READY:
                return
        except (EOFError, OSError):
            pass
        raise start_failed(self.reap())

    def stop(self) -> None:
        """Ask the worker to finish; kill it if it does not."""
        with contextlib.suppress(OSError):  # OSError: it is already gone
            self.conn.send(None)
        self.process.join(STOP_GRACE_S)
        self.kill()

    def kill(self) -> int | None:
        """End the worker now and release its resources; return its exit code."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        code: int | None = self.process.exitcode
        self.conn.close()
        self.process.close()
        return code

    def reap(self) -> int | None:
        """Exit code of a worker whose pipe closed (it died), after reaping it."""
        self.process.join(STOP_GRACE_S)
        return self.kill()
