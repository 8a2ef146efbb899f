"""The first scan of a large tree by the service: memory, and resuming after a kill.

    python tests/bench/bench_first_scan.py [--files 100000] [--kill-at 0.5]

Writes FILES small text files (random words, 100 per folder) into a temporary tree,
starts `deskfind service` on it, SIGKILLs it once KILL_AT of the files are
keyword-searchable, starts it again and waits until every file is. Reports the
service's peak resident memory (VmHWM) in each run, the keyword-indexing rate before
the kill and the time the second run took to finish, so resuming can be compared with
starting over. Cold conditions: a fresh data dir, nothing reused. Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app import ipc  # noqa: E402
from tests.app.test_service import Running  # noqa: E402

WORDS = ("harbour lantern quarry meadow ledger basalt orchard turbine cobalt willow "
         "sextant granite saffron kestrel violin glacier").split()


def write_tree(root: Path, files: int) -> None:
    rng = random.Random(7)
    for n in range(files):
        folder = root / f"d{n // 100:04d}"
        if n % 100 == 0:
            folder.mkdir(parents=True)
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        (folder / f"f{n:06d}.txt").write_text(f"file {n} token{n} {words}\n")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Service(Running):
    """The tests' service process, with what this benchmark reads of it."""

    def searchable(self) -> int:
        try:
            return int(self.status()["searchable"])
        except ipc.ServiceUnavailable:
            return 0

    def wait_for(self, count: int) -> float:
        """Seconds until `count` files are searchable."""
        started = time.monotonic()
        while self.searchable() < count:
            time.sleep(0.5)  # a benchmark's polling interval, not a test's synchronisation
        return time.monotonic() - started

    def peak_mb(self) -> float:
        assert self.proc is not None
        return peak_rss_mb(self.proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--kill-at", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-scan-") as tmp:
        work = Path(tmp)
        root = work / "tree"
        started = time.monotonic()
        write_tree(root, args.files)
        written_s = time.monotonic() - started
        service = Service(work, [root])
        try:
            service.start()
            kill_at = int(args.files * args.kill_at)
            first_s = service.wait_for(kill_at)
            first_peak = service.peak_mb()
            done_before_kill = service.searchable()
            service.kill()
            service.start()
            second_s = service.wait_for(args.files)
            second_peak = service.peak_mb()
        finally:
            service.stop()
    print(json.dumps({
        "files": args.files, "tree_written_s": round(written_s, 1),
        "first_run": {"searchable_when_killed": done_before_kill, "seconds": round(first_s, 1),
                      "files_per_s": round(done_before_kill / first_s, 1),
                      "peak_rss_mb": round(first_peak, 1)},
        "after_kill": {"seconds_to_finish": round(second_s, 1),
                       "files_left": args.files - done_before_kill,
                       "peak_rss_mb": round(second_peak, 1)},
        "conditions": "cold: fresh data dir and tree; phase 1 only (keyword-searchable); "
                      "embedding starts once the queue is empty and is not measured",
    }, indent=1))


if __name__ == "__main__":
    main()
