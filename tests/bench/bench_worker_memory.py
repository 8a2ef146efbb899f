"""Does the extraction worker's memory stay bounded over many real PDFs? (RELIABILITY row 6)

    python tests/bench/bench_worker_memory.py FOLDER [--passes 4] [--files-per-worker 200]

Extracts every PDF under FOLDER, PASSES times over in a fixed shuffled order, through
the indexer's real `ExtractionPool` (spawned worker, default memory cap and timeout),
and after every file reads the worker's resident memory (VmRSS) from /proc.  Reports,
per worker lifetime, the RSS after its first file, its peak and its last, and the same
for one run with recycling switched off (one worker for everything), so growth that
recycling hides shows too.  Conditions: page cache warm after the first pass; nothing
else is timed.  Numbers, not asserts.

A folder of real PDFs on Debian: `apt-get download c++-annotations-pdf erlang-doc
auto-multiple-choice-doc-pdf gri-pdf-doc docbook-xsl-doc-pdf freefem-doc camlidl-doc`,
then `dpkg-deb -x` each into one folder (53 PDFs, 7,897 pages, 36 MB; gunzip the .pdf.gz).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from indexer.errors import ExtractionError  # noqa: E402
from indexer.isolation import DEFAULT_FILES_PER_WORKER, ExtractionPool  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(files: list[Path], passes: int, files_per_worker: int) -> dict[str, object]:
    order = [f for _ in range(passes) for f in files]
    random.Random(7).shuffle(order)
    lifetimes: list[list[float]] = []
    failed = 0
    with ExtractionPool(files_per_worker=files_per_worker) as pool:
        pid = None
        for path in order:
            try:
                pool.extract(path.read_bytes(), "pdf", path.name)
            except ExtractionError:
                failed += 1
            worker = pool._worker
            if worker is None:  # recycled right after this file: it was the last one
                continue
            if worker.process.pid != pid:
                pid = worker.process.pid
                lifetimes.append([])
            lifetimes[-1].append(rss_mb(pid))
        started = pool.workers_started
    return {
        "files": len(order), "failed": failed, "workers": started,
        "lifetimes": [{"first_mb": round(r[0], 1), "peak_mb": round(max(r), 1),
                       "last_mb": round(r[-1], 1), "files": len(r)} for r in lifetimes if r],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--files-per-worker", type=int, default=DEFAULT_FILES_PER_WORKER)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(args.folder.rglob("*.pdf"))
    if not files:
        sys.exit(f"no PDFs under {args.folder}")
    report = {"pdfs": len(files),
              "recycled": run(files, args.passes, args.files_per_worker),
              "one_worker": run(files, args.passes, 10**9)}
    if args.json:
        print(json.dumps(report))
        return
    for name in ("recycled", "one_worker"):
        r = report[name]
        print(f"{name}: {r['files']} extractions, {r['failed']} failed, {r['workers']} workers")
        for life in r["lifetimes"]:
            print(f"  worker: {life['files']} files, RSS first {life['first_mb']} MB, "
                  f"peak {life['peak_mb']} MB, last {life['last_mb']} MB")


if __name__ == "__main__":
    main()
