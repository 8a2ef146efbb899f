"""Start-up time of the bundle's `deskfind search`, warm and cold (a measurement, not a test).

    python tests/bench/bench_bundle_start.py [dist/deskfind/deskfind] [--runs 5] [--drop-caches]

Indexes resources/sample with the bundle into a temporary HOME (which also builds the
model graphs into its cache), then times whole processes, `deskfind --version` and
`deskfind search "my coffee tastes sour" -n 3`, in three states, taking turns:

- warm: right after another run, everything in the page cache;
- cold files: every file of the bundle, of the model cache and of the index evicted from
  the page cache first (posix_fadvise DONTNEED, checked with fincore where it exists),
  as after a reboot, except for system libraries (libc, libstdc++) any desktop keeps
  loaded;
- cold system (`--drop-caches`, root only): `sync; echo 3 > /proc/sys/vm/drop_caches`
  first, which empties the whole machine's page cache (it slows everything else on the
  machine for a moment, so it is not the default).

Prints one JSON object: seconds per run, medians, the bundle's size, the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUERY = "my coffee tastes sour"


def files_under(*folders: Path) -> list[Path]:
    return [Path(d, name) for folder in folders for d, _, names in os.walk(folder)
            for name in names if not Path(d, name).is_symlink()]


def evict(paths: list[Path]) -> None:
    """Drop these files' pages from the page cache (nothing is lost: written back first)."""
    os.sync()  # dirty pages (the index just written) cannot be dropped
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def resident_mib(paths: list[Path]) -> float | None:
    """How much of these files is in the page cache (fincore), None without fincore."""
    if shutil.which("fincore") is None:
        return None
    total = 0
    for start in range(0, len(paths), 500):
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES",
                              *map(str, paths[start:start + 500])],
                             capture_output=True, text=True).stdout
        total += sum(int(line) for line in out.split() if line.isdigit())
    return round(total / 2**20, 1)


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default=str(REPO / "dist/deskfind/deskfind"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--drop-caches", action="store_true",
                        help="also time after emptying the whole page cache (root)")
    args = parser.parse_args()
    bundle = Path(args.bundle).resolve()
    if not bundle.is_file():
        print(f"no bundle at {bundle}; run packaging/build.sh", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="deskfind-start-") as tmp:
        home = Path(tmp)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
               "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
               "XDG_CACHE_HOME": str(home / "cache"), "XDG_STATE_HOME": str(home / "state")}
        subprocess.run([str(bundle), "index", str(REPO / "resources/sample")], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        ours = files_under(bundle.parent, home)
        commands = {"version": [str(bundle), "--version"],
                    "search": [str(bundle), "search", QUERY, "-n", "3"]}
        states = ["warm", "cold_files"] + (["cold_system"] if args.drop_caches else [])
        times: dict[str, dict[str, list[float]]] = {s: {c: [] for c in commands}
                                                    for s in states}
        left: dict[str, list[float | None]] = {"after_evict_mib": [], "after_warm_mib": []}
        for _ in range(args.runs):
            for state in states:
                for name, argv in commands.items():
                    if state == "warm":
                        timed(argv, env)  # the run before warms the cache
                    elif state == "cold_files":
                        evict(ours)
                        left["after_evict_mib"].append(resident_mib(ours))
                    else:
                        drop_caches()
                    times[state][name].append(round(timed(argv, env), 3))
                    if state == "warm" and name == "search":
                        left["after_warm_mib"].append(resident_mib(ours))
        size = sum(p.stat().st_size for p in files_under(bundle.parent))
        print(json.dumps({
            "bundle": str(bundle), "bundle_mib": round(size / 2**20),
            "files_evicted": len(ours), "resident_after_evict_mib": left["after_evict_mib"],
            "resident_after_warm_search_mib": left["after_warm_mib"],
            "load_average": os.getloadavg(), "cpus": os.cpu_count(),
            "seconds": times,
            "median_seconds": {s: {c: round(statistics.median(v), 3) for c, v in t.items()}
                               for s, t in times.items()},
        }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
