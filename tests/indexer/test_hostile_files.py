"""Files that attack the indexer: codecs that yield unstorable text, FIFOs, paths swapped
for links between the walk and the read, and secrets in every disguise (audit #10)."""

import os
import threading
from pathlib import Path

import pytest

from engine.store import Store
from indexer.pipeline import MAX_ATTEMPTS, Indexer, IndexReport, read_regular_file
from indexer.walk import WalkRules, admits, walk
from tests.helpers import write_files
from tests.indexer.test_sevenzip import seven_zip

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


def _found(store: Store, word: str, root: Path) -> set[str]:
    """The files (relative to `root`) whose passages hold `word`."""
    rows = store.conn.execute(
        "SELECT DISTINCT f.path FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
        "JOIN files f ON f.id = c.file_id WHERE chunks_fts MATCH ?", (word,))
    return {os.path.relpath(os.fsdecode(path), root) for (path,) in rows}


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


# A token in the format GitHub documents: 36 characters, letters and digits mixed.
GITHUB_TOKEN = "ghp_" + "Zq8" * 12


@pytest.mark.parametrize("include_hidden", [False, True])
def test_secret_settings_histories_and_tokens_stay_out_by_name_or_content(
        store, tmp_path, include_hidden):
    root = tmp_path / "home"
    write_files(root, {
        "deploy/prod.env": "DB=zanzibar",
        "deploy/.envrc": "export ZANZIBAR=1",
        "deploy/terraform.tfvars": 'region = "zanzibar"',
        "deploy/client_secret_4411.json": '{"zanzibar": 1}',
        ".bash_history": "mysql -p zanzibar",
        ".my.cnf": "[client]\npassword=zanzibar",
        "notes/todo.md": f"zanzibar: rotate {GITHUB_TOKEN} before friday",
        "notes/app.ini": "[db]\nhost = zanzibar\npassword = Tr0ub4dor3x\n",
        "notes/settings.json": '{\n  "name": "zanzibar",\n  "apiKey": "q9f8e7d6c5b4a3",\n}',
        "notes/cookies.txt": "# Netscape HTTP Cookie File\n"
                             ".zanzibar.org\tTRUE\t/\tFALSE\t0\tsid\tx",
        # Shapes that are code or documentation, not secrets: these are indexed.
        "src/login.py": "# zanzibar login\npassword = getpass.getpass()\n"
                        "self.password = password\nTOKEN_URL = https://example.org/oauth2/token\n",
        "docs/tokens.md": "zanzibar tokens look like ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
                          "Set PASSWORD=${DB_PASSWORD} in the zanzibar service.\n",
        "ml/config.yaml": "dataset: zanzibar\ntokenizer_file: bert-base-v2.json\n"
                          "max_tokens: 4096\n",
    })
    _scan(store, root, rules=WalkRules(include_hidden=include_hidden))
    found = _found(store, "zanzibar", root)
    assert found == {"src/login.py", "docs/tokens.md", "ml/config.yaml"}
    statuses = _statuses(store)
    for by_content in ("notes/todo.md", "notes/app.ini", "notes/settings.json",
                       "notes/cookies.txt"):
        assert statuses[str(root / by_content)] == "skipped", by_content


def _pdf(text: str) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    for row, line in enumerate(text.splitlines()):
        page.insert_text((72, 72 + 12 * row), line, fontsize=9)
    data = doc.tobytes(deflate=True)
    doc.close()
    return data


def test_a_key_in_the_text_of_a_pdf_or_of_an_archived_pdf_is_found_after_extraction(
        store, tmp_path):
    import io
    import zipfile

    key_pdf = _pdf("zanzibar server key\n" + PRIVATE_KEY)
    assert b"PRIVATE KEY" not in key_pdf  # compressed: the raw bytes do not show it
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("keys/server.pdf", key_pdf)
        archive.writestr("keys/readme.txt", "the zanzibar keys are here")
    root = tmp_path / "docs"
    write_files(root, {"server.pdf": key_pdf, "backup.zip": buffer.getvalue(),
                       "plain.pdf": _pdf("zanzibar travel plans")})
    _scan(store, root)
    found = _found(store, "zanzibar", root)
    assert found == {"plain.pdf", "backup.zip/keys/readme.txt"}
    statuses = _statuses(store)
    assert statuses[str(root / "server.pdf")] == "skipped"
    assert statuses[str(root / "backup.zip/keys/server.pdf")] == "skipped"


PROFILES = {
    # Chromium or an Electron app, copied somewhere under a name of the user's choosing
    "backup/laptop/chrome-profile/Default/Login Data": b"SQLite format 3\0",
    "backup/laptop/chrome-profile/Default/Bookmarks.json": '{"name": "zanzibar"}',
    "backup/laptop/chrome-profile/Local State": '{"zanzibar": true}',
    "apps/chat/Local State": "{}",
    "apps/chat/config.json": '{"key": "zanzibar"}',
    # a Gecko profile (Firefox, Thunderbird) under an unknown name
    "old/abcd1234.default-release/key4.db": b"SQLite format 3\0",
    "old/abcd1234.default-release/prefs.js": 'user_pref("zanzibar", 1);',
    "old/abcd1234.default-release/notes/saved.txt": "zanzibar in a profile's subfolder",
    # a browser known by its folder's name
    ".config/vivaldi/Default/Bookmarks.txt": "zanzibar",
    "notes/ok.txt": "a note about zanzibar spice markets",
}


@pytest.mark.parametrize("include_hidden", [False, True])
def test_browser_and_app_profiles_are_skipped_whatever_their_folder_is_called(
        store, tmp_path, include_hidden):
    import io
    import zipfile

    root = tmp_path / "home"
    write_files(root, PROFILES)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in PROFILES.items():
            archive.writestr(name, content)
    as_bytes = {n: c.encode() if isinstance(c, str) else c for n, c in PROFILES.items()}
    write_files(root, {"backup.zip": buffer.getvalue(), "backup.7z": seven_zip(as_bytes)})
    _scan(store, root, rules=WalkRules(include_hidden=include_hidden))
    found = _found(store, "zanzibar", root)
    assert found == {"notes/ok.txt", "backup.zip/notes/ok.txt", "backup.7z/notes/ok.txt"}


def test_a_folder_that_becomes_a_profile_leaves_the_index_and_its_events_are_ignored(
        store, tmp_path):
    root = tmp_path / "home"
    write_files(root, {"sync/Default/Bookmarks.txt": "zanzibar bookmarks",
                       "notes/ok.txt": "zanzibar notes"})
    _scan(store, root)
    assert len(store.fts_search("zanzibar", 10)) == 2
    write_files(root, {"sync/Default/Login Data": b"SQLite format 3\0"})
    _scan(store, root)
    assert _found(store, "zanzibar", root) == {"notes/ok.txt"}
    rules = WalkRules()
    assert not admits(rules, bytes(root), bytes(root / "sync/Default/History.txt"))
    assert not admits(rules, bytes(root), bytes(root / "sync/Default/sub"), is_dir=True)
    assert admits(rules, bytes(root), bytes(root / "notes/new.txt"))
    assert "profile" in rules.refusal(bytes(root / "sync/Default"), is_dir=True)
    assert "profile" in rules.refusal(bytes(root / "sync/Default/Bookmarks.txt"),
                                      is_dir=False)
    assert rules.refusal(bytes(root / "sync"), is_dir=True) is None


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
