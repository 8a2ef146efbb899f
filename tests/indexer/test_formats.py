"""Real document formats, read through the real Indexer and Store."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymupdf
import pytest

from engine.store import Store
from indexer.errors import ExtractionError
from indexer.extract import EXTRACTORS, runs_in_process
from indexer.formats import paged
from indexer.formats.base import PagedText
from indexer.isolation import ExtractionPool
from indexer.pipeline import Indexer, IndexReport
from tests.indexer import documents

WORDS = ("the quiet harbour keeps small boats and tidy ropes ready for a grey morning "
         "while gulls circle over nets").split()


def filler(n: int) -> str:
    """`n` ordinary words, twelve to a line."""
    words = [WORDS[i % len(WORDS)] for i in range(n)]
    return "\n".join(" ".join(words[i:i + 12]) for i in range(0, n, 12))


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    phrase: str
    title: str
    page: int | None = None


SAMPLES = [
    Sample("survey.pdf", documents.pdf(
        ["puffin causeway\n" + filler(250), filler(250),
         filler(300) + "\ncormorant lighthouse"], title="Harbour Survey"),
        "cormorant lighthouse", "Harbour Survey", 3),
    Sample("untitled.pdf", documents.pdf(["Quarterly Tide Tables\nsandpiper estuary"]),
           "sandpiper estuary", "Quarterly Tide Tables"),
    Sample("book.epub", documents.epub(["a ptarmigan snowfield at dusk"], "The Snow Book"),
           "ptarmigan snowfield", "The Snow Book"),
    Sample("tale.fb2", documents.fb2("a capybara orchestra played", "Capybara Tales"),
           "capybara orchestra", "Capybara Tales"),
    Sample("letter.docx", documents.docx(["Dear reader,", "the axolotl greenhouse"],
                                         title="A Letter"), "axolotl greenhouse", "A Letter"),
    Sample("deck.pptx", documents.pptx(["Opening", "the pangolin roadmap", "Closing"],
                                       title="Roadmap Deck"),
           "pangolin roadmap", "Roadmap Deck", 2),
    Sample("budget.xlsx", documents.xlsx([["item", "cost"], ["quetzal feathers", "12"]]),
           "quetzal feathers", "budget"),
    Sample("essay.odt", documents.odt(["Essay", "the tapir<s/>lagoon"], title="Odt Essay"),
           "tapir lagoon", "Odt Essay"),
    Sample("talk.odp", documents.odp(["Welcome", "the okapi boulevard"], title="Odp Talk"),
           "okapi boulevard", "Odp Talk", 2),
    Sample("ledger.ods", documents.ods([["name"], ["wombat ledger"]]), "wombat ledger",
           "ledger"),
    Sample("page.html", b"<html><head><title>Gecko News</title><style>p{}</style></head>"
           b"<body><script>var zanzibar = 1;</script><p>the gecko carnival</p></body></html>",
           "gecko carnival", "Gecko News"),
    Sample("weekly.htm", b"<body><h1>Iguana Weekly</h1><p>marmoset  \n parade</p></body>",
           "marmoset parade", "Iguana Weekly"),
    Sample("latin.html", '<meta charset="iso-8859-1"><p>crème brûlée caféine</p>'
           .encode("latin-1"), "brûlée caféine", "crème brûlée caféine"),
    Sample("sign.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="80">'
           b'<text x="5" y="40">flamingo signpost</text></svg>',
           "flamingo signpost", "flamingo signpost"),
]


@dataclass
class Indexed:
    store: Store
    root: Path
    report: IndexReport


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    base = tmp_path_factory.mktemp("formats")
    root = base / "docs"
    root.mkdir()
    for sample in SAMPLES:
        (root / sample.name).write_bytes(sample.data)
    store = Store.open(base / "data" / "index.sqlite3")
    report = IndexReport()
    Indexer(store).scan([bytes(root)], report)
    yield Indexed(store, root, report)
    store.close()


def _hits(store: Store, phrase: str) -> list:
    ids = [chunk for chunk, _ in store.fts_search(f'"{phrase}"', 5)]
    return list(store.chunk_rows(ids).values())


def test_every_sample_is_indexed(indexed):
    assert indexed.report.failures == []
    assert indexed.report.added == len(SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_phrase_title_and_page_come_through(indexed, sample):
    hits = _hits(indexed.store, sample.phrase)
    assert {h.display_path for h in hits} == {str(indexed.root / sample.name)}
    assert {h.title for h in hits} == {sample.title}
    if sample.page is not None:
        assert {h.page for h in hits} == {sample.page}


def test_a_pdf_passage_on_page_one_reports_page_one(indexed):
    assert {h.page for h in _hits(indexed.store, "puffin causeway")} == {1}


def test_script_text_is_not_indexed(indexed):
    assert indexed.store.fts_search('"zanzibar"', 5) == []


def test_documents_run_in_workers_and_plain_text_does_not():
    assert not any(runs_in_process(ext) for ext in ("pdf", "epub", "docx", "odt", "html"))
    assert runs_in_process("txt") and runs_in_process("md")


def index_files(tmp_path: Path, files: dict[str, bytes],
                pool: ExtractionPool | None = None) -> tuple[Store, IndexReport]:
    """Index `files` written to a fresh folder into a fresh store (the caller closes it)."""
    root = tmp_path / "docs"
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    store = Store.open(tmp_path / "data" / "index.sqlite3")
    report = IndexReport()
    with Indexer(store, pool=pool) as indexer:
        indexer.scan([bytes(root)], report)
    if pool is not None:
        pool.close()
    return store, report


def test_an_encrypted_pdf_is_recorded_with_a_reason(tmp_path):
    locked = documents.pdf(["secret walrus plans"], encryption=pymupdf.PDF_ENCRYPT_AES_256,
                           user_pw="user", owner_pw="owner")
    store, report = index_files(tmp_path, {"locked.pdf": locked})
    try:
        assert [reason for _, reason in report.failures] == ["encrypted (password required)"]
        assert store.fts_search('"walrus"', 5) == []
    finally:
        store.close()


def _damaged_pdfs(base: bytes, count: int) -> dict[str, bytes]:
    """Truncated, byte-flipped and random-garbage variants of `base`."""
    rng = random.Random(20240611)
    files = {}
    for i in range(count):
        kind = i % 3
        if kind == 0:
            data = base[: rng.randrange(1, len(base))]
        elif kind == 1:
            flipped = bytearray(base)
            for _ in range(rng.randrange(1, 40)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            data = bytes(flipped)
        else:
            data = b"%PDF-1.7\n" * (i % 2) + rng.randbytes(rng.randrange(10, 4000))
        files[f"bad{i:03d}.pdf"] = data
    return files


def test_damaged_pdfs_end_indexed_or_failed_and_the_pool_survives(tmp_path):
    base = documents.pdf([f"page {n} " + filler(60) for n in range(1, 4)], title="Base")
    files = _damaged_pdfs(base, 200)
    files["zz_good.pdf"] = documents.pdf(["the heron survived"])
    store, report = index_files(tmp_path, files)
    try:
        assert report.added + report.failed == 201
        assert report.failed > 0
        assert all(reason and not reason.startswith("extractor error")
                   for _, reason in report.failures)
        assert store.fts_search('"heron survived"', 5)
        assert store.integrity_problems() == []
    finally:
        store.close()


def _with_declared_size(data: bytes, member: str, size: int) -> bytes:
    """`data` with the central directory claiming `member` inflates to `size` bytes."""
    entry = data.index(b"PK\x01\x02")  # central directory entries: name at 46, size at 24
    while True:
        name_len = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46:entry + 46 + name_len] == member.encode():
            break
        entry = data.index(b"PK\x01\x02", entry + 4)
    return data[:entry + 24] + struct.pack("<I", size) + data[entry + 28:]


def _zero_bomb(megabytes: int) -> bytes:
    """A DOCX whose document part is `megabytes` MiB of zeros (ratio about 1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("word/document.xml", "w", force_zip64=True) as part:
        chunk = b"\0" * (1 << 20)
        for _ in range(megabytes):
            part.write(chunk)
    return buffer.getvalue()


def test_a_zip_bomb_docx_is_rejected_before_inflating(tmp_path):
    store, report = index_files(tmp_path, {"bomb.docx": _zero_bomb(16)})
    try:
        [(_, reason)] = report.failures
        assert reason.startswith("compression bomb: word/document.xml ratio")
    finally:
        store.close()


def test_a_member_declaring_a_huge_size_is_rejected():
    data = _with_declared_size(documents.docx(["x"]), "word/document.xml", 3_000_000_000)
    with pytest.raises(ExtractionError, match="compression bomb: word/document.xml inflates"):
        EXTRACTORS["docx"](data, "lie.docx")


_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "ha">'
           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           "<w:body><w:p><w:r><w:t>&c;</w:t></w:r></w:p></w:body></w:document>")


