"""Misbehaving extractors for isolation tests; module-level so a spawned worker imports them."""

from __future__ import annotations

import os
import signal
import threading

from indexer.errors import ExtractionError
from indexer.extract import Extracted


def echo(data: bytes, name: str) -> Extracted:
    """The bytes as text, titled by the name."""
    return Extracted(data.decode(), name)


def worker_pid(data: bytes, name: str) -> Extracted:
    """The id of the process that ran the extractor."""
    return Extracted(str(os.getpid()), name)


def hang(data: bytes, name: str) -> Extracted:
    """Never returns, like MuPDF stuck in a loop."""
    threading.Event().wait()
    raise AssertionError("unreachable")


def segfault(data: bytes, name: str) -> Extracted:
    """Dies of SIGSEGV, as native code does on a bad pointer."""
    os.kill(os.getpid(), signal.SIGSEGV)
    threading.Event().wait()  # the signal is delivered before this returns
    raise AssertionError("unreachable")


def allocate_a_gibibyte(data: bytes, name: str) -> Extracted:
    """Asks for 1 GiB, more than the tests' worker memory cap."""
    block = bytearray(1024**3)
    return Extracted(str(len(block)), name)


def refuse(data: bytes, name: str) -> Extracted:
    """Fails the expected way."""
    raise ExtractionError("refused on purpose")


def buggy(data: bytes, name: str) -> Extracted:
    """Fails the unexpected way, as an extractor with a bug would."""
    return Extracted({}["missing"], name)
