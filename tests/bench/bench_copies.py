"""Phase 2 on a folder that holds copies: passages the model runs on, and its time.

    python tests/bench/bench_copies.py SOURCE_FOLDER [--files N] [--copies K]

Copies the first N files of SOURCE_FOLDER (by name) into K folders of a scratch
directory (the source is never modified), indexes them with the default model (fp32,
two threads), and prints passages stored, passages embedded, passages that reused a
stored vector, and the phase-1 and phase-2 times.  Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.embedder import OnnxEmbedder, default_model  # noqa: E402
from engine.store import Store  # noqa: E402
from indexer.pipeline import Indexer, IndexReport  # noqa: E402


def measure(source: Path, files: int, copies: int, work: Path) -> dict[str, object]:
    chosen = sorted(p for p in source.iterdir() if p.is_file())[:files]
    docs = work / "docs"
    for k in range(copies):
        folder = docs / f"copy{k}"
        folder.mkdir(parents=True)
        for path in chosen:
            shutil.copy(path, folder / path.name)
    store = Store.open(work / "data" / "index.sqlite3")
    report = IndexReport()
    indexer = Indexer(store)
    started = time.perf_counter()
    indexer.scan([bytes(docs)], report)
    phase1 = time.perf_counter() - started
    embedder = OnnxEmbedder(default_model(), threads=2)
    started = time.perf_counter()
    indexer.embed_pending(embedder, report)
    phase2 = time.perf_counter() - started
    counts = store.counts()
    store.close()
    return {"files": report.seen, "indexed": report.added, "passages": counts.chunks,
            "vectors": counts.embedded, "embedded": report.chunks_embedded,
            "reused": getattr(report, "chunks_reused", 0),
            "phase1_s": round(phase1, 2), "phase2_s": round(phase2, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-bench-copies-") as work:
        print(json.dumps(measure(args.source, args.files, args.copies, Path(work))))


if __name__ == "__main__":
    main()
