"""PDFs built to exhaust time or memory: a giant page, a content stream that inflates to
a gigabyte (RELIABILITY.md rows 7 and 8)."""

from __future__ import annotations

import zlib

import pymupdf

from indexer.isolation import ExtractionPool
from indexer.render import MAX_PIXELS, RenderRequest, render_page
from tests.indexer import documents
from tests.indexer.test_formats import index_files


def _giant_page_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=14_400, height=14_400)  # the largest page PDF allows
    page.insert_text((72, 144), "a poster about the giant squid", fontsize=48)
    data: bytes = doc.tobytes()
    doc.close()
    return data


def _stream_bomb_pdf(inflated: int = 1 << 30) -> bytes:
    """A one-page PDF whose content stream is ~1 MB compressed and `inflated` bytes
    of whitespace once decoded."""
    packer = zlib.compressobj(9)
    block = b" " * (16 << 20)
    body = b"".join(packer.compress(block) for _ in range(inflated // len(block)))
    body += packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def test_a_giant_page_is_indexed_and_previewed_within_the_pixel_budget(tmp_path):
    data = _giant_page_pdf()
    store, report = index_files(tmp_path, {"poster.pdf": data}, ExtractionPool(timeout_s=60))
    try:
        assert report.added == 1 and store.fts_search("squid", 5)
    finally:
        store.close()
    path = tmp_path / "docs" / "poster.pdf"
    page = render_page(RenderRequest(bytes(path), 1, ("squid",), zoom=2.0))
    assert page.width * page.height <= MAX_PIXELS * 1.01
    assert len(page.hits) == 1


def test_a_content_stream_bomb_costs_its_file_only(tmp_path):
    files = {"bomb.pdf": _stream_bomb_pdf(), "zz_after.pdf": documents.pdf(["the heron"])}
    pool = ExtractionPool(timeout_s=30, memory_bytes=1 << 30)
    store, report = index_files(tmp_path, files, pool)
    try:
        assert report.added + report.failed == 2
        assert all(reason for _, reason in report.failures)  # failed: it says why
        assert store.fts_search("heron", 5)  # the next file is read as usual
        assert store.integrity_problems() == []
    finally:
        store.close()
