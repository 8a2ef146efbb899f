"""The operating system's page cache and the index files: ask for them to be read in,
and see how much of them is there.

A search at a million passages reads a few hundred scattered pages of the database
(FTS5 doclists and document sizes, int8 vectors, the chunks' owners).  When those pages
are in the page cache a hybrid query takes about 20-30 ms; each one that is not costs
a disk read, and the first queries after a start (or after the system needed the memory
for something else) took 50-300 ms.  So the service asks the kernel to read the index
in when it starts, as Elasticsearch's `index.store.preload` does for its files: the
kernel reads in the background, at the I/O priority of the asking process, and the
pages stay reclaimable, so this takes memory from nobody who needs it more.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import mmap
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger("deskfind.store")

STEP = 2 << 20  # Linux acts on a whole-file WILLNEED only up to its readahead window
# Indexes larger than this share of the machine's memory are not read in: the user's
# other work needs the cache more than our first queries do.
MEMORY_SHARE = 4


def memory_bytes() -> int:
    """Physical memory of this machine, 0 where unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


def preload(paths: Sequence[Path], budget: int | None = None) -> int:
    """Ask the kernel to read `paths` into its page cache; the bytes asked for.

    Nothing is asked (0) where the platform has no `posix_fadvise`, or when the files
    together exceed `budget` (default: a MEMORY_SHARE-th of physical memory).  Returns
    at once; the reads happen in the background."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    sizes = {p: _size(p) for p in paths}
    total = sum(sizes.values())
    limit = memory_bytes() // MEMORY_SHARE if budget is None else budget
    if total > limit:
        log.info("not reading the index into memory: %d MiB is more than %d MiB",
                 total >> 20, limit >> 20)
        return 0
    asked = 0
    for path, size in sizes.items():
        if not size:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue  # gone meanwhile (a WAL checkpointed away): nothing to read
        try:
            for offset in range(0, size, STEP):
                os.posix_fadvise(fd, offset, min(STEP, size - offset),
                                 os.POSIX_FADV_WILLNEED)
            asked += size
        except OSError as exc:
            log.info("could not ask for %s to be read in: %s", path, exc)
        finally:
            os.close(fd)
    return asked


def resident_fraction(paths: Sequence[Path]) -> float | None:
    """The share of the bytes of `paths` that is in the page cache now (mincore), None
    where it cannot be seen (not Linux) or the files are empty."""
    if not sys.platform.startswith("linux"):
        return None
    libc = _libc()
    if libc is None:
        return None
    page = mmap.PAGESIZE
    resident = pages = 0
    for path in paths:
        size = _size(path)
        if not size:
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            count = -(-size // page)
            address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if address in (None, ctypes.c_void_p(-1).value):
                return None
            try:
                vector = (ctypes.c_ubyte * count)()
                if libc.mincore(ctypes.c_void_p(address), size, vector) != 0:
                    return None
                resident += int((np.frombuffer(bytes(vector), np.uint8) & 1).sum())
                pages += count
            finally:
                libc.munmap(ctypes.c_void_p(address), size)
        finally:
            os.close(fd)
    return resident / pages if pages else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    return libc
