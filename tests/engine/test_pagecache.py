import mmap
import os
import sys

import pytest

from engine import pagecache
from engine.store import ChunkInput, FileRecord, Store

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore is Linux's")


@linux
def test_resident_fraction_sees_what_was_read(tmp_path):
    # A sparse file's pages are in no cache until something reads them.
    path = tmp_path / "sparse"
    pages = 256
    with open(path, "wb") as f:
        f.truncate(pages * mmap.PAGESIZE)
    assert pagecache.resident_fraction([path]) == 0.0
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no readahead past what is read
        os.pread(fd, pages // 4 * mmap.PAGESIZE, 0)
    finally:
        os.close(fd)
    assert pagecache.resident_fraction([path]) == pytest.approx(0.25, abs=0.02)
    with open(path, "rb") as f:
        f.read()
    assert pagecache.resident_fraction([path]) == 1.0


@linux
def test_resident_fraction_weighs_files_by_size_and_skips_missing_ones(tmp_path):
    read, unread = tmp_path / "read", tmp_path / "unread"
    read.write_bytes(b"x" * (3 * mmap.PAGESIZE))
    with open(unread, "wb") as f:
        f.truncate(mmap.PAGESIZE)
    share = pagecache.resident_fraction([read, unread, tmp_path / "missing"])
    assert share == pytest.approx(0.75)
    assert pagecache.resident_fraction([tmp_path / "missing"]) is None


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_preload_asks_for_every_file_within_the_budget(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"a" * 5_000_000)  # more than one step
    b.write_bytes(b"b" * 1000)
    assert pagecache.preload([a, b, tmp_path / "missing"], budget=10_000_000) == 5_001_000
    # Over the budget nothing is asked: the user's other work needs the memory more.
    assert pagecache.preload([a, b], budget=5_000_000) == 0
    assert pagecache.memory_bytes() > 0


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_store_preload_asks_for_the_database_and_its_log(tmp_path):
    store = Store.open(tmp_path / "index.sqlite3")
    try:
        with store.write():
            fid = store.upsert_file(FileRecord(b"/d/a.txt", "/d/a.txt", "txt", "a", 1, 1, None),
                                    "indexed")
            store.replace_chunks(fid, "a", [ChunkInput(0, "some text " * 200, 0, 2000)])
        on_disk = sum(p.stat().st_size for p in tmp_path.glob("index.sqlite3*")
                      if not p.name.endswith("-shm"))
        assert store.preload() == on_disk > 0
        reader = store.reader()
        try:
            assert reader.preload() == on_disk
        finally:
            reader.close()
    finally:
        store.close()
