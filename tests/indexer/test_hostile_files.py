"""Files that attack the indexer: codecs that yield unstorable text, FIFOs, paths swapped
for links between the walk and the read, and secrets in every disguise (audit #10)."""

import os
import threading
from pathlib import Path

import pytest

from engine.store import Store
from indexer.pipeline import MAX_ATTEMPTS, Indexer, IndexReport, read_regular_file
from indexer.walk import WalkRules, walk
from tests.helpers import write_files

UTF7_PAGE = (b'<html><head><meta charset="utf-7"><title>Seven +2AA- bits</title></head>'
             b"<body><p>Plain words here +2AA- and a lone half of a pair.</p></body></html>")

PRIVATE_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
               "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
               "-----END OPENSSH PRIVATE KEY-----\n")


def _scan(store: Store, *roots: Path, rules: WalkRules | None = None) -> IndexReport:
    report = IndexReport()
    with Indexer(store, rules) as indexer:
        indexer.scan([bytes(r) for r in roots], report)
    return report


def _statuses(store: Store) -> dict[str, str]:
    return {p: s for p, s, _ in store.failures()}


def test_a_page_whose_codec_yields_lone_surrogates_is_indexed_and_the_rest_commits(store,
                                                                                  tmp_path):
    root = tmp_path / "docs"
    write_files(root, {"seven.html": UTF7_PAGE, "after.txt": "ordinary marmalade words"})
    report = _scan(store, root)
    assert report.failed == 0 and report.added == 2
    assert store.fts_search("marmalade", 5)  # the batch with the page in it committed
    [(text,)] = store.conn.execute("SELECT chunks.text FROM chunks JOIN files f "
                                     "ON f.id = chunks.file_id WHERE f.ext = 'html'")
    assert "Plain words here \ufffd" in text


def test_a_file_the_store_cannot_take_is_that_files_failure_only(store, tmp_path, monkeypatch):
    root = tmp_path / "docs"
    write_files(root, {"a.txt": "alpha words", "b.txt": "bravo words", "c.txt": "charlie"})
    real = store.replace_chunks

    def refuse_bravo(file_id, title, chunks):
        if any("bravo" in c.text for c in chunks):
            raise ValueError("cannot bind this text")
        return real(file_id, title, chunks)

    monkeypatch.setattr(store, "replace_chunks", refuse_bravo)
    report = _scan(store, root)
    assert report.added == 2 and report.failed == 1
    assert report.failures[0][0].endswith("b.txt") and "cannot store" in report.failures[0][1]
    assert store.fts_search("alpha", 5) and store.fts_search("charlie", 5)
    assert not store.fts_search("bravo", 5)


def test_a_fifo_named_as_a_file_or_met_in_a_folder_is_skipped_not_waited_on(store, tmp_path):
    root = tmp_path / "docs"
    write_files(root, {"real.txt": "the real notes"})
    os.mkfifo(root / "notes.txt")
    result: list[IndexReport] = []
    worker = threading.Thread(target=lambda: result.append(
        _scan(store, root / "notes.txt")), daemon=True)
    worker.start()
    worker.join(60)
    assert result, "indexing a FIFO blocked in open()"
    assert _statuses(store)[str(root / "notes.txt")] == "skipped"


def test_a_file_swapped_for_a_link_after_the_walk_is_not_followed(store, tmp_path,
                                                                  monkeypatch):
    secret = tmp_path / "elsewhere" / "diary.txt"
    write_files(secret.parent, {"diary.txt": "my private zanzibar diary"})
    root = tmp_path / "docs"
    write_files(root, {"sub/notes.txt": "harmless notes", "plain.txt": "plain text"})
    found = list(walk(bytes(root), WalkRules()))
    # Between the walk and the read: the file becomes a link, its folder too.
    (root / "sub" / "notes.txt").unlink()
    (root / "sub" / "notes.txt").symlink_to(secret)
    (root / "plain.txt").unlink()
    os.rename(root / "sub", tmp_path / "old-sub")
    (root / "sub").symlink_to(secret.parent)
    (root / "plain.txt").symlink_to(secret)
    monkeypatch.setattr("indexer.pipeline.walk", lambda _root, _rules: iter(found))
    _scan(store, root)
    assert not store.fts_search("zanzibar", 5)
    assert set(_statuses(store).values()) == {"skipped"}


