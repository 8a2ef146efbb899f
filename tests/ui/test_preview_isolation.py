"""PDF previews render in a worker process: a PDF that crashes or hangs MuPDF costs its
preview, never the window, and the next preview works."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.render import PageRenderer, RenderCancelled, RenderError, RenderRequest
from tests.ui import hostile_render
from tests.ui.conftest import PDF_PAGES
from tests.ui.test_main_window import search
from tests.ui.test_main_window import window as window  # noqa: F401 (fixture)

QUERY = "quarterly revenue"


@pytest.fixture
def renderer(window) -> Iterator[PageRenderer]:
    """The window's preview, rendering with a worker that crashes or hangs on cue."""
    r = PageRenderer(render=hostile_render.crash_or_hang, timeout_s=60)
    window.preview.renderer = r
    yield r
    r.close()


def pdf_hit(backend, corpus, path: Path | None = None):
    """The report PDF as a search result (or another file posing as it)."""
    other = backend.search("tomatoes", "lexical", 1).hits[0]
    path = path or corpus[0] / "report.pdf"
    return dataclasses.replace(other, path=bytes(path), display_path=str(path), ext="pdf",
                               page=None, title=path.name)


def copy_of_report(corpus, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(corpus[0] / "report.pdf", target)
    return target


def preview_pdf(qtbot, window, hit):
    with qtbot.waitSignal(window.preview.shown, timeout=30_000):
        window.preview.show_result(hit, QUERY)
    return window.preview.pdf_page


def preview_fails(qtbot, window, hit) -> str:
    preview = window.preview
    preview.show_result(hit, QUERY)
    qtbot.waitUntil(lambda: preview.placeholder.text().startswith("Cannot preview"),
                    timeout=30_000)
    assert preview.stack.currentWidget() is preview.placeholder
    assert preview.pdf_page is None and not preview.nav.isVisible()
    return preview.placeholder.text()


def test_mupdf_never_runs_in_the_gui_process(qtbot, window, backend, corpus,
                                             monkeypatch):
    for name in ("pymupdf", "fitz"):  # an import of either here now fails
        monkeypatch.setitem(sys.modules, name, None)
    page = preview_pdf(qtbot, window, pdf_hit(backend, corpus))
    assert (page.page, page.pages, len(page.hits)) == (2, len(PDF_PAGES), 2)
    assert window.preview.renderer.workers_started == 1


def test_a_crashing_pdf_costs_its_preview_and_the_next_one_works(
        qtbot, window, renderer, backend, corpus, tmp_path):
    hostile = copy_of_report(corpus, tmp_path, "hostile.pdf")
    assert preview_fails(qtbot, window, pdf_hit(backend, corpus, hostile)) == \
        "Cannot preview this PDF: the renderer crashed (signal 11)"
    assert search(qtbot, window, "tomatoes")[0].endswith("tomatoes.md")  # still usable
    page = preview_pdf(qtbot, window, pdf_hit(backend, corpus))
    assert (page.page, len(page.hits)) == (2, 2)
    assert renderer.workers_started == 2  # a fresh worker after the crash


def test_a_hanging_pdf_times_out_and_the_next_one_works(
        qtbot, window, renderer, backend, corpus, tmp_path):
    renderer.timeout_s = 1
    hanging = copy_of_report(corpus, tmp_path, "hanging.pdf")
    assert preview_fails(qtbot, window, pdf_hit(backend, corpus, hanging)) == \
        "Cannot preview this PDF: timed out after 1 s"
    renderer.timeout_s = 60
    assert preview_pdf(qtbot, window, pdf_hit(backend, corpus)).page == 2
    assert renderer.workers_started == 2


def test_a_corrupt_pdf_says_why_and_keeps_the_worker(
        qtbot, window, renderer, backend, corpus, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    message = preview_fails(qtbot, window, pdf_hit(backend, corpus, broken))
    assert message.startswith("Cannot preview this PDF: cannot open it")
    assert preview_pdf(qtbot, window, pdf_hit(backend, corpus)).page == 2
    assert renderer.workers_started == 1


def test_requests_nobody_waits_for_any_more_are_dropped(qtbot, corpus, tmp_path):
    """Behind a hanging page, an unwanted request gives up at once: threads never pile up."""
    hanging = copy_of_report(corpus, tmp_path, "hanging.pdf")
    good = RenderRequest(bytes(corpus[0] / "report.pdf"), None, ("revenue",))
    outcomes: dict[str, object] = {}

    def ask(name: str, request: RenderRequest, wanted=lambda: True) -> threading.Thread:
        def run() -> None:
            try:
                outcomes[name] = worker_renderer.render(request, wanted)
            except RenderError as exc:
                outcomes[name] = exc
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    worker_renderer = PageRenderer(render=hostile_render.crash_or_hang, timeout_s=60)
    try:
        stuck = ask("stuck", dataclasses.replace(good, path=bytes(hanging)))
        qtbot.waitUntil(lambda: worker_renderer.running, timeout=30_000)  # the hang has begun
        asked, still_wanted = threading.Event(), threading.Event()
        still_wanted.set()

        def old_wanted() -> bool:
            asked.set()
            return still_wanted.is_set()

        old = ask("old", good, old_wanted)
        qtbot.waitUntil(asked.is_set)  # "old" has found the worker busy and waits
        still_wanted.clear()
        new = ask("new", good)  # its arrival wakes "old", which is no longer wanted
        old.join()
        assert isinstance(outcomes["old"], RenderCancelled)
        worker_renderer.close()  # kills the hanging render; "new" then gets a fresh worker
        stuck.join()
        new.join()
        assert str(outcomes["stuck"]) == "the renderer crashed (signal 9)"
        assert outcomes["new"].page == 2  # type: ignore[attr-defined]
        assert worker_renderer.workers_started == 2
    finally:
        worker_renderer.close()
