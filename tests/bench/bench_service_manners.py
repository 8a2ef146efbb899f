"""The service's CPU and memory while indexing a tree and while idle watching it.

    python tests/bench/bench_service_manners.py [--files 10000] [--idle-seconds 60]

Writes FILES small text files (40 random words, 100 per folder) into a temporary tree,
starts `deskfind service` on it (fresh data dir, the bundled model, 2 threads), and
samples the process from /proc twice a second: while it indexes (until every file is
keyword-searchable and every passage embedded) and then for IDLE_SECONDS while it only
watches the tree. Reports CPU (seconds of user+system time over wall time, so 1.0 is
one core busy), resident memory (mean and peak of VmRSS; VmHWM) and the I/O class the
service set itself to. Numbers, not asserts; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app import ipc  # noqa: E402
from app.power import io_priority_class  # noqa: E402

WORDS = ("harbour lantern quarry meadow ledger basalt orchard turbine cobalt willow "
         "sextant granite saffron kestrel violin glacier").split()
TICK = os.sysconf("SC_CLK_TCK")


def write_tree(root: Path, files: int) -> None:
    rng = random.Random(7)
    for n in range(files):
        folder = root / f"d{n // 100:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        (folder / f"f{n:06d}.txt").write_text(f"file {n} token{n} {words}\n")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def memory_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start_cpu, self.start_wall = cpu_seconds(pid), time.monotonic()
        self.rss: list[int] = []

    def sample(self) -> None:
        self.rss.append(memory_kib(self.pid, "VmRSS"))

    def report(self) -> dict[str, float]:
        wall = time.monotonic() - self.start_wall
        return {"seconds": round(wall, 1),
                "cpu_cores": round((cpu_seconds(self.pid) - self.start_cpu) / wall, 4),
                "rss_mean_mib": round(sum(self.rss) / max(len(self.rss), 1) / 1024, 1),
                "rss_max_mib": round(max(self.rss, default=0) / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-manners-") as tmp:
        root, data = Path(tmp) / "tree", Path(tmp) / "data"
        write_tree(root, args.files)
        config = Path(tmp) / "config.toml"
        config.write_text(f'roots = ["{root}"]\nthreads = 2\n')
        env = {**os.environ, "DESKFIND_DATA_DIR": str(data), "DESKFIND_CONFIG": str(config),
               "DESKFIND_LOG_DIR": str(Path(tmp) / "logs"), "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "service"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            indexing = Sampler(proc.pid)
            status: dict = {}
            while True:
                indexing.sample()
                try:
                    status = ipc.call(data, {"op": "status"}, timeout=30)
                except ipc.ServiceUnavailable:
                    status = {}
                if status and status["phase"] == "idle" and status["queue"] == 0 \
                        and status["searchable"] == args.files \
                        and status["embedded"] == status["passages"]:
                    break
                if proc.poll() is not None:
                    raise SystemExit("the service exited")
                time.sleep(0.5)
            indexed = indexing.report()
            idle = Sampler(proc.pid)
            deadline = time.monotonic() + args.idle_seconds
            while time.monotonic() < deadline:
                idle.sample()
                time.sleep(0.5)
            result = {"files": args.files, "passages": status["passages"],
                      "indexing": indexed, "idle": idle.report(),
                      "peak_rss_mib": round(memory_kib(proc.pid, "VmHWM") / 1024, 1),
                      "io_class": io_priority_class(proc.pid),
                      "threads": len(os.listdir(f"/proc/{proc.pid}/task")),
                      "load_average": os.getloadavg()}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
