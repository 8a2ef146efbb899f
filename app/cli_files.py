"""CLI commands about the indexed files themselves: duplicates (and related files)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from app.context import Deskfind, Options
from engine.duplicates import DuplicateGroup, duplicate_groups
from engine.ids import FileId

Command = Callable[[argparse.Namespace], int]


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("duplicates", help="list files that are copies of each other",
                       description="List groups of indexed files that are byte-identical "
                                   "or hold nearly the same text (a document and its "
                                   "re-export, a page and its source), with sizes and "
                                   "paths. Nothing is ever deleted.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    common(p)


def find_duplicates(options: Options) -> list[DuplicateGroup]:
    with Deskfind(options, readonly=True) as df:
        files = df.store.duplicate_candidates()
        prints = df.store.fingerprints([FileId(f.id) for f in files])
    return duplicate_groups(files, {int(k): v for k, v in prints.items()})


def format_groups(groups: list[DuplicateGroup], printable: Callable[[str], str]) -> str:
    if not groups:
        return "no duplicates found"
    extra = sum(g.extra_bytes for g in groups)
    noun = "group" if len(groups) == 1 else "groups"
    lines = [f"{len(groups)} {noun} of duplicates; the copies take {extra:,} bytes beyond "
             "one file each"]
    for group in groups:
        kind = "identical" if group.identical else "same text"
        lines.append(f"{kind}, {len(group.files)} files, {group.extra_bytes:,} bytes in copies:")
        lines += [f"  {f.size:>12,}  {printable(f.display_path)}" for f in group.files]
    return "\n".join(lines)


def run_duplicates(args: argparse.Namespace, options: Options,
                   printable: Callable[[str], str]) -> int:
    groups = find_duplicates(options)
    if args.json:
        print(json.dumps({"groups": [g.to_json() for g in groups]}, ensure_ascii=False))
    else:
        print(format_groups(groups, printable))
    return 0