def test_entity_expansion_in_office_xml_is_refused():
    data = documents.zip_bytes({"word/document.xml": _LAUGHS})
    with pytest.raises(ExtractionError, match="refused XML"):
        EXTRACTORS["docx"](data, "laughs.docx")


@pytest.mark.parametrize("ext", ["docx", "pptx", "xlsx", "odt", "ods", "odp", "epub", "pdf"])
def test_garbage_gives_a_reason(ext):
    with pytest.raises(ExtractionError) as caught:
        EXTRACTORS[ext](b"this is not a document at all", f"junk.{ext}")
    assert str(caught.value)


def test_page_count_is_capped(monkeypatch):
    monkeypatch.setattr(paged, "MAX_PAGES", 2)
    extracted = paged.extract_paged(documents.pdf(["one", "two", "three"]), "p.pdf")
    assert "three" not in extracted.text and len(extracted.pages) == 1


def test_text_size_is_capped_and_pages_stop_when_full():
    pages = PagedText(max_chars=10)
    for text in ("abcdef", "ghijkl", "mnop"):
        pages.add_page(text)
    assert pages.text() == "abcdef\n\ngh" and pages.page_starts() == (8,)
    assert pages.full


def _paper(metadata_title: str) -> bytes:
    """A first page as papers set it: a small running head, the title large over two
    lines, authors, then body text."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 50), "Proceedings of the Harbour Society, vol. 3", fontsize=8)
    page.insert_text((72, 100), "Tidal Patterns of the", fontsize=20)
    page.insert_text((72, 126), "Northern Estuary", fontsize=20)
    page.insert_text((72, 160), "A. Author and B. Author", fontsize=11)
    for n in range(12):
        page.insert_text((72, 200 + 16 * n), f"Body line {n} about cormorants and tides.",
                         fontsize=11)
    if metadata_title:
        doc.set_metadata({"title": metadata_title})
    data: bytes = doc.tobytes()
    doc.close()
    return data


@pytest.mark.parametrize("metadata_title", [
    "", "Untitled", "Microsoft Word - tides_draft3.doc", "paper.pdf", "untitled document 2"])
def test_a_pdf_without_a_real_metadata_title_is_titled_by_its_largest_first_page_line(
        metadata_title):
    extracted = paged.extract_paged(_paper(metadata_title), "paper.pdf")
    assert extracted.title == "Tidal Patterns of the Northern Estuary"


def test_a_pdfs_meaningful_metadata_title_wins():
    extracted = paged.extract_paged(_paper("Estuary Tides, 2026 Survey"), "paper.pdf")
    assert extracted.title == "Estuary Tides, 2026 Survey"


def test_a_pdf_set_in_one_size_is_titled_by_its_first_line():
    extracted = paged.extract_paged(documents.pdf(["Quarterly Tide Tables\nsandpiper"]),
                                     "tables.pdf")
    assert extracted.title == "Quarterly Tide Tables"
