"""`deskfind bench`: embedding, vector search and end-to-end query benchmarks.

Every figure and ratio comes from one run on one machine, so they compare like with
like even when the machine is shared.  Numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from app.bench_common import log, machine

BENCHES = ("embed", "vectors", "query")


def run_benchmarks(only: str | None, quick: bool, spectrum: str = "real",
                   database: str | None = None) -> dict[str, Any]:
    # Imported here: the CLI loads this module on every command, the benchmarks only
    # when asked.
    from app import bench_embed, bench_query, bench_vectors

    report: dict[str, Any] = {"quick": quick, "machine": machine()}
    chosen = [only] if only else list(BENCHES)
    with tempfile.TemporaryDirectory(prefix="deskfind-bench-") as tmp:
        work = Path(tmp)
        if "embed" in chosen:
            log("embed")
            report["embed"] = bench_embed.run(quick=quick)
        if "vectors" in chosen:
            log("vectors")
            report["vectors"] = bench_vectors.run(work, quick=quick, spectrum=spectrum)
        if "query" in chosen:
            log("query")
            report["query"] = bench_query.run(work, quick=quick, database=database)
    return report


def cmd_bench(args: argparse.Namespace) -> int:
    report = run_benchmarks(args.only, args.quick, args.spectrum, args.database)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return 0


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_report(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, load {m['load_avg']}"]
    if "embed" in report:
        e = report["embed"]
        lines.append(f"\nembed ({e['texts']} texts, {e['tokens']:,} tokens, "
                     f"{e['threads']} threads, {e['source']}; pipeline: {e['precision']})")
        for key, value in e.items():
            if key.endswith(("_tok_s", "_ratio", "_cosine")):
                lines.append(f"  {key:<28} {_fmt(value)}")
        for name, row in (e.get("ndcg@10") or {}).items():
            lines.append(f"  nDCG@10 {name:<19} " + "   ".join(
                f"{mode} fp32 {row['fp32'][mode]:.4f} int8 {row['int8'][mode]:.4f} "
                f"({row['int8_minus_fp32'][mode]:+.4f})" for mode in row["fp32"]))
    if "vectors" in report:
        lines.append("\nvectors (k=10, 200 queries)")
        lines.append(f"  {'n':>9} {'path':<6} {'build s':>8} {'B/vec':>7} {'recall':>7} "
                     f"{'p50 ms':>7} {'p95 ms':>7} {'f1% rec':>8} {'f10% rec':>8} "
                     f"{'f1% p50':>8} {'f10% p50':>8}")
        for run in report["vectors"]["runs"]:
            f = run["filtered"]
            lines.append(
                f"  {run['n']:>9,} {run['path']:<6} {run['build_s']:>8.1f} "
                f"{run['bytes_per_vector']:>7,} {run['recall@10']:>7.3f} {run['p50_ms']:>7.2f} "
                f"{run['p95_ms']:>7.2f} {f['1%']['recall@10']:>8.3f} "
                f"{f['10%']['recall@10']:>8.3f} {f['1%']['p50_ms']:>8.2f} "
                f"{f['10%']['p50_ms']:>8.2f}")
    if "query" in report:
        q = report["query"]
        lines.append(f"\nquery ({q['n_chunks']:,} passages on {q['engine']}, {q['queries']} "
                     f"queries, store built in {q['build_s']:.0f} s, "
                     f"{q['ingest_passages_s']:,.0f} passages/s)")
        for mode in ("hybrid", "lexical", "dense"):
            r = q["modes"][mode]
            lines.append(f"  {mode:<8} p50 {r['p50_ms']:>8.1f} ms   p95 {r['p95_ms']:>8.1f} ms")
    return "\n".join(lines)
