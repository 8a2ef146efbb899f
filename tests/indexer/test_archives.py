"""Archives: members found as documents of their own, nesting and bomb limits."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from engine.search import Searcher
from indexer.errors import ExtractionError
from indexer.formats import archive
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import keyword_hits, scan_folder
from tests.indexer import documents


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


def _tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _bundle() -> dict[str, bytes]:
    return {"reports/q3/review.docx": documents.docx(["the marmoset orchard flourished"]),
            "notes/plan.txt": b"a plan about the tangerine glacier\n",
            "picture.png": b"\x89PNG not a document anyone reads"}


@pytest.mark.parametrize("name, make", [("bundle.zip", documents.zip_bytes),
                                        ("bundle.tar.gz", _tar_gz)])
def test_members_are_found_with_their_virtual_paths(store, root, name, make):
    (root / name).write_bytes(make(_bundle()))
    report = scan_folder(store, root)
    assert report.failures == []
    archive_path = os.path.join(root, name)
    assert keyword_hits(store, '"marmoset orchard"') == [f"{archive_path}/reports/q3/review.docx"]
    assert keyword_hits(store, '"tangerine glacier"') == [f"{archive_path}/notes/plan.txt"]
    # Filters see the members' own names.
    assert keyword_hits(store, "marmoset ext:docx") == [f"{archive_path}/reports/q3/review.docx"]
    assert keyword_hits(store, "marmoset ext:zip") == []
    assert keyword_hits(store, "tangerine path:notes/plan") == [f"{archive_path}/notes/plan.txt"]
    [hit] = Searcher(store, None).search("tangerine", mode="lexical")
    assert store.document_text(hit.path) == "a plan about the tangerine glacier"


def test_nested_archives_are_opened_two_deep_and_no_deeper(store, root):
    third = documents.zip_bytes({"deepest.txt": b"the ocelot lantern at the bottom\n"})
    second = documents.zip_bytes({"middle.txt": b"the heron bellows in the middle\n",
                                  "third.zip": third})
    (root / "outer.zip").write_bytes(documents.zip_bytes({"inner/second.zip": second}))
    scan_folder(store, root)
    outer = os.path.join(root, "outer.zip")
    assert keyword_hits(store, "heron bellows") == [f"{outer}/inner/second.zip/middle.txt"]
    assert keyword_hits(store, "ocelot lantern") == []
    assert (f"{outer}/inner/second.zip/third.zip", "skipped",
            "archives nested more than 2 deep are not opened") in store.failures()


def _zero_bomb(megabytes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped, \
            zipped.open("zeros.txt", "w", force_zip64=True) as part:
        for _ in range(megabytes):
            part.write(b"\0" * (1 << 20))
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated(store, root, monkeypatch):
    inflated: list[str] = []
    real_read = archive.read_zip_member
    monkeypatch.setattr(archive, "read_zip_member",
                        lambda zipped, info: inflated.append(info.filename) or
                        real_read(zipped, info))
    with pytest.raises(ExtractionError, match="compression bomb: zeros.txt ratio"):
        archive.extract_zip(_zero_bomb(16), "bomb.zip")
    assert inflated == []
    # Through the pipeline (in the worker) the archive is recorded with the reason.
    (root / "bomb.zip").write_bytes(_zero_bomb(16))
    report = scan_folder(store, root)
    [(path, reason)] = report.failures
    assert path.endswith("bomb.zip") and reason.startswith("compression bomb: zeros.txt ratio")


def test_a_member_declaring_a_huge_size_is_refused():
    data = bytearray(documents.zip_bytes({"big.txt": b"small really"}))
    entry = data.index(b"PK\x01\x02")  # the central directory's uncompressed size
    data[entry + 24:entry + 28] = (3_000_000_000).to_bytes(4, "little")
    with pytest.raises(ExtractionError, match="compression bomb: big.txt inflates"):
        archive.extract_zip(bytes(data), "liar.zip")


def test_a_tar_bomb_is_cut_off_at_the_ratio_limit():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("zeros.txt")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
    with pytest.raises(ExtractionError, match="compression bomb: bomb.tar.gz inflates past"):
        archive.extract_tar(out.getvalue(), "bomb.tar.gz")


def test_member_names_cannot_climb_out_of_their_archive():
    assert archive.clean_member_name("../../etc/passwd") == "etc/passwd"
    assert archive.clean_member_name("/abs/./x.txt") == "abs/x.txt"
    assert archive.clean_member_name("..") == ""


def test_a_single_compressed_file_is_its_one_member(store, root):
    import gzip
    (root / "notes.txt.gz").write_bytes(gzip.compress(b"the walrus semaphore\n"))
    scan_folder(store, root)
    assert keyword_hits(store, "walrus semaphore") == [f"{root}/notes.txt.gz/notes.txt"]


def test_changing_or_deleting_the_archive_changes_its_members(store, root):
    bundle = root / "bundle.zip"
    bundle.write_bytes(documents.zip_bytes({"a.txt": b"the first capybara\n",
                                            "b.txt": b"the second capybara\n"}))
    scan_folder(store, root)
    assert len(keyword_hits(store, "capybara")) == 2
    report = scan_folder(store, root)  # unchanged: the walk must not take members for lost files
    assert report.deleted == 0 and len(keyword_hits(store, "capybara")) == 2
    bundle.write_bytes(documents.zip_bytes({"a.txt": b"only one capybara now\n"}))
    os.utime(bundle, ns=(1, 1))
    scan_folder(store, root)
    assert keyword_hits(store, "capybara") == [f"{bundle}/a.txt"]
    bundle.unlink()
    scan_folder(store, root)
    assert keyword_hits(store, "capybara") == []
    assert store.counts().files == 0


def test_a_deleted_archive_reported_by_the_watcher_drops_its_members(store, root):
    bundle = root / "bundle.zip"
    bundle.write_bytes(documents.zip_bytes({"a.txt": b"the lonely okapi\n"}))
    scan_folder(store, root)
    bundle.unlink()
    report = IndexReport()
    with Indexer(store) as indexer:
        indexer.sync_paths([bytes(bundle)], [bytes(root)], report)
    assert keyword_hits(store, "okapi") == [] and store.counts().files == 0



def test_secrets_inside_an_archive_are_never_indexed(store, root):
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nzebracanary\n-----END OPENSSH PRIVATE KEY-----\n"
    (root / "backup.zip").write_bytes(documents.zip_bytes({
        "home/.ssh/config.txt": b"Host zebracanary\n",
        "certs/server.pem": b"zebracanary certificate\n",
        "notes/key.txt": key,
        "notes/readme.txt": b"an ordinary zebracanary note\n"}))
    scan_folder(store, root)
    assert keyword_hits(store, "zebracanary") == [f"{root}/backup.zip/notes/readme.txt"]


def test_one_member_is_taken_back_out_by_its_name():
    import gzip

    from indexer.formats.unpack import member_bytes

    data = _tar_gz(_bundle())
    assert member_bytes(data, "bundle.tar.gz", "notes/plan.txt") == _bundle()["notes/plan.txt"]
    assert member_bytes(gzip.compress(b"abc"), "n.txt.gz", "n.txt") == b"abc"
    three = documents.zip_bytes({"c.zip": documents.zip_bytes({"x.txt": b"x"})})
    outer = documents.zip_bytes({"b.zip": three})
    with pytest.raises(ExtractionError, match="nested more than 2 deep"):
        member_bytes(outer, "a.zip", "b.zip/c.zip/x.txt")
    with pytest.raises(ExtractionError, match="is not in"):
        member_bytes(data, "bundle.tar.gz", "notes/missing.txt")


def test_a_damaged_member_costs_that_member_only(store, root):
    (root / "mixed.zip").write_bytes(documents.zip_bytes({
        "broken.docx": b"PK\x03\x04 not really a document",
        "fine.txt": b"the unbothered tortoise\n"}))
    report = scan_folder(store, root)
    assert keyword_hits(store, "tortoise") == [f"{root}/mixed.zip/fine.txt"]
    [(path, reason)] = report.failures
    assert path == f"{root}/mixed.zip/broken.docx" and reason
