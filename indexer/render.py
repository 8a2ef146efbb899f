"""PDF pages rendered in a worker process, so a hostile file costs a preview, not the GUI.

The preview pane asks for a page and gets plain data back: the page number, the page
count, the RGB pixels and the hit rectangles in image pixels.  MuPDF runs only in a
process started with 'spawn' (never forked from the GUI, whose threads and locks a
child must not inherit), with its address space capped and a deadline per page; a
worker that crashes, hangs or runs out of memory is killed and the next page starts a
fresh one.  Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.errors import ExtractionError, IndexerError
from indexer.formats import ocr
from indexer.workers import WorkerProcess, death_reason

log = logging.getLogger("deskfind.indexer.render")

DEFAULT_TIMEOUT_S = 60.0  # one page (read by OCR, maybe), or the search for a page with a hit
DEFAULT_MEMORY_BYTES = 2 * 1024**3
MAX_PAGES_SCANNED = 300  # pages searched for a hit when the request names no page
MAX_PIXELS = 16_000_000  # a poster-sized page is drawn smaller rather than exhaust memory


class RenderError(IndexerError):
    """A page cannot be shown; the message says why, in a few words."""


class RenderCancelled(RenderError):
    """The request was no longer wanted by the time the worker was free."""


@dataclass(frozen=True)
class RenderRequest:
    path: bytes
    page: int | None  # 1-based; None: the first page with a hit
    terms: tuple[str, ...]  # words and phrases to box
    zoom: float = 2.0
    exact: bool = False  # show `page` itself, not the first page from it with a hit
    ocr: bool = False  # read a page without a text layer (or an image) by OCR


@dataclass(frozen=True)
class RenderedPage:
    page: int  # 1-based
    pages: int
    width: int
    height: int
    stride: int  # bytes per row of `samples`
    samples: bytes  # RGB, 8 bits a channel, no alpha
    hits: tuple[tuple[float, float, float, float], ...]  # x, y, width, height in pixels
    words: tuple[tuple[float, float, float, float], ...] = ()  # recognised by OCR, ditto


Render = Callable[[RenderRequest], RenderedPage]


def render_page(request: RenderRequest) -> RenderedPage:
    """Render one page with MuPDF (call it in a worker: MuPDF can crash on bad files).

    Shows the first page from `request.page` on (the page the best passage starts on)
    that has a hit, since a passage can run onto the next page; else that page itself.
    """
    pymupdf = _mupdf()
    image: bytes | None = None
    try:
        if _is_image(request.path):
            with open(request.path, "rb") as fh:
                doc, image = ocr.open_document(fh.read(), os.fsdecode(request.path))
        else:
            doc = pymupdf.open(os.fsdecode(request.path))
    except ExtractionError as exc:
        raise RenderError(str(exc)) from exc
    except (RuntimeError, ValueError, OSError) as exc:
        raise RenderError(_reason(exc, "cannot open it")) from exc
    with doc:
        if doc.page_count == 0:
            raise RenderError("it has no pages")
        try:
            return _render(pymupdf, doc, request, image)
        except RuntimeError as exc:  # MuPDF's errors for damaged content
            raise RenderError(_reason(exc, "cannot draw the page")) from exc


def _is_image(path: bytes) -> bool:
    return os.fsdecode(path).rsplit(".", 1)[-1].lower() in ocr.IMAGE_EXTS


def _render(pymupdf: Any, doc: Any, request: RenderRequest,
            image: bytes | None = None) -> RenderedPage:
    start = request.page or 1
    number = ((request.page if request.exact else None)
              or (None if request.ocr else _first_page_with_hit(doc, request.terms, start))
              or start)
    number = max(1, min(number, doc.page_count))
    page = doc[number - 1]
    textpage = _ocr_textpage(page, image) if request.ocr else None
    rects = [r for t in request.terms for r in page.search_for(t, textpage=textpage)]
    words = [] if textpage is None else \
        [pymupdf.Rect(w[:4]) for w in page.get_text("words", textpage=textpage)]
    area = max(page.rect.width * page.rect.height, 1.0)
    zoom = min(request.zoom, (MAX_PIXELS / area) ** 0.5)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False,
                          colorspace=pymupdf.csRGB)

    def scaled(rects: Sequence[Any]) -> tuple[tuple[float, float, float, float], ...]:
        return tuple((r.x0 * zoom, r.y0 * zoom, r.width * zoom, r.height * zoom)
                     for r in rects)
    return RenderedPage(number, doc.page_count, pix.width, pix.height, pix.stride,
                        bytes(pix.samples), scaled(rects), scaled(words))


def _ocr_textpage(page: Any, image: bytes | None) -> Any:
    """The page read by OCR when it has no text layer (None when it has one, or when
    Tesseract's data is missing: the page is shown without boxes then)."""
    if image is None and page.get_text("text").strip():
        return None
    tessdata = ocr.find_tessdata()
    return None if tessdata is None else ocr.ocr_textpage(page, image, tessdata)


def _first_page_with_hit(doc: Any, terms: Sequence[str], start: int) -> int | None:
    last = min(doc.page_count, start - 1 + MAX_PAGES_SCANNED)
    for number in range(max(1, start), last + 1):
        if any(doc[number - 1].search_for(t) for t in terms):
            return number
    return None


def _mupdf() -> Any:
    try:
        import pymupdf
    except ImportError as exc:  # pragma: no cover - a packaging problem
        raise RenderError("PDF previews need PyMuPDF: pip install pymupdf") from exc
    pymupdf.TOOLS.mupdf_display_errors(False)  # the reason travels back instead
    pymupdf.TOOLS.mupdf_display_warnings(False)
    return pymupdf


def _reason(exc: Exception, what: str) -> str:
    message = str(exc).strip() or type(exc).__name__
    return f"{what} ({message[:160]})"


# -- the worker process -------------------------------------------------------------------

def _run_job(job: tuple[Render, RenderRequest]) -> tuple[object, ...]:
    """("ok", page), ("error", reason) or ("bug", reason, traceback)."""
    render, request = job
    try:
        return ("ok", render(request))
    except RenderError as exc:
        return ("error", str(exc))
    except MemoryError:
        return ("error", "out of memory")
    except Exception as exc:
        return ("bug", f"{type(exc).__name__}: {exc}"[:300], traceback.format_exc())


def _start_failed(code: int | None) -> RenderError:
    return RenderError(f"the renderer did not start (exit status {code})")


class PageRenderer:
    """Renders pages in one worker process, started on first use and after each death.

    Safe to call from several threads: one page renders at a time, and a request that
    waits while another renders is dropped (`RenderCancelled`) once its `wanted()`
    says no, so a queue of pages nobody looks at any more never builds up.
    """

    def __init__(self, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 memory_bytes: int = DEFAULT_MEMORY_BYTES, render: Render = render_page,
                 start_method: str = "spawn") -> None:
        if timeout_s <= 0:
            raise ValueError("need timeout_s > 0")
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self._render = render  # travels to the worker by reference (module + name)
        self._context = multiprocessing.get_context(start_method)
        self._worker: WorkerProcess | None = None
        self._busy = False
        self._turn = threading.Condition()
        self.workers_started = 0

    @property
    def running(self) -> bool:
        """Whether a worker process is up."""
        return self._worker is not None

    def render(self, request: RenderRequest,
               wanted: Callable[[], bool] = lambda: True) -> RenderedPage:
        """The page, rendered in the worker; RenderError says why it cannot be."""
        with self._turn:
            self._turn.notify_all()  # waiting requests: ask yourselves if still wanted
            while self._busy and wanted():
                self._turn.wait()
            if not wanted():
                raise RenderCancelled("a newer page was asked for")
            self._busy = True
        try:
            return self._render_now(request)
        finally:
            with self._turn:
                self._busy = False
                self._turn.notify_all()

    def close(self) -> None:
        """Stop the worker; one busy rendering is killed and its request fails."""
        with self._turn:
            worker = self._worker
            if worker is None:
                return
            if self._busy:  # its thread sees the pipe close and reaps it
                worker.process.kill()
                return
            self._worker = None
        worker.stop()

    def _render_now(self, request: RenderRequest) -> RenderedPage:
        worker = self._ready_worker()
        try:
            worker.conn.send((self._render, request))
            if not worker.conn.poll(self.timeout_s):
                self._discard(kill=True)
                raise RenderError(f"timed out after {self.timeout_s:g} s")
            answer = worker.conn.recv()
        except (EOFError, OSError):
            raise RenderError(death_reason(self._discard(kill=False), "the renderer")) \
                from None
        status, payload = answer[0], answer[1]
        if status == "ok" and isinstance(payload, RenderedPage):
            return payload
        if payload == "out of memory":
            self._retire()  # a fresh process gives back what MuPDF held on to
        if status == "bug":
            log.error("rendering %r failed: %s\n%s", request.path, payload, answer[2])
        raise RenderError(str(payload))

    def _ready_worker(self) -> WorkerProcess:
        if self._worker is None:
            worker = WorkerProcess(self._context, self.memory_bytes, _run_job,
                                   "deskfind-render", _start_failed)
            with self._turn:
                self._worker = worker
            self.workers_started += 1
        return self._worker

    def _retire(self) -> None:
        with self._turn:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def _discard(self, *, kill: bool) -> int | None:
        with self._turn:
            worker, self._worker = self._worker, None
        if worker is None:
            return None
        return worker.kill() if kill else worker.reap()
