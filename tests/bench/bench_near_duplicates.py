"""Which near-duplicate test finds re-saved and re-exported copies: MinHash shingles or
vector agreement?

    python tests/bench/bench_near_duplicates.py [--pages N] [--pdfs N] [--json OUT]

Builds a scratch folder of real documents in several forms (the sources are never
modified) and indexes it through the real pipeline with the default model (fp32, two
threads):

- N pages of Debian's python3-doc (`html/library/x.html` and its source
  `html/_sources/library/x.rst.txt`: one page in two formats), chosen evenly by name
  among those whose source is 4-60 KB;
- the first 6 pages of N small PDFs under /usr/share/doc, each as the original, re-saved
  by PyMuPDF (garbage collection, recompressed streams), re-typeset (its text set anew
  in another font size and line width, so lines break elsewhere) and exported to DOCX
  (one paragraph per text block).

True pairs: the two formats of a page; every two of a PDF's four forms.
False pairs: every pair of files made from different sources.  For each method and
setting it prints how many true pairs it finds (recall) and how many false pairs it
takes for copies.

- `minhash`: engine.fingerprint.near_duplicates, the rule `deskfind duplicates` and the
  grouping of search results use (resemblance >= 0.5, or containment >= 0.85 with a
  size ratio >= 0.1).
- `vectors t/s`: of the file with fewer passages, the share of passages whose best
  match among the other file's passage vectors has cosine >= t; a pair when the share
  is >= s.

Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.dense import DenseIndex  # noqa: E402
from engine.embedder import OnnxEmbedder, default_model  # noqa: E402
from engine.fingerprint import containment, near_duplicates, resemblance  # noqa: E402
from engine.ids import FileId  # noqa: E402
from engine.store import Store  # noqa: E402
from indexer.pipeline import Indexer, IndexReport  # noqa: E402
from tests.indexer.documents import docx  # noqa: E402

MANUAL = Path("/usr/share/doc/python3-doc/html")
DOCS = Path("/usr/share/doc")
PDF_PAGES = 6
COSINES = (0.7, 0.8, 0.85, 0.9, 0.95)
SHARES = (0.5, 0.7, 0.9)


@dataclass(frozen=True)
class Doc:
    path: Path
    source: str  # what it was made from: files of one source are true pairs
    form: str  # html, rst, pdf, resaved, retypeset, docx


def manual_pages(folder: Path, count: int) -> list[Doc]:
    sources = folder / "_sources" / "library"
    fits = sorted(p for p in sources.glob("*.rst.txt")
                  if 4_000 <= p.stat().st_size <= 60_000
                  and (MANUAL / "library" / p.name.replace(".rst.txt", ".html")).is_file())
    chosen = [fits[int(i)] for i in np.linspace(0, len(fits) - 1, min(count, len(fits)))]
    docs = []
    for rst in chosen:
        name = rst.name.replace(".rst.txt", "")
        docs.append(Doc(MANUAL / "library" / f"{name}.html", name, "html"))
        docs.append(Doc(rst, name, "rst"))
    return docs


def small_pdfs(count: int) -> list[Path]:
    found = sorted((p for p in DOCS.rglob("*.pdf") if 50_000 <= p.stat().st_size <= 400_000),
                   key=lambda p: p.name)
    return found[:count]


def pdf_forms(original: Path, work: Path) -> list[Doc]:
    """The first pages of `original` as a PDF, re-saved, re-typeset and as DOCX."""
    import pymupdf

    name = original.stem
    folder = work / "pdf" / name
    folder.mkdir(parents=True)
    src = pymupdf.open(original)
    first = pymupdf.open()
    first.insert_pdf(src, from_page=0, to_page=min(PDF_PAGES, len(src)) - 1)
    first.save(folder / f"{name}.pdf")
    first.save(folder / f"{name}-resaved.pdf", garbage=4, deflate=True, clean=True)
    blocks = [[b[4] for b in page.get_text("blocks") if b[4].strip()] for page in first]
    first.close()
    src.close()
    retyped = pymupdf.open()
    for page_blocks in blocks:
        page = retyped.new_page(width=500, height=900)
        page.insert_textbox(pymupdf.Rect(40, 40, 460, 860), "\n".join(page_blocks),
                            fontsize=8, fontname="times-roman")
    retyped.save(folder / f"{name}-retypeset.pdf")
    retyped.close()
    paragraphs = [" ".join(b.split()) for page_blocks in blocks for b in page_blocks]
    (folder / f"{name}.docx").write_bytes(docx(paragraphs))
    return [Doc(folder / f"{name}.pdf", name, "pdf"),
            Doc(folder / f"{name}-resaved.pdf", name, "resaved"),
            Doc(folder / f"{name}-retypeset.pdf", name, "retypeset"),
            Doc(folder / f"{name}.docx", name, "docx")]


def agreement(a: np.ndarray, b: np.ndarray, cosine: float) -> float:
    """Of the file with fewer passages, the share whose best match in the other has at
    least `cosine`."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    best = (small @ large.T).max(axis=1)
    return float((best >= cosine).mean())


