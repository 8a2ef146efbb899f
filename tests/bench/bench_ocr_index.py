"""What OCR adds to a first index of real folders: time, files and pages read by OCR.

    python tests/bench/bench_ocr_index.py [FOLDER ...] [--scanned 10]

Runs phase 1 (text, passages, full-text index; no embedding, which OCR does not
change per page of text) of a first index of FOLDERs (default /usr/share/doc) twice
into fresh temporary indexes: with OCR off, then on. A folder of SCANNED generated
scanned pages (one-page PDFs that are images of prose, 200 dpi) is indexed with them.
Reports each run's seconds and files indexed, for the OCR run the files and pages whose
text came from OCR, how long phase 1.5 took (pages per second), and what OCR added to
the whole run: seconds, ratio. The added time is only meaningful on a quiet machine;
the phase's own time holds up better under other load.
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
    phase = OcrPhase()
    started = time.perf_counter()
    with Indexer(store, ocr=DEFAULT_OCR if ocr else None) as indexer:
        indexer.scan([bytes(r) for r in roots], report, phase.progress)
    seconds = time.perf_counter() - started
    files, pages = store.conn.execute(
        "SELECT count(DISTINCT file_id), count(DISTINCT file_id || '/' || coalesce(page, 1)) "
        "FROM chunks WHERE ocr = 1").fetchone()
    store.close()
    return {"seconds": round(seconds, 1), "indexed": report.added, "failed": report.failed,
            "skipped": report.skipped, "ocr_files": files, "ocr_pages": pages,
            "ocr_phase_s": round(phase.seconds, 1)}


class OcrPhase:
    """Time spent in phase 1.5, from progress reports: each root's OCR runs from its
    last file read (written just after) to its last file read by OCR."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.last_read = time.perf_counter()

    def progress(self, phase: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if phase == "reading":
            self.last_read = now
        elif phase == "ocr" and done == total:
            self.seconds += now - self.last_read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path("/usr/share/doc")])
    parser.add_argument("--scanned", type=int, default=10)
    parser.add_argument("--modes", default="off,on", help="off, on or both (off,on)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-ocr-bench-") as tmp:
        work = Path(tmp)
        roots = list(args.folders)
        if args.scanned:
            write_scans(work / "scans", args.scanned)
            roots.append(work / "scans")
        results = {}
        for ocr in [mode == "on" for mode in args.modes.split(",")]:
            results[ocr] = run(roots, ocr, work)
            print(f"bench: OCR {'on' if ocr else 'off'}: {results[ocr]}", file=sys.stderr,
                  flush=True)
    print(f"roots: {', '.join(map(str, roots))}")
    if True in results:
        on = results[True]
        print(f"OCR phase: {on['ocr_phase_s']} s of {on['seconds']} s for {on['ocr_pages']} "
              f"pages ({on['ocr_pages'] / max(on['ocr_phase_s'], 0.1):.2f} pages/s)")
    if len(results) < 2:
        return
    off, on = results[False], results[True]
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
