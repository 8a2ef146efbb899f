"""What the GUI needs from the application: one object that searches, reports status,
manages folders, settings and the background service.

It asks its questions through the client contract (app.client): the running service
when `connect` finds one, else the index opened here.  Settings live in the shared
TOML config (app.settings_file), the file `deskfind config` and `deskfind roots` edit.
With a service running, "update now" asks it to rescan: the service owns every write.
When none answers, the GUI can start one (app.launcher); only when that fails are
folders indexed here, in-process.  Searches always work: if the service goes away,
they are asked of the index opened here.

No Qt here: the facade is plain Python, so it can be tested and reused headless.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from app import ipc
from app.client import Client, LocalIndex, connect
from app.config import Config, config_path, run_options, walk_rules
from app.context import Options
from app.documents import Documents, highlight_spans, highlight_terms
from app.launcher import PING_SECONDS, SERVICE_LOG, ServiceLauncher
from app.power import PowerSource, SysfsPower, embedding_pause_reason
from app.settings_file import LEGACY_SETTINGS, SettingsFile
from app.values import (
    SERVICE_RUNNING,
    SERVICE_STOPPED,
    SERVICE_UNAVAILABLE,
    Failure,
    Found,
    Hit,
    IndexStatus,
    WatchState,
)
from engine.duplicates import DuplicateGroup
from engine.errors import DeskfindError
from engine.related import Related
from indexer.pipeline import IndexReport

__all__ = ["LEGACY_SETTINGS", "SERVICE_LOG", "SERVICE_RUNNING", "SERVICE_STOPPED",
           "SERVICE_UNAVAILABLE", "Backend", "Failure", "Found", "Hit", "IndexStatus",
           "IndexingCancelled", "WatchState"]

log = logging.getLogger("deskfind.backend")

T = TypeVar("T")
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class IndexingCancelled(DeskfindError):
    """The user stopped an indexing run; what was committed so far stays."""


class Backend:
    """Search and manage one index on behalf of the GUI.  Safe to call from any thread."""

    def __init__(self, options: Options, config_file: Path | None = None,
                 power: PowerSource | None = None) -> None:
        self.power = power or SysfsPower()  # tests pass their own
        self._indexing = threading.Lock()
        self._base_options = options
        self.settings_file = SettingsFile(config_file or config_path())
        self.options = self._effective_options()
        self._local = LocalIndex(self.options, readonly=False).open()  # DeskfindError: damaged
        self.data_dir = self._local.data_dir
        self.documents = Documents(self._local)
        self.launcher = ServiceLauncher(options, self.settings_file.path)
        self._migrate_legacy()

    @property
    def config(self) -> Config:
        return self.settings_file.config

    @property
    def service(self) -> str:
        """SERVICE_RUNNING, SERVICE_STOPPED or SERVICE_UNAVAILABLE."""
        return self.launcher.state

    @service.setter
    def service(self, state: str) -> None:
        self.launcher.state = state

    @property
    def service_error(self) -> str:
        return self.launcher.error

    def _effective_options(self) -> Options:
        base = self._base_options
        return run_options(self.settings_file.fresh(), data_dir=base.data_dir,
                           model_dir=base.model_dir, threads=base.threads,
                           precision=base.precision, fusion=base.fusion,
                           database=base.database,
                           graph_threshold=base.graph_threshold)

    def close(self) -> None:
        """Close the index (a service keeps running: stop it with `stop_service`) and
        remove the copies of documents taken out of archives and mailboxes to open."""
        self._local.close()
        self.documents.close()

    def related(self, path: bytes, limit: int = 8) -> list[Related]:
        """The files closest in meaning to the indexed file at `path` (engine.related);
        raises DeskfindError saying why there are none (not indexed, no vectors yet)."""
        return self._ask(lambda c: c.related(path, limit=limit))

    def duplicates(self) -> list[DuplicateGroup]:
        """Groups of indexed files that are byte-identical or hold the same text."""
        return self._ask(lambda c: c.duplicates())

    # -- asking the index -----------------------------------------------------------------

    def _connect(self) -> Client:
        """Choose again where questions go (app.client.connect), noting what was found."""
        door = connect(self.options, local=self._local, timeout=PING_SECONDS)
        if door.is_service:
            self.launcher.state, self.launcher.error = SERVICE_RUNNING, ""
        elif self.launcher.state == SERVICE_RUNNING:
            self.launcher.state = SERVICE_STOPPED
        return door

    @property
    def _door(self) -> Client:
        """Where questions go: the service while it runs, else the index opened here."""
        return self.launcher.client if self.service == SERVICE_RUNNING else self._local

    def _ask(self, question: Callable[[Client], T]) -> T:
        """`question` answered by the door; when the service stops answering, by the
        index opened here."""
        door = self._door
        if door.is_service:
            try:
                return question(door)
            except ipc.ServiceUnavailable as exc:
                log.warning("%s; asking the index opened here", exc)
                self.service = SERVICE_STOPPED
        return question(self._local)

    def search(self, query: str, mode: str = "hybrid", limit: int = 50,
               strict: bool = False) -> Found:
        """Ranked documents for `query`; raises QueryError for a query that cannot run.

        Unless `strict`, phrases or exclusions that leave nothing are relaxed (see
        Searcher.query) and `Found.relaxed` says how."""
        return self._ask(lambda c: c.search(query, mode=mode, limit=limit, strict=strict))

    def mark_sentences(self, query: str, hits: list[Hit]) -> list[Hit]:
        """`hits` with the snippet sentence closest in meaning to `query` marked."""
        snippets = [h.snippet.text for h in hits]
        spans = self._ask(lambda c: c.best_sentences(query, snippets))
        return [replace(h, sentence=span) for h, span in zip(hits, spans, strict=True)]

    highlight_terms = staticmethod(highlight_terms)
    match_spans = staticmethod(highlight_spans)

    def document_text(self, path: bytes, ext: str) -> str:
        """A document's text as the indexer read it (app.documents)."""
        return self.documents.text(path, ext)

    def openable_path(self, path: bytes, ext: str) -> bytes:
        """A path another program can open for a result (app.documents)."""
        return self.documents.openable_path(path, ext)

    def status(self) -> IndexStatus:
        """The service's status when one answers (noticing one started elsewhere), else
        counts read here; the roots are always the settings'."""
        self.launcher.reap()
        if self.service != SERVICE_RUNNING:
            self._connect()
        status = self._ask(lambda c: c.status())
        if status.service != SERVICE_RUNNING:
            status = replace(status, service=self.service, service_note=self.service_error,
                             embedding_paused=self.embedding_hold() if status.to_embed else "")
        return replace(status, data_dir=str(self.data_dir), roots=tuple(self.roots()))

    # -- folders and settings -------------------------------------------------------------

    def roots(self) -> list[str]:
        """The configured folders, re-read if another program changed the settings."""
        return self.settings_file.roots()

    def settings(self) -> dict[str, Any]:
        """Every setting's current value, by key."""
        return self.settings_file.shown()

    def add_root(self, path: Path | str) -> None:
        """Add a folder to the settings; a running service starts watching it."""
        root = os.path.abspath(os.path.expanduser(os.fspath(path)))
        refusal = walk_rules(self.settings_file.fresh()).refusal(root, is_dir=True)
        if refusal is not None:
            raise DeskfindError(refusal)
        self._edit_roots(lambda roots: roots if root in roots else [*roots, root])
        self._notify_service()

    def remove_root(self, path: Path | str | bytes) -> int:
        """Forget a folder and the files indexed under it.

        Returns how many files were dropped here; with a service running it drops them
        itself, and this returns 0.
        """
        root = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
        self._edit_roots(lambda roots: [r for r in roots if r != root])
        return self._ask(lambda c: c.forget_roots([os.fsencode(root)]))

    def _edit_roots(self, change: Callable[[list[str]], list[str]]) -> None:
        self.settings_file.change(lambda config: config.set("roots",
                                                            change(config.get("roots"))))

    def save_settings(self, changes: dict[str, Any]) -> str:
        """Store changed settings and tell the service; returns what the user should know.

        A changed model or thread count reopens the index here and restarts a running
        service, which reads them only when it starts.
        """
        self.settings_file.update(changes)
        old, self.options = self.options, self._effective_options()
        engine_changed = (old.model_dir, old.precision, old.threads) != (
            self.options.model_dir, self.options.precision, self.options.threads)
        if engine_changed:
            local = LocalIndex(self.options, readonly=False).open()
            self._local.close()
            self._local = self.documents.index = local
        if self.service == SERVICE_RUNNING and engine_changed:
            self.stop_service()
            if self.ensure_service() != SERVICE_RUNNING:
                return f"Settings saved; the background service did not restart: " \
                       f"{self.service_error}"
            return "Settings saved; the background service restarted with them."
        self._notify_service()
        return "Settings saved."

    def _migrate_legacy(self) -> None:
        """Once: take roots from the index and choices from settings.json (the GUI's
        settings before the shared config) into the config, where nothing is set yet."""
        values = self.settings_file.legacy_values(
            self.data_dir, lambda: [os.fsdecode(r) for r in self._local.roots()])
        try:
            if values:
                self.save_settings(values)
            self.settings_file.retire_legacy(self.data_dir)
        except OSError as exc:
            log.warning("could not move old settings into %s: %s", self.settings_file.path,
                        exc)

    # -- indexing -------------------------------------------------------------------------

    def index_now(self, progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> IndexReport | None:
        """Bring the index up to date with every root.  Blocks; run it off the GUI thread.

        With a service running this only asks it to rescan and returns None.  Otherwise
        indexes here, on its own connection so searches keep working meanwhile, and
        holds embedding back on battery power as the service does.  Roots
        that are missing right now (an unmounted drive) are left alone, not emptied.
        """
        if self._connect().is_service:
            self._notify_service()
            return None
        if not self._indexing.acquire(blocking=False):
            raise DeskfindError("indexing is already running")
        try:
            roots = [Path(r) for r in self.roots()]
            present = [r for r in roots if r.exists()]
            for missing in set(roots) - set(present):
                log.warning("root not found, left as it was: %s", missing)

            def report(phase: str, done: int, total: int) -> None:
                if cancel is not None and cancel.is_set():
                    raise IndexingCancelled("indexing stopped")
                if progress is not None:
                    progress(phase, done, total)

            return self._local.index(present, report, walk_rules(self.settings_file.fresh()),
                                     hold=self.embedding_hold)
        finally:
            self._indexing.release()

    def embedding_hold(self) -> str:
        """Why indexing here would hold embedding back now ("" when it would not)."""
        return embedding_pause_reason(self.settings_file.fresh().get("pause_on_battery"),
                                      self.power)

    @property
    def indexing(self) -> bool:
        return self._indexing.locked()

    # -- the background service -----------------------------------------------------------

    def ensure_service(self, timeout: float = 60.0) -> str:
        """Use a running service, or start one when there are folders to watch.

        Returns the new service state; `service_error` says why when it is not running.
        """
        state = self.launcher.ensure(bool(self.roots()), timeout)
        self.service = state
        return state

    def service_argv(self) -> list[str]:
        """The command that starts the service on this index and settings file."""
        return self.launcher.argv()

    def stop_service(self, timeout: float = 30.0) -> None:
        """Ask the service to stop and wait until it has let go of the index."""
        self.launcher.stop(timeout)
        self.service = SERVICE_STOPPED

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the service's indexing; changes keep being queued."""
        self.launcher.client.pause(paused)

    def _notify_service(self) -> None:
        if self.service == SERVICE_RUNNING:
            try:
                self.launcher.client.reload(rescan=True)
            except ipc.ServiceUnavailable as exc:
                log.warning("%s", exc)
                self.service = SERVICE_STOPPED