def measure(pages: int, pdfs: int, work: Path) -> dict[str, object]:
    docs = manual_pages(MANUAL, pages)
    for pdf in small_pdfs(pdfs):
        docs += pdf_forms(pdf, work)
    store = Store.open(work / "data" / "index.sqlite3")
    report = IndexReport()
    indexer = Indexer(store)
    started = time.perf_counter()
    indexer.scan([bytes(d.path) for d in docs], report)
    embedder = OnnxEmbedder(default_model(), threads=2)
    indexer.embed_pending(embedder, report)
    index_s = time.perf_counter() - started
    dense = DenseIndex(store, embedder.model_id, embedder.dim, work / "vectors.hnsw")
    ids: dict[Doc, FileId] = {}
    rows: dict[Doc, np.ndarray] = {}
    for d in docs:
        state = store.file_state(os.fsencode(d.path))
        if state is None or state.status != "indexed":
            continue
        ids[d] = state.id
        rows[d] = dense.unit_vectors(store.chunk_ids_where("f.id = ?", [int(state.id)]))[1]
    prints = store.fingerprints(list(ids.values()))
    kept = [d for d in docs if d in ids and len(rows[d])]
    methods = ["minhash"] + [f"vectors {t}/{s}" for t in COSINES for s in SHARES]
    found = {m: {"true": 0, "false": 0} for m in methods}
    by_form: dict[str, dict[str, int]] = {}  # true pairs found, by the two forms
    true_pairs = false_pairs = 0
    same_scores: list[dict[str, object]] = []
    started = time.perf_counter()
    for a, b in itertools.combinations(kept, 2):
        same = a.source == b.source
        true_pairs += same
        false_pairs += not same
        pa, pb = prints.get(ids[a]), prints.get(ids[b])
        shares = {t: agreement(rows[a], rows[b], t) for t in COSINES}
        hits = {"minhash": pa is not None and pb is not None and near_duplicates(pa, pb)}
        hits.update({f"vectors {t}/{s}": shares[t] >= s for t in COSINES for s in SHARES})
        for m, hit in hits.items():
            found[m]["true" if same else "false"] += hit
        if same:
            form = by_form.setdefault(f"{a.form}/{b.form}", {"pairs": 0} | {m: 0 for m in
                                                                          methods})
            form["pairs"] += 1
            for m, hit in hits.items():
                form[m] += hit
            same_scores.append({
                "pair": f"{a.path.name} ~ {b.path.name}",
                "resemblance": round(resemblance(pa, pb), 3) if pa and pb else None,
                "containment": round(containment(pa, pb), 3) if pa and pb else None,
                **{f"agreement_{t}": round(shares[t], 3) for t in COSINES}})
    compare_s = time.perf_counter() - started
    counts = store.counts()
    store.close()
    return {"files": len(kept), "passages": counts.chunks, "true_pairs": true_pairs,
            "false_pairs": false_pairs, "index_s": round(index_s, 1),
            "compare_s": round(compare_s, 2), "found": found, "by_form": by_form,
            "same_pairs": same_scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--pdfs", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-bench-neardup-") as work:
        out = measure(args.pages, args.pdfs, Path(work))
    print(" ".join(f"{k}={out[k]}" for k in ("files", "passages", "true_pairs",
                                              "false_pairs", "index_s", "compare_s")))
    by_form: dict[str, dict[str, int]] = out["by_form"]  # type: ignore[assignment]
    forms = sorted(by_form)
    print(f"{'method':<18} {'recall':>7} {'false':>6}  "
          + "  ".join(f"{f} ({by_form[f]['pairs']})" for f in forms))
    found: dict[str, dict[str, int]] = out["found"]  # type: ignore[assignment]
    for method, n in found.items():
        recall = n["true"] / max(int(out["true_pairs"]), 1)  # type: ignore[call-overload]
        print(f"{method:<18} {recall:>7.3f} {n['false']:>6}  "
              + "  ".join(f"{by_form[f][method]:>{len(f) + len(str(by_form[f]['pairs'])) + 3}}"
                          for f in forms))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
