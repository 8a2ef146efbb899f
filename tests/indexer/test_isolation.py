"""Extraction in worker processes: crashes, hangs and memory blow-ups cost one file."""

from __future__ import annotations

import logging
import multiprocessing.spawn
from collections.abc import Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from engine.store import Store
from indexer import extract
from indexer.errors import ExtractionError
from indexer.isolation import ExtractionPool, WorkerStartError
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import write_files
from tests.indexer import extractor_helpers as helpers

TEST_EXTRACTORS = {
    "echo": helpers.echo, "pid": helpers.worker_pid, "hang": helpers.hang,
    "segv": helpers.segfault, "alloc": helpers.allocate_a_gibibyte,
    "refuse": helpers.refuse, "buggy": helpers.buggy,
}


@pytest.fixture
def pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(timeout_s=1, memory_bytes=512 * 1024**2,
                        extractors=TEST_EXTRACTORS) as p:
        yield p


def _reason(pool: ExtractionPool, ext: str) -> str:
    with pytest.raises(ExtractionError) as caught:
        pool.extract(b"", ext, f"file.{ext}")
    return str(caught.value)


def _still_works(pool: ExtractionPool) -> bool:
    return pool.extract(b"alive", "echo", "x.echo").text == "alive"


def test_text_and_title_come_back_from_the_worker(pool):
    assert pool.extract("grüße".encode(), "echo", "a.echo") == extract.Extracted("grüße", "a.echo")


def test_a_hanging_extractor_is_killed_at_the_timeout(pool):
    assert _reason(pool, "hang") == "timeout after 1 s"
    assert _still_works(pool)
    assert pool.workers_started == 2


def test_a_segfault_is_reported_with_its_signal(pool):
    assert _reason(pool, "segv") == "extractor crashed (signal 11)"
    assert _still_works(pool)


def test_memory_is_capped_in_the_worker(pool):
    assert _reason(pool, "alloc") == "out of memory"
    assert _still_works(pool)
    assert pool.workers_started == 2  # replaced after running out of memory


def test_expected_and_unexpected_errors_become_reasons(pool, caplog):
    assert _reason(pool, "refuse") == "refused on purpose"
    with caplog.at_level(logging.ERROR, "deskfind.indexer.isolation"):
        assert _reason(pool, "buggy").startswith("extractor error: KeyError")
    assert "Traceback" in caplog.text
    assert _reason(pool, "nope") == "no text extractor for .nope"
    assert pool.workers_started == 1  # none of these cost the worker


def test_workers_are_recycled_after_so_many_files():
    with ExtractionPool(files_per_worker=2, extractors=TEST_EXTRACTORS) as pool:
        pids = [pool.extract(b"", "pid", "f.pid").text for _ in range(5)]
    assert len(set(pids)) == 3
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_a_closed_pool_starts_a_new_worker_when_used_again(pool):
    first = pool.extract(b"", "pid", "f.pid").text
    pool.close()
    assert pool.extract(b"", "pid", "f.pid").text != first


@pytest.mark.parametrize("bad", [{"timeout_s": 0}, {"files_per_worker": 0}])
def test_nonsense_settings_are_refused(bad):
    with pytest.raises(ValueError):
        ExtractionPool(**bad)


def test_the_indexer_records_hangs_and_crashes_and_goes_on(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(extract.EXTRACTORS, "hang", helpers.hang)
    monkeypatch.setitem(extract.EXTRACTORS, "segv", helpers.segfault)
    monkeypatch.setitem(extract.EXTRACTORS, "echo", helpers.echo)
    root = tmp_path / "docs"
    write_files(root, {"a.hang": "x", "b.segv": "x", "c.echo": "walrus moustache",
                       "d.txt": "narwhal tusk"})
    store = Store.open(tmp_path / "data" / "index.sqlite3")
    report = IndexReport()
    try:
        with ExtractionPool(timeout_s=1) as pool:
            Indexer(store, pool=pool).scan([bytes(root)], report)
        assert dict(report.failures) == {
            str(root / "a.hang"): "timeout after 1 s",
            str(root / "b.segv"): "extractor crashed (signal 11)",
        }
        assert report.added == 2
        assert store.fts_search('"walrus moustache"', 5)
        assert store.fts_search('"narwhal tusk"', 5)
    finally:
        store.close()


def test_the_indexer_stops_its_own_worker_after_a_scan(store, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(extract.EXTRACTORS, "pid", helpers.worker_pid)
    root = tmp_path / "docs"
    write_files(root, {"a.pid": "x"})
    indexer = Indexer(store)
    indexer.scan([bytes(root)], IndexReport())
    assert indexer.pool.workers_started == 1
    assert not indexer.pool.running


def test_a_worker_that_cannot_start_blames_no_file(store, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(extract.EXTRACTORS, "echo", helpers.echo)
    root = tmp_path / "docs"
    write_files(root, {"a.echo": "x"})
    resource_tracker.ensure_running()  # started for real, before the executable is broken
    python = multiprocessing.spawn.get_executable()
    multiprocessing.set_executable("/bin/false")
    try:
        with pytest.raises(WorkerStartError, match="did not start"):
            Indexer(store).scan([bytes(root)], IndexReport())
    finally:
        multiprocessing.set_executable(python)
    assert store.counts().files == 0
