import os

from indexer.walk import WalkRules, walk
from tests.helpers import write_files


def _names(root):
    return sorted(os.path.relpath(f.path, bytes(root)).decode("utf-8", "surrogateescape")
                  for f in walk(bytes(root), WalkRules()))


def test_secrets_junk_and_hidden_files_are_skipped(tmp_path):
    write_files(tmp_path, {
        "notes/plan.md": "ok", ".ssh/id_rsa": "CANARY", ".gnupg/key": "CANARY",
        ".aws/credentials": "CANARY", "proj/.env": "CANARY", "proj/.env.local": "CANARY",
        "proj/node_modules/x/readme.md": "junk", "proj/.git/HEAD": "junk",
        ".mozilla/firefox/prefs.js": "CANARY", ".hidden.txt": "hidden",
        "proj/main.py": "print()",
    })
    assert _names(tmp_path) == ["notes/plan.md", "proj/main.py"]


def test_hidden_files_are_opt_in(tmp_path):
    write_files(tmp_path, {".notes/a.md": "x", ".b.txt": "y", ".ssh/k": "z"})
    rules = WalkRules(include_hidden=True)
    found = sorted(os.path.basename(f.path) for f in walk(bytes(tmp_path), rules))
    assert found == [b".b.txt", b"a.md"]  # .ssh stays excluded


def test_symlinks_never_lead_out_of_the_root_or_loop(tmp_path):
    outside = tmp_path / "outside"
    root = tmp_path / "root"
    write_files(outside, {"secret.txt": "outside"})
    write_files(root, {"a/real.txt": "inside"})
    os.symlink(outside, root / "a" / "escape")
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(root, root / "a" / "loop")
    assert _names(root) == ["a/real.txt"]


def test_hard_links_are_visited_once(tmp_path):
    write_files(tmp_path, {"a.txt": "same"})
    os.link(tmp_path / "a.txt", tmp_path / "b.txt")
    assert len(_names(tmp_path)) == 1


def test_odd_file_names_come_back_byte_exact(tmp_path):
    names = [b"caf\xe9.txt", b"new\nline.txt", b"-rf.txt", b"$(touch x).txt",
             "cafe\u0301.txt".encode(), "caf\u00e9.txt".encode()]
    for n in names:
        with open(os.path.join(bytes(tmp_path), n), "wb") as fh:
            fh.write(b"x")
    found = {os.path.basename(f.path) for f in walk(bytes(tmp_path), WalkRules())}
    assert found == set(names)
    assert not (tmp_path / "x").exists()
