"""Text read off page images by OCR: scanned PDF pages and image files.

The engine is the Tesseract built into MuPDF (PyMuPDF's `get_textpage_ocr`), which
needs only Tesseract's language data on disk (Debian `tesseract-ocr-eng`, 4 MB); the
measurements behind the choice are in docs/ocr.md. Like every MuPDF call this runs in
the extraction worker (`indexer.isolation`), one page per job, so a page that hangs
costs its own time budget and no more.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Any

from indexer.errors import ExtractionError
from indexer.formats.base import MAX_PAGES, clean_title
from indexer.formats.paged import NO_TEXT_LAYER, _open, _read_pages, meaningful_title

__all__ = ["IMAGE_EXTS", "INSTALL_HINT", "NO_TEXT_LAYER", "OcrPage", "OcrPlan",
           "find_tessdata", "ocr_page", "plan_ocr"]

IMAGE_EXTS = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "webp"})
MAX_OCR_PAGES = 500  # per file: a scanned book of thousands of pages would take hours
LANGUAGE = "eng"
PDF_DPI = 300  # scanned PDF pages are drawn at this resolution for Tesseract
MIN_IMAGE_DPI, MAX_IMAGE_DPI = 150, 300  # an image is read at its own resolution, in these
INSTALL_HINT = ("OCR needs Tesseract's English data: apt-get install tesseract-ocr-eng "
                "(or set TESSDATA_PREFIX to a folder holding eng.traineddata)")

# Where distributions put Tesseract's language data.
_TESSDATA_GLOBS = ("/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata",
                   "/usr/local/share/tessdata", "/usr/local/share/tesseract-ocr/*/tessdata",
                   "/opt/homebrew/share/tessdata")


def find_tessdata() -> str | None:
    """The folder holding Tesseract's English data, or None when it is not installed.

    TESSDATA_PREFIX, when set, is the only place looked at (so it can also switch OCR
    off). PyMuPDF's own lookup runs `tesseract` through a shell; this only reads folders.
    """
    chosen = os.environ.get("TESSDATA_PREFIX")
    candidates = [chosen] if chosen else sorted(
        (path for pattern in _TESSDATA_GLOBS for path in glob.glob(pattern)), reverse=True)
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, f"{LANGUAGE}.traineddata")):
            return folder
    return None


@dataclass(frozen=True)
class OcrPlan:
    """What a document needs read by OCR: its text-layer text per page, the 1-based
    pages without any, its page count and its title."""

    texts: tuple[str, ...]
    todo: tuple[int, ...]
    title: str


Word = tuple[float, float, float, float, str]  # x0, y0, x1, y1 in page points, text


@dataclass(frozen=True)
class OcrPage:
    """One page as OCR read it: its text and every word recognised, with its box."""

    text: str
    words: tuple[Word, ...]


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else "pdf"


def _image_bytes(data: bytes, ext: str) -> tuple[bytes, str]:
    """An image MuPDF can open: WebP (which MuPDF cannot read) is decoded by Pillow into
    PNG, with its frame count and pixel limits kept by Pillow's own checks."""
    if ext != "webp":
        return data, {"jpeg": "jpg", "tif": "tiff"}.get(ext, ext)
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - a packaging problem
        raise ExtractionError("WebP images need Pillow: pip install pillow") from exc
    import io
    try:
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, "PNG")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExtractionError(f"cannot read as .webp: {str(exc)[:160]}") from exc
    return out.getvalue(), "png"


def _document(data: bytes, name: str) -> tuple[Any, bytes | None]:
    """The document opened by MuPDF, and for an image the bytes it was opened from."""
    ext = _ext(name)
    if ext not in IMAGE_EXTS:
        return _open(data, ext), None
    data, kind = _image_bytes(data, ext)
    return _open(data, kind), data


def plan_ocr(data: bytes, name: str) -> OcrPlan:
    """The pages of a PDF (or frames of an image) that have no text layer."""
    doc, image = _document(data, name)
    try:
        if image is not None:
            _first_page(doc, name)
            count = min(doc.page_count, MAX_PAGES)
            return OcrPlan(("",) * count, tuple(range(1, min(count, MAX_OCR_PAGES) + 1)), "")
        pages = _read_pages(doc)
        texts, todo = pages.page_texts(), pages.blank_pages()[:MAX_OCR_PAGES]
        title = meaningful_title((doc.metadata or {}).get("title"), name)
        return OcrPlan(texts, todo, clean_title(title))
    finally:
        doc.close()


def _first_page(doc: Any, name: str) -> None:
    """Refuse an image MuPDF cannot decode (it opens lazily, failing at the page)."""
    try:
        doc.load_page(0)
    except MemoryError:
        raise
    except Exception as exc:  # MuPDF's FzError* types for damaged images
        raise ExtractionError(f"cannot read the image: {str(exc)[:160]}") from exc


def ocr_page(data: bytes, name: str, *, number: int, tessdata: str) -> OcrPage:
    """Page `number` (1-based) of a document or image, read by Tesseract."""
    doc, image = _document(data, name)
    try:
        page = doc.load_page(number - 1)
        textpage = ocr_textpage(page, image, tessdata)
        text = _page_text_of(page, textpage)
        words = tuple((float(w[0]), float(w[1]), float(w[2]), float(w[3]), str(w[4]))
                      for w in page.get_text("words", textpage=textpage))
    except MemoryError:
        raise
    except Exception as exc:  # MuPDF's and Tesseract's errors (FzError*, RuntimeError)
        raise ExtractionError(f"OCR of page {number} failed: {str(exc)[:160]}") from exc
    finally:
        doc.close()
    return OcrPage(text, words)


def ocr_textpage(page: Any, image: bytes | None, tessdata: str) -> Any:
    """MuPDF's text page of `page` as Tesseract reads it (`image`: the bytes of an
    image document, None for a PDF page)."""
    return page.get_textpage_ocr(full=True, dpi=_dpi(image, page), language=LANGUAGE,
                                 tessdata=tessdata)


def open_document(data: bytes, name: str) -> tuple[Any, bytes | None]:
    """A PDF or image opened by MuPDF (WebP through Pillow), and an image's bytes."""
    return _document(data, name)


def _page_text_of(page: Any, textpage: Any) -> str:
    text = page.get_text("text", textpage=textpage)
    return str(text).encode("utf-8", "replace").decode("utf-8").replace("\x00", "").strip()


def _dpi(image: bytes | None, page: Any) -> int:
    """The resolution to draw a page at for Tesseract: a PDF's at PDF_DPI; an image's
    at its own pixel size, raised to MIN_IMAGE_DPI so small screenshot text gets big
    enough to read."""
    if image is None:
        return PDF_DPI
    import pymupdf
    try:
        width_px = pymupdf.Pixmap(image).width
    except (RuntimeError, ValueError):
        return MIN_IMAGE_DPI
    native = width_px / max(page.rect.width, 1.0) * 72.0
    return int(max(MIN_IMAGE_DPI, min(MAX_IMAGE_DPI, native)))


