"""The `deskfind` command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from app import bench, cli_admin, cli_files, logs, paths
from app.cli_files import MAX_LIMIT, whole_number
from app.client import connect
from app.config import SETTINGS, Config, config_path, run_options, walk_rules
from app.context import Deskfind, Options
from app.errors import UsageError
from app.present import copies_label
from app.values import SERVICE_RUNNING, IndexStatus
from engine.errors import DeskfindError, ModelError, StoreError
from engine.precision import PRECISIONS, precision_status, resolve_model
from engine.query import parse_query
from engine.ranking import FUSIONS, MODES
from engine.storage import public_name

log = logging.getLogger("deskfind.cli")
__all__ = ["UsageError", "build_parser", "main"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR",
                        help="index directory (default: $DESKFIND_DATA_DIR or the "
                             "platform's user data dir)")
    parser.add_argument("--database", metavar="URL",
                        help="a shared PostgreSQL index (postgresql://…; default: the "
                             "database setting, else the local index)")
    parser.add_argument("--model-dir", metavar="DIR",
                        help="ONNX model directory (model.onnx, tokenizer.json, "
                             "deskfind-model.json) instead of the bundled MiniLM")
    parser.add_argument("--threads", type=whole_number(0, MAX_THREADS), default=0, metavar="N",
                        help="CPU threads for the embedding model (default: up to 4)")
    parser.add_argument("--precision", choices=PRECISIONS, metavar="|".join(PRECISIONS),
                        help="arithmetic of the bundled model (default: the "
                             "embedding_precision setting, auto); changing it re-embeds")


MAX_THREADS = int(SETTINGS["threads"].bounds[1])  # type: ignore[index]  # the settings' bound


class _Parser(argparse.ArgumentParser):
    """Wrong command-line input is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"deskfind: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deskfind",
        description="Local, private desktop search by keyword and by meaning.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log progress details (also into the log file, see "
                             "`deskfind status`)")
    parser.add_argument("--version", action="version", version=f"deskfind {logs.version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="index folders or files (only changes are redone)",
                       description="Index folders or files. Re-running only processes "
                                   "changed files and forgets deleted ones.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="folder or file to index")
    _common(p)

    p = sub.add_parser("search", help="search the index",
                       description='Search by keyword and meaning. Query syntax: words, '
                                   '"exact phrase", -excluded, ext:pdf, path:notes, '
                                   'from:alice, to:bob (mail), '
                                   'after:2024-01-31, before:2024-12-31.')
    p.add_argument("query", nargs="+", help="what to look for")
    p.add_argument("--limit", "-n", type=whole_number(1, MAX_LIMIT), default=10, metavar="N",
                   help="number of documents to show (default 10)")
    p.add_argument("--mode", default="hybrid", metavar="|".join(MODES),
                   help="hybrid (default), lexical (keywords only) or dense (meaning only)")
    p.add_argument("--fusion", default="convex", metavar="|".join(FUSIONS),
                   help="how hybrid combines the two sides (default convex)")
    p.add_argument("--strict", action="store_true",
                   help='never relax: when "phrases" or -exclusions leave nothing, show '
                        "nothing (by default the words are searched instead, with a note)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _common(p)

    p = sub.add_parser("status", help="show what is indexed",
                       description="Show counts of indexed, embedded and failed files, "
                                   "and the index's health (SQLite and FTS5 integrity "
                                   f"checks; above {HEALTH_CHECK_PASSAGES:,} passages only "
                                   "with --check).")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--check", action="store_true",
                   help="check the index's health whatever its size")
    _common(p)

    p = sub.add_parser("repair", help="check the index and rebuild a damaged full-text index",
                       description="Run SQLite's and FTS5's integrity checks and, if the "
                                   "full-text index is damaged, rebuild it from the stored "
                                   "passage text. The service must be stopped.")
    _common(p)

    p = sub.add_parser("eval", help="measure search quality on BEIR-format collections",
                       description="Write a BEIR collection (corpus.jsonl, queries.jsonl, "
                                   "qrels/test.tsv) as files, index them with the real "
                                   "pipeline and score lexical, dense and hybrid search.")
    p.add_argument("beir_dirs", metavar="BEIR_DIR", nargs="+",
                   help="folders in BEIR layout; several are reported side by side")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--alpha", type=float, default=None, metavar="A",
                   help="convex weight of the dense side (default 0.7)")
    p.add_argument("--max-queries", type=whole_number(0, 10**9), default=0, metavar="N",
                   help="evaluate only the first N queries (default all)")
    p.add_argument("--graph", action="store_true",
                   help="search the reduced HNSW graph even where the collection is small "
                        "enough for an exact scan (to measure what the graph costs)")
    _common(p)

    cli_admin.add_parsers(sub, _common)
    cli_files.add_parsers(sub, _common)

    p = sub.add_parser("bench", help="measure embedding, vector search and query speed",
                       description="Benchmark the embedding pipeline against the bare model, "
                                   "the vector index against exact search (recall, memory, "
                                   "latency, filtered recall) and end-to-end hybrid query "
                                   "latency on a generated index. All figures come from one "
                                   "run; nothing is written outside a temporary folder.")
    p.add_argument("--quick", action="store_true",
                   help="small sizes (20k vectors, 50k passages) that finish in minutes")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--only", choices=bench.BENCHES, metavar="|".join(bench.BENCHES),
                   help="run one benchmark instead of all three")
    p.add_argument("--spectrum", choices=("real", "flat"), default="real",
                   help="synthetic vectors shaped like real embeddings (default) or "
                        "isotropic clusters, the hardest case for the reduced graph")
    p.add_argument("--database", metavar="URL",
                   help="run the query benchmark on PostgreSQL (postgresql://…), in a "
                        "scratch schema dropped afterwards, instead of a SQLite file")

    p = sub.add_parser("gui", help="open the search window and tray quick search",
                       description="Open the desktop app: search-as-you-type window with "
                                   "previews, a tray icon with a quick-search popup, and "
                                   "folder and settings management.")
    p.add_argument("--hidden", action="store_true",
                   help="start in the tray without showing the window (when a tray exists)")
    p.add_argument("--quick", action="store_true",
                   help="show the quick-search popup (of the running app, if one runs); "
                        "bind this to a key in your desktop's keyboard settings")
    p.add_argument("--screenshot", metavar="DIR",
                   help="open the windows on a demo index, save PNGs into DIR and exit")
    _common(p)
    return parser


Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None, *, gui: Command | None = None) -> int:
    """Run one command.  `gui` runs the desktop app: the program that has one
    (ui/command.py, the `deskfind` executable) passes it, so nothing here imports the
    GUI."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # The service and the GUI always keep a log file; other commands with -v.
    long_running = args.command in ("service", "gui")
    program = args.command if long_running else "cli"
    logs.setup_logging(program, verbose=args.verbose, to_file=long_running or args.verbose)
    if args.command == "service":  # the GUI installs its own, which also shows a dialog
        logs.install_crash_handler("service")
    try:
        if args.command == "gui":
            if gui is None:
                raise UsageError("this entry point has no GUI; run `deskfind gui`")
            return gui(args)
        return COMMANDS[args.command](args)
    except DeskfindError as exc:  # wrong input (UsageError, QueryError) exits 2
        print(f"deskfind: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except sqlite3.DatabaseError as exc:  # the index file itself: damaged or read-only
        if long_running:
            raise  # the service's and the GUI's crash handlers report it whole
        log.debug("the index database failed", exc_info=True)
        print(f"deskfind: error: {_database_failure(exc, args.command)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and friends
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a settings file or folder that cannot be read or written
        if long_running:
            raise
        log.debug("a file operation failed", exc_info=True)
        where = f" {os.fsdecode(exc.filename)}" if exc.filename is not None else ""
        print(f"deskfind: error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deskfind: interrupted", file=sys.stderr)
        return 130


def _database_failure(exc: sqlite3.DatabaseError, command: str) -> str:
    """One line for an index database that cannot be used, and what to do about it."""
    if "readonly" in str(exc) or "read-only" in str(exc):
        return (f"the index is read-only ({exc}): indexing and repair need write access "
                "to the index files")
    fresh = "move the index directory away and run `deskfind index` again"
    if command == "repair":
        return f"the index database is damaged beyond repair in place ({exc}): {fresh}"
    return (f"the index database is damaged ({exc}): run `deskfind repair`; if it cannot "
            f"mend it, {fresh}")


def command_line(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (None or 0 where not given)."""
    return {"data_dir": args.data_dir, "model_dir": args.model_dir, "threads": args.threads,
            "precision": args.precision, "database": getattr(args, "database", None)}


