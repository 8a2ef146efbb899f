"""CLI commands about the indexed files themselves: duplicates (and related files)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from app.client import connect
from app.context import Options
from app.errors import UsageError
from engine.duplicates import DuplicateGroup
from engine.errors import QueryError
from engine.related import METHODS, Related, RelatedError

Command = Callable[[argparse.Namespace], int]


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, else a one-line error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"wants a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value
    return parse


MAX_LIMIT = 10_000  # results or files one command lists


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("duplicates", help="list files that are copies of each other",
                       description="List groups of indexed files that are byte-identical "
                                   "or hold nearly the same text (a document and its "
                                   "re-export, a page and its source), with sizes and "
                                   "paths. Nothing is ever deleted.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    common(p)

    p = sub.add_parser("related", help="list files closest in meaning to a file",
                       description="List indexed files closest in meaning to PATH as a "
                                   "whole, each with the pair of passages that links them. "
                                   "Filters as in search: ext:pdf path:notes "
                                   "after:2024-01-31 before:2024-12-31. Copies of PATH "
                                   "are left out (see `deskfind duplicates`).")
    p.add_argument("path", metavar="PATH", help="an indexed file")
    p.add_argument("filters", nargs="*", metavar="FILTER", help="ext:, path:, after:, before:")
    p.add_argument("--limit", "-n", type=whole_number(1, MAX_LIMIT), default=10, metavar="N",
                   help="number of files to show (default 10)")
    p.add_argument("--method", choices=METHODS, default="mean",
                   help="compare by the mean passage vector (default) or the best pair")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    common(p)


def find_duplicates(options: Options) -> list[DuplicateGroup]:
    with connect(options) as client:
        return client.duplicates()


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


def find_related(options: Options, path: str, *, limit: int, method: str,
                 filters: str) -> list[Related]:
    target = os.fsencode(os.path.abspath(os.path.expanduser(path)))
    with connect(options) as client:
        return client.related(target, limit=limit, method=method, filters=filters)


def _short(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def run_related(args: argparse.Namespace, options: Options,
                printable: Callable[[str], str]) -> int:
    try:
        found = find_related(options, args.path, limit=args.limit, method=args.method,
                             filters=" ".join(args.filters))
    except (QueryError, RelatedError) as exc:
        raise UsageError(f"{printable(args.path)}: {exc}") from exc
    if args.json:
        print(json.dumps({"path": args.path, "method": args.method,
                          "related": [r.to_json() for r in found]}, ensure_ascii=False))
        return 0
    if not found:
        print("no related files found")
    for n, r in enumerate(found, 1):
        print(f"{n:>2}. {r.score:.3f}  {printable(r.display_path)}")
        print(f"      this:  {printable(_short(r.source_text))}")
        print(f"      there: {printable(_short(r.target_text))}")
    return 0
