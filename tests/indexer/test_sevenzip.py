"""7z archives: members as documents with virtual paths, and bombs refused from the header."""

from __future__ import annotations

import io
import os
from pathlib import Path

import py7zr
import pytest

from indexer.errors import ExtractionError
from indexer.formats import sevenzip
from indexer.formats.unpack import member_bytes
from tests.helpers import keyword_hits, scan_folder
from tests.indexer import documents


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


def seven_zip(members: dict[str, bytes], password: str | None = None) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", password=password,
                            header_encryption=password is not None) as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return out.getvalue()


BUNDLE = {"reports/q3/review.docx": documents.docx(["the marmoset orchard flourished"]),
          "notes/plan.txt": b"a plan about the tangerine glacier\n",
          "inner.zip": documents.zip_bytes({"deep/idea.md": "# Idea\n\nthe saffron kestrel"})}


def test_members_of_a_7z_are_found_with_their_virtual_paths(store, root):
    (root / "bundle.7z").write_bytes(seven_zip(BUNDLE))
    report = scan_folder(store, root)
    assert report.failures == []
    base = os.path.join(root, "bundle.7z")
    assert keyword_hits(store, '"marmoset orchard"') == [f"{base}/reports/q3/review.docx"]
    assert keyword_hits(store, "tangerine path:notes/plan") == [f"{base}/notes/plan.txt"]
    assert keyword_hits(store, '"saffron kestrel"') == [f"{base}/inner.zip/deep/idea.md"]
    assert keyword_hits(store, "marmoset ext:7z") == []


def test_a_7z_bomb_is_refused_before_anything_is_unpacked(store, root, monkeypatch):
    bomb = seven_zip({"zeros.txt": b"\0" * (8 * 1024 * 1024)})  # about 1,000 bytes
    unpacked: list[object] = []
    monkeypatch.setattr(sevenzip._Capped, "create",
                        lambda self, name: unpacked.append(name))
    with pytest.raises(ExtractionError, match="compression bomb: bomb.7z inflates"):
        sevenzip.extract_7z(bomb, "bomb.7z")
    assert unpacked == []  # refused from the header alone
    (root / "bomb.7z").write_bytes(bomb)
    [(path, reason)] = scan_folder(store, root).failures
    assert path.endswith("bomb.7z") and reason.startswith("compression bomb")


def test_an_encrypted_7z_is_recorded_as_such(store, root):
    (root / "secret.7z").write_bytes(seven_zip({"a.txt": b"hidden words"}, password="pw"))
    (root / "damaged.7z").write_bytes(seven_zip(BUNDLE)[:200])
    failures = dict(scan_folder(store, root).failures)
    assert failures[str(root / "secret.7z")] == "encrypted (password required)"
    assert failures[str(root / "damaged.7z")].startswith("damaged archive")
    assert keyword_hits(store, "hidden") == []


def test_one_7z_member_is_taken_back_out_by_its_name():
    data = seven_zip(BUNDLE)
    assert member_bytes(data, "bundle.7z", "notes/plan.txt") == BUNDLE["notes/plan.txt"]
    assert member_bytes(data, "bundle.7z", "inner.zip/deep/idea.md").startswith(b"# Idea")
    with pytest.raises(ExtractionError, match="not in"):
        member_bytes(data, "bundle.7z", "notes/missing.txt")
