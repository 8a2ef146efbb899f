"""What OCR adds to a first index of real folders: time, files and pages read by OCR.

    python tests/bench/bench_ocr_index.py [FOLDER ...] [--scanned 10]

Runs phase 1 (text, passages, full-text index; no embedding, which OCR does not
change per page of text) of a first index of FOLDERs (default /usr/share/doc) twice
into fresh temporary indexes: with OCR off, then on. A folder of SCANNED generated
scanned pages (one-page PDFs that are images of prose, 200 dpi) is indexed with them.
Reports each run's seconds and files indexed, for the OCR run the files and pages whose
text came from OCR, and what OCR added: seconds, ratio, pages per added second.
Cold for the index (new each run), warm for the page cache (the OCR-off run reads every
file first). Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.store import Store  # noqa: E402
from indexer.ocr import DEFAULT_OCR  # noqa: E402
from indexer.pipeline import Indexer, IndexReport  # noqa: E402
from tests.indexer import documents  # noqa: E402


def write_scans(folder: Path, count: int) -> None:
    """`count` one-page scans of the design notes, 40 lines of 9 words each."""
    folder.mkdir(parents=True)
    words = (REPO / "docs" / "design.md").read_text(encoding="utf-8").split()
    for n in range(count):
        start = n * 360 % max(len(words) - 360, 1)
        lines = [" ".join(words[start + i:start + i + 9]) for i in range(0, 360, 9)]
        (folder / f"scan-{n:03d}.pdf").write_bytes(documents.scanned_pdf([lines]))


def run(roots: list[Path], ocr: bool, workdir: Path) -> dict[str, float]:
    store = Store.open(workdir / f"index-{'ocr' if ocr else 'plain'}.sqlite3")
    report = IndexReport()
    started = time.perf_counter()
    with Indexer(store, ocr=DEFAULT_OCR if ocr else None) as indexer:
        indexer.scan([bytes(r) for r in roots], report)
    seconds = time.perf_counter() - started
    files, pages = store.conn.execute(
        "SELECT count(DISTINCT file_id), count(DISTINCT file_id || '/' || coalesce(page, 1)) "
        "FROM chunks WHERE ocr = 1").fetchone()
    store.close()
    out = {"seconds": round(seconds, 1), "indexed": report.added, "failed": report.failed,
           "skipped": report.skipped, "ocr_files": files, "ocr_pages": pages}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path("/usr/share/doc")])
    parser.add_argument("--scanned", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-ocr-bench-") as tmp:
        work = Path(tmp)
        roots = list(args.folders)
        if args.scanned:
            write_scans(work / "scans", args.scanned)
            roots.append(work / "scans")
        results = {}
        for ocr in (False, True):
            results[ocr] = run(roots, ocr, work)
            print(f"bench: OCR {'on' if ocr else 'off'}: {results[ocr]}", file=sys.stderr,
                  flush=True)
    off, on = results[False], results[True]
    print(f"roots: {', '.join(map(str, roots))}")
    print(f"OCR off: {off['seconds']} s, {off['indexed']} files indexed, "
          f"{off['skipped']} skipped, {off['failed']} failed")
    print(f"OCR on:  {on['seconds']} s, {on['indexed']} files indexed, "
          f"{on['skipped']} skipped, {on['failed']} failed; "
          f"{on['ocr_files']} files / {on['ocr_pages']} pages read by OCR")
    extra = on["seconds"] - off["seconds"]
    print(f"OCR adds {extra:.1f} s ({on['seconds'] / max(off['seconds'], 0.1):.2f}x); "
          f"{on['ocr_pages'] / max(extra, 0.1):.2f} OCR pages per added second")


if __name__ == "__main__":
    main()
