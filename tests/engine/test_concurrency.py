"""Readers during many writes: no 'database is locked', and the WAL stays bounded."""

import threading

from engine.store import ChunkInput, FileRecord, Store


def _write_files(store: Store, start: int, count: int) -> None:
    with store.write():
        for i in range(start, start + count):
            path = f"/r/f{i}.txt".encode()
            fid = store.upsert_file(FileRecord(path, path.decode(), "txt", "t", 1, 1, None),
                                    "indexed")
            store.replace_chunks(fid, "t", [ChunkInput(0, f"common words item{i} " * 20, 0, 9)])


def test_readers_never_see_locked_during_10k_writes(tmp_path):
    db = tmp_path / "data" / "index.sqlite3"
    writer = Store.open(db)
    errors: list[BaseException] = []
    done = threading.Event()
    searches = [0]

    def read() -> None:
        reader = Store.open(db, readonly=True)
        try:
            while not done.is_set():
                reader.fts_search('"common"', 10)
                searches[0] += 1
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)
        finally:
            reader.close()

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for batch in range(100):
            _write_files(writer, batch * 100, 100)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert errors == [] and searches[0] > 0
    assert writer.counts().files == 10_000


def test_a_long_reader_does_not_grow_the_wal_without_bound(tmp_path):
    db = tmp_path / "data" / "index.sqlite3"
    writer = Store.open(db)
    reader = Store.open(db, readonly=True)
    reader.conn.execute("BEGIN")
    reader.conn.execute("SELECT count(*) FROM chunks").fetchone()  # holds a snapshot
    for batch in range(20):
        _write_files(writer, batch * 100, 100)
    reader.conn.execute("COMMIT")
    reader.close()
    _write_files(writer, 10_000, 10)
    busy, _, _ = writer.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0  # the reader is gone, so the checkpoint completes
    _write_files(writer, 20_000, 10)  # the next write restarts the WAL, cut to the limit
    wal = db.with_name(db.name + "-wal")
    assert wal.stat().st_size <= 32 * 1024 * 1024
    assert writer.integrity_problems() == []