@pytest.mark.parametrize("include_hidden", [False, True])
def test_secrets_stay_out_in_any_letter_case_and_whatever_include_hidden_says(
        store, tmp_path, include_hidden):
    root = tmp_path / "home"
    write_files(root, {
        ".SSH/config.txt": "Host zanzibar",
        "Keys/ID_RSA": "zanzibar key",
        "Keys/deploy_ed25519": "zanzibar key",
        ".git-credentials": "https://me:zanzibar@example.org",
        ".config/gh/hosts.txt": "oauth_token: zanzibar",
        "backup/server.TXT": PRIVATE_KEY + "zanzibar",
        "notes/aws.txt": "[default]\naws_secret_access_key = zanzibarZANZIBARzanzibar\n",
        "notes/ok.txt": "a note about zanzibar spice markets",
    })
    report = _scan(store, root, rules=WalkRules(include_hidden=include_hidden))
    hits = store.fts_search("zanzibar", 10)
    assert len(hits) == 1 and report.added == 1
    statuses = _statuses(store)
    assert statuses[str(root / "backup/server.TXT")] == "skipped"  # by content
    assert statuses[str(root / "notes/aws.txt")] == "skipped"


def test_a_secret_folder_or_file_named_as_a_root_is_refused(store, tmp_path):
    root = tmp_path / "home"
    write_files(root, {".ssh/notes.txt": "zanzibar", "Keys/id_ecdsa": "zanzibar",
                       "node_modules/x.txt": "zanzibar"})
    rules = WalkRules()
    assert "secrets" in rules.refusal(bytes(root / ".ssh"), is_dir=True)
    assert "secrets" in rules.refusal(bytes(root / ".ssh/notes.txt"), is_dir=False)
    assert "secrets" in rules.refusal(bytes(root / "Keys/id_ecdsa"), is_dir=False)
    assert "exclude" in rules.refusal(bytes(root / "node_modules"), is_dir=True)
    assert rules.refusal(bytes(root / "Keys"), is_dir=True) is None
    _scan(store, root / ".ssh", root / "Keys/id_ecdsa", root / "node_modules")
    assert not store.fts_search("zanzibar", 5)
    assert store.roots() == []


def test_a_queued_file_that_stopped_the_indexer_each_time_is_given_up(store, tmp_path,
                                                                      monkeypatch):
    root = tmp_path / "docs"
    write_files(root, {"killer.txt": "dies every time", "fine.txt": "fine words"})
    with store.write():
        store.add_root(bytes(root))
        store.enqueue([bytes(root / "killer.txt"), bytes(root / "fine.txt")])

    class Died(BaseException):  # the process dying: nothing in the indexer catches it
        pass

    real = read_regular_file

    def dies(root_, path, limit):
        if path.endswith(b"killer.txt"):
            raise Died
        return real(root_, path, limit)

    for _ in range(MAX_ATTEMPTS):
        with monkeypatch.context() as m, Indexer(store) as indexer:
            m.setattr("indexer.pipeline.read_regular_file", dies)
            with pytest.raises(Died):
                indexer.sync_paths(store.queued(10), [bytes(root)], IndexReport())
    report = IndexReport()
    with Indexer(store) as indexer:
        indexer.sync_paths(store.queued(10), [bytes(root)], report)
    assert store.queue_length() == 0
    assert report.failed == 1 and "gave up after" in report.failures[0][1]
    assert store.fts_search("fine", 5)


def test_a_full_disk_rolls_back_the_batch_keeps_the_index_intact_and_resumes(store, tmp_path):
    import sqlite3

    root = tmp_path / "docs"
    words = "the granite quarry ledger records each block of stone cut and shipped "
    files = {f"f{i:03d}.txt": f"file {i} token{i} " + words * 40 for i in range(120)}
    write_files(root, files)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 40}")  # room for a few files
    with pytest.raises(sqlite3.OperationalError, match="full"), Indexer(
            store, commit_every=8) as indexer:
        indexer.scan([bytes(root)], IndexReport())
    assert store.integrity_problems() == []
    assert not store.conn.in_transaction
    done = {p for p, in store.conn.execute("SELECT display_path FROM files")}
    assert len(done) < len(files)
    for path in done:  # what committed is whole: every file's passages are there
        name = os.path.basename(path)
        assert store.fts_search(f"token{name[1:4].lstrip('0') or '0'}", 5)
    store.conn.execute("PRAGMA max_page_count = 1073741823")  # space again
    report = _scan(store, root)
    assert report.added == len(files) - len(done)
    assert store.counts().indexed == len(files)
    assert store.integrity_problems() == []
