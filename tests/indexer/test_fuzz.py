"""A seeded fuzz run: malformed files of every supported format through the real indexer,
random queries through the real searcher.  Nothing may raise, hang or go unrecorded."""

from __future__ import annotations

import base64
import random
import string
import tarfile
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from engine.dense import DenseIndex
from engine.errors import EngineError
from engine.ranking import MODES
from engine.search import Searcher
from indexer.extract import EXTRACTORS
from indexer.isolation import ExtractionPool
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import RandomEmbedder
from tests.indexer import documents as docs

FILES = 1_000
QUERIES = 1_000
WORDS = ("kestrel", "basalt", "ledger", "quorum", "saffron", "turbine", "µ-law", "naïve",
         "日本語", "Ελλάδα", "0x80070005", "--", "-", '"', "'", "\\", "*", "(", ")", "NEAR",
         "AND", "OR", "NOT", "^", ":", "ext:", "path:", "after:", "before:", "\x00", "\x1b[2J")


def _seeds() -> dict[str, bytes]:
    """One valid document per container format; plain text formats get text seeds."""
    text = ["The kestrel hovers over basalt cliffs.", "A ledger of saffron and turbines."]
    return {
        "pdf": docs.pdf(text, title="Fuzz"), "docx": docs.docx(text, "Fuzz"),
        "pptx": docs.pptx(text, "Fuzz"), "xlsx": docs.xlsx([text]),
        "odt": docs.odt(text, "Fuzz"), "odp": docs.odp(text, "Fuzz"),
        "ods": docs.ods([text]), "epub": docs.epub(text, "Fuzz"),
        "fb2": docs.fb2(text[0], "Fuzz"),
        "html": b"<html><head><title>t</title></head><body><p>" + text[0].encode()
                + b"</p><div><table><tr><td>x</td></tr></table></div></body></html>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><text>kestrel</text></svg>',
        "xml": b"<?xml version='1.0'?><root><a>kestrel</a><b>basalt</b></root>",
        "json": b'{"kestrel": ["basalt", 1, 2.5, null, {"ledger": true}]}',
        "csv": b"name,value\nkestrel,1\nbasalt,2\n",
        "md": b"# Kestrel\n\nBasalt *cliffs* and `code`.\n",
        **_container_seeds(text),
    }