def _options(args: argparse.Namespace, **extra: Any) -> Options:
    """The command line's options over the settings file's (see run_options)."""
    return run_options(Config.load(config_path(None)), **command_line(args), **extra)


def _model_failed(exc: ModelError, args: argparse.Namespace) -> ModelError:
    """`exc`, saying where the model came from when the settings chose it."""
    if args.model_dir:
        return exc
    return ModelError(f"{exc} (set by model_dir in {config_path(None)}; change it with "
                      "`deskfind config model_dir DIR`, or '' for the bundled model)")


class ProgressLine:
    """A one-line progress display on a terminal; silent when output is redirected."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // max(total, 1)
        line = f"\r{phase:<9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if line != self.last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.last = line

    def finish(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\n")


def cmd_index(args: argparse.Namespace) -> int:
    config = Config.load(config_path(None))
    options, rules = run_options(config, **command_line(args)), walk_rules(config)
    roots = []
    for raw in args.paths:
        path = Path(os.path.abspath(os.path.expanduser(raw)))
        if not path.exists():
            if _indexed_root(options, path):  # gone, or its disk is not mounted now
                raise UsageError(f"{raw} is gone (offline?); what was indexed from it "
                                 f"stays until `deskfind roots remove {path}`")
            raise UsageError(f"no such file or folder: {raw}")
        refusal = rules.refusal(bytes(path), is_dir=path.is_dir())
        if refusal is not None:
            raise UsageError(refusal)
        roots.append(path)
    if options.model_dir:  # a model that cannot load fails here, not after the scan
        try:
            resolve_model(options.model_dir)
        except ModelError as exc:
            raise _model_failed(exc, args) from exc
    progress = ProgressLine()
    with connect(options) as client:  # a running service refuses: it owns the index
        try:
            report = client.index(roots, progress, rules)
        finally:
            progress.finish()
    print(f"indexed {report.seen} files: {report.added} new, {report.updated} changed, "
          f"{report.unchanged} unchanged, {report.deleted} removed, {report.failed} failed, "
          f"{report.skipped} skipped; {report.chunks_embedded} passages embedded"
          + (f", {report.chunks_reused} reused" if report.chunks_reused else "")
          + (f", {report.chunks_generated} of generated text not embedded"
             if report.chunks_generated else ""))
    for shown, reason in report.failures[:20]:
        print(f"  failed: {printable(shown)}: {printable(reason)}")
    return 0


def _indexed_root(options: Options, path: Path) -> bool:
    """Whether the index remembers `path` as one of its roots."""
    try:
        with connect(options) as client:
            return str(path) in client.status().roots
    except DeskfindError:
        return False


def _highlighted(r: dict[str, Any], color: bool) -> str:
    text, pos, parts = str(r["snippet"]), 0, []

    def plain(piece: str) -> str:  # runs of whitespace (newlines too) read as one space
        return printable(_SPACE.sub(" ", piece))

    for a, b in r["highlights"]:
        parts.append(plain(text[pos:a]))
        word = plain(text[a:b])
        parts.append(f"\033[1;33m{word}\033[0m" if color else f"[{word}]")
        pos = b
    parts.append(plain(text[pos:]))
    return "".join(parts).strip()


_SPACE = re.compile(r"\s+")


def _search_results(args: argparse.Namespace, query: str) -> dict[str, Any]:
    """Ask the running service, or the index opened here when none runs.  Returns
    {"relaxed": note or None, "results": [...]} (app.values.Found's JSON)."""
    with connect(_options(args, fusion=args.fusion)) as client:
        try:
            found = client.search(query, limit=args.limit, mode=args.mode,
                                  strict=args.strict, fusion=args.fusion)
        except ModelError as exc:
            raise _model_failed(exc, args) from exc
    return found.to_json()


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters (escape sequences, newlines,
    carriage returns) and bidirectional overrides shown as escapes, so a file name or
    content cannot drive the terminal, forge lines of output, or show reversed
    (`invoice\u202efdp.md` reading as invoicedm.pdf)."""
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query).strip()
    if not query:
        raise UsageError("empty query")
    if args.mode not in MODES:
        raise UsageError(f"unknown mode '{args.mode}' (choose {', '.join(MODES)})")
    if args.fusion not in FUSIONS:
        raise UsageError(f"unknown fusion '{args.fusion}' (choose {', '.join(FUSIONS)})")
    parse_query(query)  # a syntax error is reported before the index is opened
    answer = _search_results(args, query)
    results = answer["results"]
    if args.json:
        print(json.dumps({"query": query, "mode": args.mode, "relaxed": answer["relaxed"],
                          "results": results}, ensure_ascii=False))
        return 0
    if answer["relaxed"]:
        print(f"deskfind: {printable(answer['relaxed'])} (--strict to search as typed)",
              file=sys.stderr)
    if not results:
        print("no results")
        return 0
    color = sys.stdout.isatty()
    for i, r in enumerate(results, 1):
        page = f" (page {r['page']})" if r["page"] else ""
        print(f"{i:>2}. {printable(r['title'])}  [{r['matched_by']}, {r['score']:.3f}]")
        print(f"    {printable(r['path'])}{page}")
        if r.get("copies"):
            print(f"    {copies_label(len(r['copies']))}: "
                  + ", ".join(printable(c["path"]) for c in r["copies"]))
        print(f"    {_highlighted(r, color)}")
    return 0


def _embedding_status(options: Options) -> dict[str, Any]:
    """Which model and precision embed here, without building anything."""
    if options.model_dir:
        return {"model_dir": options.model_dir, "precision": None,
                "line": f"{printable(options.model_dir)} (as it is; embedding_precision "
                        "applies to the bundled model)"}
    return precision_status(options.precision or "auto", shared=bool(options.database))


# Passages up to which `deskfind status` checks the index's health unasked: the checks
# read the whole database (about 20 s per million passages on a warm cache).
HEALTH_CHECK_PASSAGES = 200_000


def _health(args: argparse.Namespace, passages: int) -> list[str] | None:
    """What SQLite's and FTS5's checks find wrong with the index (empty: healthy; None:
    not checked, the index is too large and --check was not given).

    The FTS5 check needs a writable connection (it writes nothing); a read-only index
    gets SQLite's check alone."""
    if passages > HEALTH_CHECK_PASSAGES and not args.check:
        return None
    options = _options(args)
    try:
        index = Deskfind(options)
    except StoreError:
        index = Deskfind(options, readonly=True)
    with index:
        return index.integrity_problems()


def _health_line(problems: list[str] | None) -> str:
    if problems is None:
        return "not checked at this size (`deskfind status --check` reads the whole index)"
    damage = [p for p in problems if "not checked" not in p]
    return f"DAMAGED: {printable(damage[0])} (run `deskfind repair`)" if damage else "ok"


def cmd_status(args: argparse.Namespace) -> int:
    options = _options(args)
    with connect(options) as client:
        status: IndexStatus = client.status()
    problems = _health(args, status.passages)
    embedding = _embedding_status(options)
    if args.json:
        database = public_name(options.database) if options.database else None
        print(json.dumps({**status.to_json(), "database": database, "problems": problems,
                          "embedding": embedding},
                         ensure_ascii=False))
        return 0
    running = status.service == SERVICE_RUNNING
    print(f"index:    {public_name(options.database) if options.database else status.data_dir}")
    print(f"service:  {f'running, {status.phase}' if running else 'not running'}")
    print(f"roots:    {', '.join(status.roots) or '(none yet: run deskfind index FOLDER)'}")
    for watch in status.watch:
        if watch.mode != "inotify":
            print(f"  {watch.root}: {watch.mode} ({watch.note})")
    print(f"files:    {status.files} ({status.searchable} searchable, "
          f"{status.failed} failed, {status.skipped} skipped), {status.queue} queued")
    print(f"passages: {status.passages} ({status.embedded} embedded)")
    if status.vector_index == "building":
        print("vector index: building its graph; meanwhile searches by meaning scan "
              "every vector (slower, same results)")
    for reason, n in sorted(status.not_embedded.items()):
        print(f"  not embedded: {reason} text {n} passages")
    print(f"model:    {embedding['line']}")
    if status.embedding_paused and status.embedded < status.passages:
        print(f"embedding: paused, {status.embedding_paused} (keyword search is up to "
              "date; `deskfind config pause_on_battery false` embeds anyway)")
    print(f"health:   {_health_line(problems)}")
    for f in status.failures[:10]:
        print(f"  {f.status}: {printable(f.path)}: {printable(f.reason)}")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from app.service import ServiceLock

    data_dir = Deskfind.resolve_data_dir(_options(args))
    if not paths.database_path(data_dir).exists():
        raise UsageError(f"no index at {data_dir}: nothing to repair")
    with contextlib.ExitStack() as stack:
        try:  # no service may write while the index is rebuilt
            stack.enter_context(ServiceLock(data_dir))
        except StoreError as exc:
            raise UsageError(f"{exc}; stop it first with `deskfind service --stop`") from exc
        df = stack.enter_context(Deskfind(_options(args)))
        found = df.integrity_problems()
        if not found:
            print("the index is healthy; nothing to repair")
            return 0
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        print(f"found: {printable(found[0])}{more}")
        passages = df.rebuild_fulltext()
        left = df.integrity_problems()
    if left:
        raise DeskfindError(f"still damaged after rebuilding the full-text index "
                          f"({left[0]}); index your folders into a new --data-dir")
    print(f"repaired: the full-text index was rebuilt from {passages} stored passages")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from app.evaluate import evaluate_beir, format_report

    extra: dict[str, Any] = {} if args.alpha is None else {"alpha": args.alpha}
    if args.graph:
        extra["graph_threshold"] = 0
    reports = [evaluate_beir(Path(d), _options(args, **extra), max_queries=args.max_queries,
                             progress=ProgressLine()) for d in args.beir_dirs]
    print(json.dumps({"collections": reports}) if args.json else format_report(reports))
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    return cli_files.run_duplicates(args, _options(args), printable)


def cmd_related(args: argparse.Namespace) -> int:
    return cli_files.run_related(args, _options(args), printable)


COMMANDS = {"index": cmd_index, "search": cmd_search, "status": cmd_status,
            "repair": cmd_repair, "eval": cmd_eval, "duplicates": cmd_duplicates,
            "related": cmd_related, "bench": bench.cmd_bench}
COMMANDS.update(cli_admin.COMMANDS)


if __name__ == "__main__":
    raise SystemExit(main())
