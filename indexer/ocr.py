"""Reading a document's image-only pages by OCR, page by page in the extraction worker.

The indexer defers files that need OCR (images, PDFs with pages lacking a text layer)
until every other file of the scan is written, so keyword search of ordinary files
never waits for it (phase 1.5). Each page is one job with its own deadline: a page that
hangs Tesseract costs that page's budget, is left empty and the next page proceeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from indexer.errors import ExtractionError
from indexer.formats.base import Extracted, PagedText, name_title, pick_title
from indexer.formats.ocr import (
    IMAGE_EXTS,
    INSTALL_HINT,
    NO_TEXT_LAYER,
    OcrPage,
    OcrPlan,
    find_tessdata,
    ocr_page,
    plan_ocr,
)
from indexer.isolation import ExtractionPool

log = logging.getLogger("deskfind.indexer.ocr")

DEFAULT_PAGE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class OcrSettings:
    """OCR switched on, and each page's time budget."""

    page_timeout_s: float = DEFAULT_PAGE_TIMEOUT_S


DEFAULT_OCR = OcrSettings()


def wants_ocr(ext: str) -> bool:
    """Whether files of this extension are read by OCR alone (images)."""
    return ext in IMAGE_EXTS


def unavailable_reason() -> str | None:
    """Why OCR cannot run on this machine (its language data is missing), or None."""
    return None if find_tessdata() else INSTALL_HINT


def read_with_ocr(pool: ExtractionPool, data: bytes, name: str,
                  settings: OcrSettings) -> Extracted:
    """A document's text with its image-only pages read by OCR; `ocr_pages` names them.

    Raises ExtractionError when neither the text layer nor OCR found any text.
    """
    tessdata = find_tessdata()
    if tessdata is None:
        raise ExtractionError(INSTALL_HINT)
    plan = pool.call(plan_ocr, data, name)
    assert isinstance(plan, OcrPlan)
    texts = list(plan.texts)
    read: list[int] = []
    for number in plan.todo:
        try:
            page = pool.call(partial(ocr_page, number=number, tessdata=tessdata), data, name,
                             timeout_s=settings.page_timeout_s)
        except ExtractionError as exc:  # this page only: the others may still read
            log.info("OCR of %s page %d: %s", name, number, exc)
            continue
        assert isinstance(page, OcrPage)
        if page.text:
            texts[number - 1] = page.text
            read.append(number)
    pages = PagedText()
    for text in texts:
        pages.add_page(text)
    text = pages.text()
    if not text.strip():  # images that hold no words, or a PDF with nothing on it
        raise ExtractionError("OCR found no text" if plan.todo else NO_TEXT_LAYER)
    if name.rsplit(".", 1)[-1].lower() in IMAGE_EXTS and len(texts) == 1:
        return Extracted(text, name_title(name), ocr_pages=(1,))
    return Extracted(text, pick_title(plan.title, text, name), pages.page_starts(),
                     ocr_pages=tuple(read))