def _container_seeds(text: list[str]) -> dict[str, bytes]:
    """Archives and mail holding documents of other formats (and one another)."""
    message = (b"From: a@example.com\nTo: b@example.com\nSubject: Kestrel\n"
               b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
               b"--XX\nContent-Type: text/html\n\n<p>" + text[0].encode() + b"</p>\n"
               b"--XX\nContent-Type: application/pdf\nContent-Disposition: attachment; "
               b"filename=a.pdf\nContent-Transfer-Encoding: base64\n\n"
               + base64.encodebytes(docs.pdf(text)) + b"--XX--\n")
    zipped = docs.zip_bytes({"a/b.docx": docs.docx(text), "c.txt": text[1], "m.eml": message})
    tar = BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as archive:
        for name, body in (("x/y.odt", docs.odt(text)), ("z.zip", zipped)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, BytesIO(body))
    return {"zip": zipped, "tgz": tar.getvalue(), "gz": tar.getvalue(), "eml": message,
            "mbox": b"From a@example.com Mon Jan  3 00:00:00 2022\n" + message * 2}


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """A damaged copy: truncated, bytes flipped, junk inserted, duplicated or emptied."""
    kind = rng.randrange(7)
    if kind == 0 or not data:
        return data[:rng.randrange(len(data) + 1)]
    if kind == 1:
        out = bytearray(data)
        for _ in range(rng.randint(1, 40)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 2:
        at = rng.randrange(len(data))
        return data[:at] + rng.randbytes(rng.randint(1, 4096)) + data[at:]
    if kind == 3:
        return data * rng.randint(2, 50)
    if kind == 4:
        return rng.choice([b"", b"\x00" * 1000, rng.randbytes(2048), b"\xff\xfe" + data,
                           b"\xef\xbb\xbf" + data, b"+2AA-" * 200])
    if kind == 5 and data[:2] == b"PK":  # a zip member rewritten with junk
        return _damage_member(rng, data)
    nesting = rng.choice([b"<div>", b"[", b"{\"a\":", b"<a><b>"]) * rng.randint(100, 20_000)
    return data[:len(data) // 2] + nesting + data[len(data) // 2:]


def _damage_member(rng: random.Random, data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(BytesIO(data)) as src:
            members = {i.filename: src.read(i) for i in src.infolist()}
    except (zipfile.BadZipFile, OSError):
        return data[::-1]
    victim = rng.choice(sorted(members))
    members[victim] = rng.choice([b"", rng.randbytes(512), members[victim][:10],
                                  b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>"
                                  b"<!ENTITY b '&a;&a;&a;&a;'>]><x>&b;</x>"])
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, body in members.items():
            dst.writestr(name, body)
    return out.getvalue()


def _malformed_files(rng: random.Random, root: Path) -> list[Path]:
    seeds = _seeds()
    extensions = sorted(e for e in EXTRACTORS if e)
    paths = []
    for n in range(FILES):
        ext = extensions[n % len(extensions)]
        seed = seeds.get(ext) or rng.choice(list(seeds.values()))
        path = root / f"d{n % 17}" / f"f{n:04d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_mutate(rng, seed))
        paths.append(path)
    return paths


def _random_query(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.55:
            parts.append(rng.choice(WORDS))
        elif roll < 0.75:
            parts.append("".join(rng.choice(string.printable) for _ in range(rng.randint(1, 9))))
        elif roll < 0.85:
            parts.append(rng.choice(["ext:", "path:", "after:", "before:", "-", '"'])
                         + "".join(rng.choice(string.printable) for _ in range(4)))
        elif roll < 0.95:
            parts.append("".join(chr(rng.randrange(1, 0x2FFFF)) for _ in range(3)))
        else:
            parts.append("x" * rng.randint(200, 3000))
    return rng.choice([" ", "  ", "\t", " \n "]).join(parts)


@pytest.mark.timeout(900)
def test_a_thousand_malformed_files_and_queries_raise_nothing(store, tmp_path):
    rng = random.Random(20261201)
    root = tmp_path / "fuzz"
    paths = _malformed_files(rng, root)
    report = IndexReport()
    pool = ExtractionPool(timeout_s=20)
    with pool, Indexer(store, pool=pool) as indexer:
        indexer.scan([bytes(root)], report)
        embedder = RandomEmbedder()
        indexer.embed_pending(embedder, report)
    recorded = {p: (s, r) for p, s, r in store.failures(limit=FILES)}
    indexed = {r[0] for r in store.conn.execute(
        "SELECT display_path FROM files WHERE status = 'indexed'")}
    for path in paths:  # each file ends indexed, or failed/skipped with a reason
        assert str(path) in indexed or recorded.get(str(path), ("", ""))[1], path
    assert report.added + report.failed + report.skipped == FILES
    assert report.added > FILES // 4  # the mutations leave plenty that still reads

    dense = DenseIndex(store, embedder.model_id, embedder.dim, tmp_path / "g.hnsw")
    searcher = Searcher(store, lambda: (embedder, dense))
    answered = 0
    for n in range(QUERIES):
        query = _random_query(rng)
        try:
            response = searcher.query(query, limit=10, mode=MODES[n % len(MODES)])
        except EngineError as exc:  # a clear, one-line refusal is a fine answer
            assert str(exc) and "\n" not in str(exc)
            continue
        answered += 1
        for result in response.results:
            assert result.display_path.startswith(str(root))
    assert answered > QUERIES // 2
