"""CLI commands that manage the background service, the roots and the settings."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import desktop
from app.client import connect
from app.config import SCHEMA, Config, config_path, parse_value, run_options, walk_rules
from app.context import Options
from app.errors import UsageError
from engine.storage import is_postgres

Command = Callable[[argparse.Namespace], int]
# Settings the service reads only when it starts (they make its embedder).
READ_AT_START = ("model_dir", "embedding_precision", "threads")


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    def finish(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="FILE", help="settings file (default: platform's)")
        common(p)

    p = sub.add_parser("service", help="run the background indexer and query server",
                       description="Watch the configured roots, keep the index up to date "
                                   "and answer searches from the CLI and GUI. Runs until "
                                   "stopped (Ctrl+C, SIGTERM or `deskfind service --stop`).")
    p.add_argument("--stop", action="store_true", help="ask a running service to stop")
    finish(p)

    p = sub.add_parser("roots", help="list, add or remove the folders Deskfind keeps indexed",
                       description="Manage the folders the service indexes and watches.")
    p.add_argument("action", choices=("list", "add", "remove"), help="what to do")
    p.add_argument("paths", nargs="*", metavar="PATH", help="folders to add or remove")
    finish(p)

    p = sub.add_parser("readers", help="list, grant or revoke who may read a root of a "
                                       "shared PostgreSQL index",
                       description="On a shared PostgreSQL index, each indexed root lists "
                                   "the database roles (and their members) that may read "
                                   "it; row-level security hides the rest. Without ROLEs, "
                                   "list them; with ROLEs, grant them (or --revoke).")
    p.add_argument("root", metavar="ROOT", help="an indexed folder")
    p.add_argument("roles", nargs="*", metavar="ROLE", help="database roles to grant")
    p.add_argument("--revoke", action="store_true", help="take the ROLEs' access away")
    finish(p)

    p = sub.add_parser("config", help="show or change settings",
                       description="Without arguments, list every setting with its value "
                                   "and meaning. With KEY VALUE, change one (lists are "
                                   "comma-separated).")
    p.add_argument("key", nargs="?", help="setting to change")
    p.add_argument("value", nargs="?", help="new value")
    finish(p)

    p = sub.add_parser("desktop", help="add Deskfind to the application menu and the login",
                       description="install: write an application-menu entry (with a Quick "
                                   "Search action to bind to a key), the icon in your icon "
                                   "theme and a start-at-login entry, under $XDG_DATA_HOME "
                                   "and $XDG_CONFIG_HOME. uninstall: remove exactly what "
                                   "install wrote and put back any file it replaced.")
    p.add_argument("action", choices=("install", "uninstall"), help="what to do")
    p.add_argument("--autostart", choices=(*desktop.AUTOSTART_COMMANDS, "none"),
                   default=desktop.DEFAULT_AUTOSTART,
                   help="what starts at login: the background indexer (default), the tray "
                        "app (which starts the indexer too) or nothing")


def _options(args: argparse.Namespace, config: Config) -> Options:
    return run_options(config, data_dir=args.data_dir, model_dir=args.model_dir,
                       threads=args.threads, precision=args.precision,
                       database=getattr(args, "database", None))


def _notify_service(args: argparse.Namespace, config: Config) -> bool:
    """Tell a running service the settings changed; whether one runs."""
    with connect(_options(args, config)) as client:
        return client.reload()


def cmd_service(args: argparse.Namespace) -> int:
    from app.service import Service

    config = Config.load(config_path(args.config))
    options = _options(args, config)
    if args.stop:
        with connect(options) as client:
            if client.is_service:
                client.stop()
            else:
                print("no service is running")
        return 0
    if not config.get("roots"):
        print(f"note: no roots configured in {config.path}; add some with "
              "`deskfind roots add FOLDER`", file=sys.stderr)
    return Service(options, config).run()


def cmd_roots(args: argparse.Namespace) -> int:
    config = Config.load(config_path(args.config))
    roots: list[str] = config.get("roots")
    if args.action == "list":
        for root in roots:
            state = "" if os.path.isdir(root) else "  (not found: offline?)"
            print(f"{root}{state}")
        return 0
    if not args.paths:
        raise UsageError(f"roots {args.action} needs at least one folder")
    options = _options(args, config)
    indexed: set[str] = set()
    if args.action == "remove":  # `deskfind index FOLDER` makes roots the settings lack
        with connect(options) as client:
            indexed = {os.fsdecode(r) for r in client.status().roots}
    for raw in args.paths:
        path = str(Path(os.path.abspath(os.path.expanduser(raw))))
        if args.action == "add":
            if not os.path.isdir(path):
                raise UsageError(f"not a folder: {raw}")
            refusal = walk_rules(config).refusal(path, is_dir=True)
            if refusal is not None:
                raise UsageError(refusal)
            if path not in roots:
                roots.append(path)
        elif path in roots:
            roots.remove(path)
        elif path not in indexed:
            raise UsageError(f"not a root: {raw} (see `deskfind roots list` and "
                             "`deskfind status`)")
    config.set("roots", roots)
    config.save()
    with connect(options) as client:  # a service drops them itself
        if args.action == "remove":
            client.forget_roots([os.fsencode(os.path.abspath(os.path.expanduser(raw)))
                                 for raw in args.paths])
        else:
            client.reload()
    print(f"{len(roots)} root(s) in {config.path}")
    return 0


def cmd_readers(args: argparse.Namespace) -> int:
    options = _options(args, Config.load(config_path(args.config)))
    if not is_postgres(options.database):
        raise UsageError("readers belong to a shared PostgreSQL index: set `database` "
                         "(deskfind config database postgresql://…) or pass --database")
    if args.revoke and not args.roles:
        raise UsageError("readers --revoke needs the ROLEs to revoke")
    from engine.pgstore import PgStore

    root = os.fsencode(os.path.abspath(os.path.expanduser(args.root)))
    store = PgStore.open(str(options.database))
    try:
        if root not in store.roots():
            raise UsageError(f"not an indexed root of {store.describe()}: {args.root} "
                             "(index it first: `deskfind index FOLDER --database …`)")
        unknown = [role for role in args.roles if not store.role_exists(role)]
        if unknown:
            raise UsageError(f"no such database role: {', '.join(unknown)}")
        with store.write():
            for role in args.roles:
                (store.revoke_root if args.revoke else store.grant_root)(root, role)
        readers = store.root_readers(root)
    finally:
        store.close()
    print(f"{os.fsdecode(root)}: {', '.join(readers) if readers else 'no readers'}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    config = Config.load(config_path(args.config))
    if args.key is None:
        print(f"# {config.path}")
        for setting in SCHEMA:
            print(f"{setting.key} = {config.get(setting.key)!r}\n    {setting.description}")
        return 0
    if args.value is None:
        raise UsageError(f"config {args.key} needs a VALUE")
    config.set(args.key, parse_value(args.key, args.value))
    config.save()
    notified = _notify_service(args, config)
    print(f"{args.key} = {config.get(args.key)!r}")
    if notified and args.key in READ_AT_START:
        print("note: the running service reads this when it starts; restart it "
              "(`deskfind service --stop`, then start it again)")
    return 0


def cmd_desktop(args: argparse.Namespace) -> int:
    dirs = desktop.DesktopDirs.from_environment()
    if args.action == "uninstall":
        removed = desktop.uninstall(dirs)
        for path in removed:
            print(f"removed {path}")
        if not removed:
            print(f"nothing to remove (no {dirs.manifest})")
        return 0
    autostart = None if args.autostart == "none" else args.autostart
    for path in desktop.install_this(dirs, autostart):
        print(f"wrote {path}")
    return 0


COMMANDS: dict[str, Command] = {"service": cmd_service, "roots": cmd_roots, "config": cmd_config,
                                "desktop": cmd_desktop, "readers": cmd_readers}
