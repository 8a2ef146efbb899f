"""Search-as-you-type: filters mapped onto the query syntax, debounced off-thread searches."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import date

from PySide6.QtCore import QObject, QTimer, Signal

from app.backend import Found
from engine.errors import DeskfindError
from ui.results import ResultsModel
from ui.session import Session

MARKED_RESULTS = 5  # results whose closest sentence is marked after they are shown

# Type filter choices: label → extensions (empty: any type).
FILE_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Any type", ()),
    ("PDF", ("pdf",)),
    ("Markdown", ("md", "markdown")),
    ("Plain text", ("txt", "text", "rst", "org", "log")),
    ("Code", ("py", "js", "ts", "java", "c", "h", "cpp", "go", "rs", "rb", "sh", "sql")),
    ("Data & config", ("csv", "tsv", "json", "yaml", "yml", "toml", "ini", "xml")),
)


@dataclass(frozen=True)
class Filters:
    """The filter controls' state."""

    exts: tuple[str, ...] = ()
    folder: str = ""
    after: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.exts or self.folder or self.after)


def folder_fragment(folder: str) -> str:
    """The part of `folder` a `path:` filter can carry: the query syntax splits on
    spaces, so a path with spaces is narrowed to its longest space-free stretch."""
    pieces = [p for p in re.split(r"\s+", folder.strip()) if p]
    return max(pieces, key=len) if pieces else ""


def build_query(text: str, filters: Filters) -> str:
    """The user's words plus the filters written in the query syntax."""
    parts = [text.strip()]
    if filters.exts:
        parts.append("ext:" + ",".join(filters.exts))
    fragment = folder_fragment(filters.folder)
    if fragment:
        parts.append(f"path:{fragment}")
    if filters.after is not None:
        parts.append(f"after:{filters.after.isoformat()}")
    return " ".join(p for p in parts if p)


class SearchController(QObject):
    """Turns edits into searches: waits for a pause in typing, then searches off-thread.

    Each controller has its own task key, so the main window and the quick-search popup
    never drop each other's results, and a slow search never overwrites a newer one.
    """

    searching = Signal(bool)
    finished = Signal(str, int, float)  # query, number of results, seconds
    failed = Signal(str)  # a message for the user (bad query syntax, damaged index)
    cleared = Signal()
    relaxed = Signal(str)  # what was loosened to find the shown results ("" when nothing)

    def __init__(self, session: Session, model: ResultsModel, key: str, *,
                 delay_ms: int = 200, limit: int = 50, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model
        self.key = key
        self.limit = limit
        self.text = ""
        self.mode = "hybrid"
        self.strict = False  # search the current text exactly as typed (set by a click)
        self.filters = Filters()
        self.last_query = ""
        self._started = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.run_now)
        session.index_changed.connect(self._index_changed)

    @property
    def query(self) -> str:
        return build_query(self.text, self.filters)

    def set_text(self, text: str) -> None:
        self.text = text
        self.strict = False
        self._schedule()

    def search_strictly(self) -> None:
        """Search the current text again with its phrases and exclusions as typed."""
        self.strict = True
        self._schedule(immediately=True)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self._schedule(immediately=True)

    def set_filters(self, filters: Filters) -> None:
        self.filters = filters
        self._schedule(immediately=True)

    def update_filters(self, **changes: object) -> None:
        self.set_filters(replace(self.filters, **changes))  # type: ignore[arg-type]

    def _schedule(self, immediately: bool = False) -> None:
        if not self.text.strip():
            self._timer.stop()
            self.session.runner.drop(self.key)
            self.last_query = ""
            self.model.set_results([], "")
            self.searching.emit(False)
            self.relaxed.emit("")
            self.cleared.emit()
            return
        if immediately:
            self.run_now()
        else:
            self._timer.start()

    def run_now(self) -> None:
        self._timer.stop()
        if not self.text.strip() or not self.session.ok:
            return
        query = self.query
        self._started = time.monotonic()
        self.searching.emit(True)
        self.session.search(query, self.mode, self.limit, self.key,
                            lambda found: self._done(query, found), self._failed,
                            strict=self.strict)

    def _done(self, query: str, found: Found) -> None:
        results = found.hits
        self.last_query = query
        self.relaxed.emit(found.relaxed or "")
        self.model.set_results(results, query)
        if self.mode != "lexical" and results:
            # Marking costs embeddings: shown results first, the marks a moment later.
            self.session.mark_sentences(query, results[:MARKED_RESULTS], self.key,
                                        lambda hits: self.model.mark(query, hits))
        self.searching.emit(False)
        self.finished.emit(query, len(results), time.monotonic() - self._started)

    def _failed(self, exc: BaseException) -> None:
        self.searching.emit(False)
        if not isinstance(exc, DeskfindError):
            raise exc
        self.model.set_results([], "")
        self.relaxed.emit("")
        self.failed.emit(str(exc))

    def _index_changed(self) -> None:
        if self.text.strip():
            self.run_now()
