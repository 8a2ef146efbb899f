"""How many ordinary files the content rules for secrets would skip, and how fast they run.

    python tests/bench/bench_secret_rules.py [FOLDER ...]   # default: site-packages, /usr/share/doc

Reads every file of up to 8 MB under the folders (links not followed) and runs
`indexer.secrets.looks_secret` on its raw bytes (what the pipeline does before
extraction) and on its text decoded as UTF-8 (what it does after).  Reports the files
either rule flags, so a false alarm can be read, and the speed of each rule in MB/s
(every file is read into memory before timing: no disk in the figure).  Numbers, not
asserts: whether a flagged file is a real secret is for a person to judge.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from indexer.secrets import looks_secret  # noqa: E402

MAX_BYTES = 8_000_000


def _files(folders: list[str]) -> list[str]:
    found = []
    for folder in folders:
        for directory, _dirs, names in os.walk(folder):
            for name in names:
                path = os.path.join(directory, name)
                if not os.path.islink(path) and os.path.isfile(path) and \
                        os.path.getsize(path) <= MAX_BYTES:
                    found.append(path)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*",
                        default=[sysconfig.get_paths()["purelib"], "/usr/share/doc"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    contents = []
    for path in _files(args.folders):
        try:
            contents.append((path, Path(path).read_bytes()))
        except OSError:
            continue
    total = sum(len(data) for _, data in contents)
    flagged: dict[str, list[str]] = {}
    seconds = {"bytes": 0.0, "text": 0.0}
    for path, data in contents:
        text = data.decode("utf-8", "replace")
        for rule, content in (("bytes", data), ("text", text)):
            start = time.perf_counter()
            hit = looks_secret(content)  # type: ignore[arg-type]
            seconds[rule] += time.perf_counter() - start
            if hit:
                flagged.setdefault(path, []).append(rule)
    report = {
        "folders": args.folders, "files": len(contents), "megabytes": round(total / 1e6, 1),
        "flagged": len(flagged),
        "bytes_rule_mb_s": round(total / 1e6 / max(seconds["bytes"], 1e-9), 1),
        "text_rule_mb_s": round(total / 1e6 / max(seconds["text"], 1e-9), 1),
        "flagged_files": {p: r for p, r in sorted(flagged.items())},
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"{report['files']} files, {report['megabytes']} MB: {report['flagged']} flagged; "
          f"raw-bytes rule {report['bytes_rule_mb_s']} MB/s, text rule "
          f"{report['text_rule_mb_s']} MB/s")
    for path, rules in report["flagged_files"].items():
        print(f"  {'+'.join(rules):10} {path}")


if __name__ == "__main__":
    main()
