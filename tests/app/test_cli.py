"""The `deskfind` command driven as a subprocess on real files, as a user would."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.cli import build_parser
from tests.helpers import write_files

REPO = Path(__file__).resolve().parents[2]


def deskfind(*args: str, data: Path, check: bool = True,
             prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "DESKFIND_DATA_DIR": str(data), "PYTHONPATH": str(REPO),
           "DESKFIND_CONFIG": f"{data}.config.toml"}  # never the user's own settings
    proc = subprocess.run([*prefix, sys.executable, "-m", "app.cli", *args],
                          capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("home")
    data = tmp_path_factory.mktemp("data")
    write_files(root / "docs", {
        "garden/tomatoes.md": "# Growing tomatoes\n\nWater deeply twice a week and pinch out "
                              "side shoots so the plant puts its energy into fruit.",
        "work/incident.txt": "Incident report\n\nThe backup job failed with error 0x80070005 "
                             "(access denied) on the file server at 02:00.",
        "code/cache.py": "def lru(capacity):\n    '''Evict the least recently used entry "
                         "when the cache is full.'''\n",
        ".ssh/id_rsa": "CANARY-PRIVATE-KEY-9f8e7d",
        "broken.txt": b"\x00\xff\x00binary",
    })
    out = deskfind("index", str(root / "docs"), data=data)
    return root, data, out


def test_index_reports_what_it_did(indexed):
    _, _, out = indexed
    assert "3 new" in out.stdout and "1 failed" in out.stdout
    assert "binary content" in out.stdout


def test_search_by_meaning_and_by_exact_code(indexed):
    _, data, _ = indexed
    meaning = json.loads(deskfind("search", "how do I look after my vegetable plants",
                                  "--json", data=data).stdout)
    assert meaning["results"][0]["path"].endswith("tomatoes.md")
    exact = json.loads(deskfind("search", "0x80070005", "--json", "--mode", "lexical",
                                data=data).stdout)
    (hit,) = exact["results"]
    assert hit["path"].endswith("incident.txt") and hit["matched_by"] == "keyword"
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end] == "0x80070005"


def test_plain_output_lists_ranked_documents(indexed):
    _, data, _ = indexed
    out = deskfind("search", "evict entries from a full cache", "-n", "1", data=data).stdout
    assert out.startswith(" 1. cache.py") and "code/cache.py" in out


def test_secrets_are_never_indexed(indexed):
    _, data, _ = indexed
    out = json.loads(deskfind("search", "CANARY-PRIVATE-KEY-9f8e7d", "--json",
                              data=data).stdout)
    assert all(".ssh" not in r["path"] for r in out["results"])


def test_status_counts_and_failures(indexed):
    _, data, _ = indexed
    status = json.loads(deskfind("status", "--json", data=data).stdout)
    assert status["searchable"] == 3 and status["failed"] == 1
    assert status["embedded"] == status["passages"] == 3
    assert status["failures"][0]["reason"].startswith("binary content")


def test_reindex_reflects_edits_and_deletions(tmp_path):
    root, data = tmp_path / "docs", tmp_path / "data"
    write_files(root, {"a.txt": "apricot jam recipe", "b.txt": "blueberry muffins"})
    deskfind("index", str(root), data=data)
    (root / "a.txt").write_text("apricot chutney with ginger")
    (root / "b.txt").unlink()
    out = deskfind("index", str(root), data=data).stdout
    assert "1 changed" in out and "1 removed" in out and "1 passages embedded" in out
    found = json.loads(deskfind("search", "muffins", "--json", "--mode", "lexical",
                                data=data).stdout)
    assert found["results"] == []
    found = json.loads(deskfind("search", "ginger", "--json", data=data).stdout)
    assert found["results"][0]["path"].endswith("a.txt")


def test_non_utf8_names_round_trip_through_json(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    raw = os.path.join(bytes(root), b"caf\xe9 notes.txt")
    with open(raw, "wb") as fh:
        fh.write(b"espresso extraction ratios")
    deskfind("index", str(root), data=tmp_path / "data")
    out = json.loads(deskfind("search", "espresso", "--json", data=tmp_path / "data").stdout)
    import base64
    assert base64.b64decode(out["results"][0]["path_b64"]) == raw


@pytest.mark.parametrize("args, message", [
    (["search", ""], "empty query"),
    (["search", "x", "--mode", "fuzzy"], "unknown mode"),
    (["search", "x", "--limit", "0"], "--limit"),
    (["search", "x", "after:soon"], "date like"),
    (["search", "caf\udce9"], "not valid text"),
    (["index", "/no/such/folder"], "no such file or folder"),
    (["eval", "/no/such/beir"], "not a BEIR folder"),
])
def test_bad_input_gives_one_clear_line_and_nonzero_exit(tmp_path, args, message):
    proc = deskfind(*args, data=tmp_path / "data", check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_naming_a_secret_folder_or_key_file_is_refused_in_one_line(tmp_path):
    home = tmp_path / "home"
    write_files(home, {".SSH/notes.txt": "CANARY-in-ssh", "keys/ID_ED25519": "CANARY-key",
                       "docs/ok.txt": "fine"})
    for target in (home / ".SSH", home / ".SSH" / "notes.txt", home / "keys" / "ID_ED25519"):
        proc = deskfind("index", str(target), data=tmp_path / "data", check=False)
        assert proc.returncode == 2
        assert "holds secrets" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = deskfind("roots", "add", str(home / ".SSH"), data=tmp_path / "data", check=False)
    assert proc.returncode != 0 and "holds secrets" in proc.stderr
    config = Path(f"{tmp_path / 'data'}.config.toml")
    assert not config.exists() or ".SSH" not in config.read_text()


def test_a_link_to_a_secret_folder_is_refused_like_the_folder(tmp_path):
    home = tmp_path / "home"
    write_files(home, {".ssh/notes.txt": "CANARY-in-ssh", "docs/ok.txt": "fine"})
    (home / "docs" / "mynotes").symlink_to(home / ".ssh")
    (tmp_path / "shortcut").symlink_to(home / ".ssh")
    for target in (home / "docs" / "mynotes", tmp_path / "shortcut",
                   tmp_path / "shortcut" / "notes.txt"):
        proc = deskfind("index", str(target), data=tmp_path / "data", check=False)
        assert proc.returncode == 2, target
        assert "is a link" in proc.stderr and "holds secrets" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    deskfind("index", str(home / "docs"), data=tmp_path / "data")  # the link inside: not followed
    proc = deskfind("search", "CANARY", "--mode", "lexical", data=tmp_path / "data")
    assert "CANARY" not in proc.stdout


def test_a_root_that_is_gone_says_so_and_is_forgotten_on_request(tmp_path):
    data = tmp_path / "data"
    write_files(tmp_path / "proj", {"p.txt": "project cassowary notes"})
    deskfind("index", str(tmp_path / "proj"), data=data)
    shutil.rmtree(tmp_path / "proj")
    proc = deskfind("index", str(tmp_path / "proj"), data=data, check=False)
    assert proc.returncode == 2 and "is gone" in proc.stderr and "roots remove" in proc.stderr
    assert "cassowary" in deskfind("search", "cassowary", "--mode", "lexical", data=data).stdout
    deskfind("roots", "remove", str(tmp_path / "proj"), data=data)  # not in the settings
    assert "cassowary" not in deskfind("search", "cassowary", "--mode", "lexical",
                                       data=data).stdout
    proc = deskfind("roots", "remove", str(tmp_path / "proj"), data=data, check=False)
    assert proc.returncode == 2 and "not a root" in proc.stderr


@pytest.mark.parametrize("args, says", [
    (("search", "x", "--limit", "99999999999999999999"), "must be from 1 to 10000"),
    (("search", "x", "--limit", "abc"), "wants a whole number"),
    (("related", "x", "--limit", "-1"), "must be from 1 to 10000"),
    (("search", "x", "--threads", "10000"), "must be from 0 to 256"),
    (("search",), "required: query"),
    (("search", "x", "--bogus"), "unrecognized arguments: --bogus"),
])
def test_wrong_arguments_are_one_line_and_exit_2(tmp_path, args, says):
    proc = deskfind(*args, data=tmp_path / "data", check=False)
    assert proc.returncode == 2
    assert says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_damaged_or_read_only_index_is_one_line_not_a_traceback(tmp_path):
    data = tmp_path / "data"
    write_files(tmp_path / "docs", {"a.txt": "espresso notes"})
    deskfind("index", str(tmp_path / "docs"), data=data)
    database = data / "index.sqlite3"
    good = database.read_bytes()
    with open(database, "r+b") as f:  # a page of the file overwritten: the disk lost it
        f.seek(3 * 4096)
        f.write(b"\xaa" * 4096)
    for args in (("status",), ("repair",), ("index", str(tmp_path / "docs"))):
        proc = deskfind(*args, data=data, check=False)
        assert proc.returncode == 1, args
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert "damaged" in proc.stderr and "move the index directory away" in proc.stderr
    database.write_bytes(good)
    for leftover in data.glob("index.sqlite3-*"):
        leftover.unlink()
    database.chmod(0o444)
    # root writes read-only files, unless its override capabilities are dropped
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv writes a read-only file")
        prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    try:
        status = deskfind("status", data=data, prefix=prefix)
        assert "health:   ok" in status.stdout
        proc = deskfind("index", str(tmp_path / "docs"), data=data, check=False,
                        prefix=prefix)
        assert proc.returncode == 1 and "read-only" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    finally:
        database.chmod(0o600)


def test_damaged_fulltext_tables_are_found_by_status_and_rebuilt_by_repair(tmp_path):
    import sqlite3

    root, data = tmp_path / "docs", tmp_path / "data"
    write_files(root, {f"n{i}.txt": f"note {i} about the quokka colony {i}" for i in range(30)})
    deskfind("index", str(root), data=data)
    assert "health:   ok" in deskfind("status", data=data).stdout
    db = sqlite3.connect(data / "index.sqlite3")
    with db:  # garble the FTS5 index's own pages; the passages' text stays intact
        db.execute("UPDATE chunks_fts_data SET block = zeroblob(length(block)) WHERE id > 10")
    db.close()
    status = deskfind("status", "--json", data=data)
    assert json.loads(status.stdout)["problems"]
    assert "DAMAGED" in deskfind("status", data=data).stdout
    repaired = deskfind("repair", data=data)
    assert "rebuilt from 30 stored passages" in repaired.stdout
    assert "health:   ok" in deskfind("status", data=data).stdout
    found = json.loads(deskfind("search", "quokka", "--mode", "lexical", "--limit", "50",
                                "--json", data=data).stdout)["results"]
    assert len(found) == 30
    assert "nothing to repair" in deskfind("repair", data=data).stdout


def test_every_command_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"index", "search", "status", "eval"}
    for name, p in sub.choices.items():
        assert p.description, name
        for action in p._actions:
            assert action.help, f"{name} {action.dest}"


def test_search_without_an_index_says_how_to_make_one(tmp_path):
    proc = deskfind("search", "anything", data=tmp_path / "nothing-here", check=False)
    assert proc.returncode == 1 and "deskfind index" in proc.stderr
    assert not (tmp_path / "nothing-here").exists()


def _as_other_user(args: list[str], data: Path) -> subprocess.CompletedProcess:
    """Run the CLI as `nobody` when we are root (root ignores file permissions)."""
    env = {**os.environ, "DESKFIND_DATA_DIR": str(data), "PYTHONPATH": str(REPO),
           "DESKFIND_CONFIG": f"{data}.config.toml"}
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run([*prefix, sys.executable, "-m", "app.cli", *args], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=300, cwd="/")


def test_a_read_only_index_can_still_be_searched(tmp_path):
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root without setpriv cannot test permissions")
    base = Path(tempfile.mkdtemp())  # reachable by the other user, unlike tmp_path
    try:
        base.chmod(0o755)
        root, data = base / "docs", base / "data"
        write_files(root, {"a.txt": "the lighthouse keeper's logbook"})
        deskfind("index", str(root), data=data)
        # Readable but not writable by the searching user, like a read-only mount.
        for path in data.iterdir():
            path.chmod(0o644)
        data.chmod(0o755 if os.geteuid() == 0 else 0o555)
        out = _as_other_user(["search", "lighthouse", "--json"], data)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["results"][0]["path"].endswith("a.txt")
        proc = _as_other_user(["index", str(root)], data)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    finally:
        data.chmod(0o700)
        shutil.rmtree(base, ignore_errors=True)


def test_a_pasted_request_with_quote_marks_is_relaxed_and_says_so(indexed):
    _, data, _ = indexed
    query = 'my plants need "regular watering routines" and pinching'
    proc = deskfind("search", query, data=data)
    assert "nothing contains" in proc.stderr and "--strict" in proc.stderr
    assert "tomatoes.md" in proc.stdout
    answer = json.loads(deskfind("search", query, "--json", data=data).stdout)
    assert answer["relaxed"] and answer["results"][0]["path"].endswith("tomatoes.md")
    strict = json.loads(deskfind("search", query, "--json", "--strict", data=data).stdout)
    assert strict["results"] == [] and strict["relaxed"] is None


def test_control_characters_never_reach_the_terminal(tmp_path):
    evil = "title\x1b]0;owned\x07 \x1b[2J"
    write_files(tmp_path / "docs", {"a\x1b[31mred\nfake 2. line.txt":
                                    f"{evil}\n\nquarterly numbers \x1b[1A\r forged",
                                    # shows as invoicedm.pdf: a right-to-left override
                                    "invoice\u202efdp.md": "quarterly numbers again"})
    deskfind("index", str(tmp_path / "docs"), data=tmp_path / "data")
    proc = deskfind("search", "quarterly numbers", "--mode", "lexical", data=tmp_path / "data")
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout
    assert "\\x1b" in proc.stdout and "invoice\\u202efdp.md" in proc.stdout  # escaped
    assert "\u202e" not in proc.stdout
    assert len(proc.stdout.splitlines()) == 6  # two results, three lines each: nothing forged
    exact = json.loads(deskfind("search", "quarterly numbers", "--mode", "lexical", "--json",
                                data=tmp_path / "data").stdout)
    assert {os.path.basename(r["path"]) for r in exact["results"]} == {
        "a\x1b[31mred\nfake 2. line.txt", "invoice\u202efdp.md"}  # exact in JSON


def test_a_page_and_its_source_are_one_result_with_a_copy(tmp_path):
    from tests.helpers import manual_page_html, manual_page_rst

    docs, data = tmp_path / "docs", tmp_path / "data"
    write_files(docs, {"library/glob.html": manual_page_html("glob"),
                       "_sources/library/glob.rst.txt": manual_page_rst("glob"),
                       "library/fnmatch.html": manual_page_html("fnmatch")})
    deskfind("index", str(docs), data=data)
    answer = json.loads(deskfind("search", "recursive directories pattern", "--json",
                                 "--mode", "lexical", data=data).stdout)
    (glob,) = [r for r in answer["results"] if "glob" in r["path"]]
    (copy,) = glob["copies"]
    assert {os.path.basename(glob["path"]), os.path.basename(copy["path"])} == \
        {"glob.html", "glob.rst.txt"}
    assert copy["score"] <= glob["score"] and copy["modified"]
    plain = deskfind("search", "recursive directories pattern", "--mode", "lexical",
                     data=data).stdout
    assert f"+1 copy: {copy['path']}" in plain
    rows = [line for line in plain.splitlines() if line[:4].strip().rstrip(".").isdigit()]
    assert len(rows) == len(answer["results"])  # the copy is no row of its own


def test_changing_precision_re_embeds_under_the_other_model_id(tmp_path):
    import sqlite3

    write_files(tmp_path / "docs", {"a.md": "# Tides\n\nThe moon's pull raises the sea twice "
                                            "a day.", "b.txt": "Sourdough needs a lively "
                                                               "starter and a slow rise."})
    data = tmp_path / "data"
    first = deskfind("index", str(tmp_path / "docs"), data=data)
    assert "2 passages embedded" in first.stdout
    status = json.loads(deskfind("status", "--json", data=data).stdout)
    assert status["embedding"]["setting"] == "auto"
    assert status["embedding"]["precision"] == "fp32"  # pinned for tests (conftest)
    again = deskfind("index", str(tmp_path / "docs"), "--precision", "int8", data=data)
    assert "2 unchanged" in again.stdout and "2 passages embedded" in again.stdout
    with sqlite3.connect(data / "index.sqlite3") as db:
        models = {m for (m,) in db.execute("SELECT DISTINCT model_id FROM vectors")}
    assert len(models) == 1 and "int8" in models.pop()  # never two models' vectors
    found = json.loads(deskfind("search", "ocean tides and the moon", "--mode", "dense",
                                "--precision", "int8", "--json", data=data).stdout)
    assert found["results"][0]["path"].endswith("a.md")
    shown = deskfind("status", "--precision", "int8", data=data).stdout
    assert "int8 (as set)" in shown


def test_generated_text_is_reported_not_embedded(tmp_path):
    from tests.engine.test_generated import minified_js

    data = tmp_path / "data"
    write_files(tmp_path / "docs", {"bundle.min.js": minified_js(20_000),
                                    "note.txt": "A short note about the harbour ferries."})
    out = deskfind("index", str(tmp_path / "docs"), data=data).stdout
    assert "of generated text not embedded" in out
    status = json.loads(deskfind("status", "--json", data=data).stdout)
    generated = status["not_embedded"]["generated"]
    assert generated > 0 and status["embedded"] == status["passages"] - generated
    assert f"not embedded: generated text {generated} passages" in deskfind(
        "status", data=data).stdout


def test_duplicates_lists_copies_and_exports_and_deletes_nothing(tmp_path):
    from tests.engine.test_duplicates import REPORT, report_pdf
    from tests.indexer.documents import docx

    data, docs = tmp_path / "data", tmp_path / "docs"
    original = report_pdf()
    write_files(docs, {"harbour.pdf": original, "old/harbour.pdf": original,
                       "harbour.docx": docx(REPORT), "other.txt": "Nothing like the rest."})
    deskfind("index", str(docs), data=data)
    found = json.loads(deskfind("duplicates", "--json", data=data).stdout)["groups"]
    assert len(found) == 1 and found[0]["kind"] == "same text"
    paths = {f["path"] for f in found[0]["files"]}
    assert paths == {str(docs / "harbour.pdf"), str(docs / "old/harbour.pdf"),
                     str(docs / "harbour.docx")}
    assert all(f["size"] == os.path.getsize(f["path"]) for f in found[0]["files"])
    plain = deskfind("duplicates", data=data).stdout
    assert "1 group of duplicates" in plain and str(docs / "old/harbour.pdf") in plain
    assert all(os.path.exists(p) for p in paths)


def test_related_lists_the_closest_file_with_the_passages_that_link_them(tmp_path):
    from tests.engine.test_related import NOTES

    data, notes = tmp_path / "data", tmp_path / "notes"
    write_files(notes, NOTES)
    deskfind("index", str(notes), data=data)
    out = json.loads(deskfind("related", str(notes / "bees.md"), "--json", data=data).stdout)
    first = out["related"][0]
    assert first["path"] == str(notes / "hive-cold.md")
    assert "queen" in first["pair"]["source"] and "queen" in first["pair"]["target"]
    only_txt = json.loads(deskfind("related", str(notes / "bees.md"), "ext:txt", "--json",
                                   data=data).stdout)["related"]
    assert only_txt and all(r["path"].endswith(".txt") for r in only_txt)
    plain = deskfind("related", str(notes / "bees.md"), "-n", "1", data=data).stdout
    assert plain.startswith(" 1. ") and "hive-cold.md" in plain and "there:" in plain
    refused = deskfind("related", str(notes / "bees.md"), "honey", data=data, check=False)
    assert refused.returncode == 2 and "only filters" in refused.stderr
