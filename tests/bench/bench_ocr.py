"""OCR engines side by side on pages rendered from known text: accuracy and speed.

    python tests/bench/bench_ocr.py [--pages 6] [--engines tesseract,rapidocr] [--json]

Renders PAGES A4 pages of prose (paragraphs of docs/design.md, about 1,500 characters a
page, 11 pt Helvetica) to images in two conditions: `clean` (200 dpi, as a screenshot
or a born-digital page rasterised) and `scan` (150 dpi, grey, rotated 1°, 1 % of its
pixels speckled: a page through an office scanner). Each engine reads every image; reported per
engine and condition: character error rate (Levenshtein distance over the reference
length, whitespace runs collapsed, case kept), word error rate, and seconds per page
(the first page, which loads the models, reported apart as `first_s`).

Engines: `tesseract` is MuPDF's built-in Tesseract (PyMuPDF's get_textpage_ocr), which
needs only the language data (Debian `tesseract-ocr-eng`); `rapidocr` is the
rapidocr-onnxruntime package, run only where it is importable (it is not a Deskfind
dependency: install it in a separate venv with pymupdf to compare). Both run in this one
process, one after the other, on the same images, so their ratio is what to read. Numbers,
not asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pymupdf

REPO = Path(__file__).resolve().parents[2]
PAGE_CHARS = 1500


def reference_pages(count: int) -> list[str]:
    """`count` pages of plain prose from the design notes (markup stripped)."""
    text = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"[`*#|_\[\]()]", "", text)
    words = text.split()
    pages, start = [], 0
    for _ in range(count):
        page: list[str] = []
        while sum(len(w) + 1 for w in page) < PAGE_CHARS:
            page.append(words[start % len(words)])
            start += 1
        pages.append(" ".join(page))
    return pages


def render(text: str, condition: str, rng: random.Random) -> bytes:
    """A PNG of `text` set on an A4 page, as a screenshot (`clean`) or a scan (`scan`)."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(60, 60, 535, 800), text, fontsize=11, fontname="helv")
    if condition == "clean":
        return bytes(page.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY).tobytes("png"))
    pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    # Rotate by 1 degree: draw the page image rotated onto a new page, then re-rasterise.
    tilted = pymupdf.open()
    out = tilted.new_page(width=595, height=842)
    out.show_pdf_page(out.rect, doc, 0, rotate=1)
    pix = out.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    samples = bytearray(pix.samples)
    for i in rng.sample(range(len(samples)), len(samples) // 100):  # 1 % speckle
        samples[i] = rng.choice((0, 96, 160, 255))
    noisy = pymupdf.Pixmap(pymupdf.csGRAY, pix.width, pix.height, bytes(samples), False)
    return bytes(noisy.tobytes("png"))


def ocr_tesseract() -> Callable[[bytes], str]:
    def run(png: bytes) -> str:
        doc = pymupdf.open("png", png)
        page = doc[0]  # read at the image's own resolution, as Deskfind does
        textpage = page.get_textpage_ocr(full=True, dpi=pymupdf.Pixmap(png).xres or 200,
                                         language="eng")
        return str(page.get_text(textpage=textpage))
    return run


def ocr_rapidocr() -> Callable[[bytes], str]:
    from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-not-found]

    engine = RapidOCR()

    def run(png: bytes) -> str:
        result, _ = engine(png)
        return "\n".join(line[1] for line in result or ())
    return run


ENGINES = {"tesseract": ocr_tesseract, "rapidocr": ocr_rapidocr}


def distance(a: list[str] | str, b: list[str] | str) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def normalise(text: str) -> str:
    text = re.sub(r"-\n(?=\w)", "", text)  # a word hyphenated at the line end
    return " ".join(text.split())


def measure(run: Callable[[bytes], str], images: list[bytes],
            refs: list[str]) -> dict[str, float]:
    seconds, chars, words, ref_chars, ref_words = [], 0, 0, 0, 0
    for png, ref in zip(images, refs, strict=True):
        started = time.perf_counter()
        found = normalise(run(png))
        seconds.append(time.perf_counter() - started)
        ref = normalise(ref)
        chars += distance(found, ref)
        words += distance(found.split(), ref.split())
        ref_chars += len(ref)
        ref_words += len(ref.split())
    rest = seconds[1:] or seconds
    return {"cer": round(chars / ref_chars, 4), "wer": round(words / ref_words, 4),
            "s_per_page": round(sum(rest) / len(rest), 3), "first_s": round(seconds[0], 3),
            "pages_per_s": round(len(rest) / sum(rest), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    refs = reference_pages(args.pages)
    rng = random.Random(12)
    images = {c: [render(t, c, rng) for t in refs] for c in ("clean", "scan")}
    results: dict[str, dict[str, object]] = {}
    for name in args.engines.split(","):
        try:
            run = ENGINES[name]()
        except ImportError as exc:
            results[name] = {"unavailable": str(exc)}
            continue
        results[name] = {c: measure(run, images[c], refs) for c in images}
        print(f"bench: {name} done", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.pages} pages x {len(images)} conditions")
    print(f"{'engine':10} {'cond':6} {'CER':>7} {'WER':>7} {'s/page':>7} {'first s':>8}")
    for name, by_condition in results.items():
        if "unavailable" in by_condition:
            print(f"{name:10} unavailable: {by_condition['unavailable']}")
            continue
        for cond, m in by_condition.items():
            assert isinstance(m, dict)
            print(f"{name:10} {cond:6} {m['cer']:7.2%} {m['wer']:7.2%} "
                  f"{m['s_per_page']:7.2f} {m['first_s']:8.2f}")


if __name__ == "__main__":
    main()
