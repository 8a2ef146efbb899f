"""PDF, XPS, EPUB, FB2, MOBI and SVG through PyMuPDF, page by page.

MuPDF is native code that can crash or hang on hostile files, so these extractors are
meant to run in a worker process (`indexer.isolation`); here they only turn library
errors into `ExtractionError`s and keep giant documents bounded.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from indexer.errors import ExtractionError
from indexer.formats.base import (
    MAX_PAGES,
    MAX_TITLE_CHARS,
    Extracted,
    Extractor,
    PagedText,
    clean_title,
    pick_title,
)

NO_TEXT_LAYER = "no text layer (scanned or image-only pages?)"

# MuPDF's names for the formats, where they differ from the extension.
_FILETYPES = {"pdf": "pdf", "xps": "xps", "oxps": "xps", "epub": "epub", "fb2": "fb2",
              "mobi": "mobi", "svg": "svg"}


def _mupdf() -> ModuleType:
    """The pymupdf module, quiet on stderr, or an error saying what to install."""
    try:
        import pymupdf
    except ImportError as exc:  # pragma: no cover - a packaging problem
        raise ExtractionError("PDF and e-book support needs PyMuPDF: "
                              "pip install pymupdf") from exc
    # Damaged files make MuPDF print to stderr; the reason is recorded instead.
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    return pymupdf


def _library_error(exc: Exception, what: str) -> ExtractionError:
    """An ExtractionError for an exception raised inside MuPDF."""
    message = str(exc).strip() or type(exc).__name__
    if "malloc" in message or "out of memory" in message.lower():
        return ExtractionError("out of memory")
    return ExtractionError(f"{what}: {message[:200]}")


def _open(data: bytes, ext: str) -> Any:
    """A MuPDF document opened from memory; encrypted ones are refused."""
    pymupdf = _mupdf()
    try:
        doc = pymupdf.open(stream=data, filetype=_FILETYPES.get(ext, ext))
    except MemoryError:
        raise
    except Exception as exc:  # MuPDF raises several types for damaged files
        raise _library_error(exc, f"cannot open as .{ext}") from exc
    if doc.needs_pass:  # MuPDF already tried the empty password
        doc.close()
        raise ExtractionError("encrypted (password required)")
    return doc


def _page_text(doc: Any, number: int, flags: int) -> str:
    """One page's text; a damaged page reads as empty so later pages keep their numbers."""
    try:
        text = doc.load_page(number).get_text("text", flags=flags)
    except MemoryError:
        raise
    except Exception as exc:
        error = _library_error(exc, "")
        if str(error) == "out of memory":
            raise error from exc
        return ""
    # Broken font encodings can yield lone surrogates, which SQLite cannot store.
    return str(text).encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _read_pages(doc: Any) -> PagedText:
    """The text of the first MAX_PAGES pages, up to the text size limit."""
    pymupdf = _mupdf()
    flags = pymupdf.TEXTFLAGS_TEXT | pymupdf.TEXT_DEHYPHENATE
    try:
        count = min(doc.page_count, MAX_PAGES)
    except Exception as exc:
        raise _library_error(exc, "cannot count pages") from exc
    pages = PagedText()
    for number in range(count):
        text = _page_text(doc, number, flags).strip()
        pages.add_page(text, scanned=not text and _has_image(doc, number))
        if pages.full:
            break
    return pages


def _has_image(doc: Any, number: int) -> bool:
    """Whether a page shows a picture (a scan would), so OCR may find text on it; a page
    that is truly blank has none."""
    try:
        return bool(doc.load_page(number).get_images(full=False))
    except MemoryError:
        raise
    except Exception:  # a damaged page: nothing to read on it either
        return False


# Titles that tools write for the user, which name no document: "Untitled", "Microsoft
# Word - report.doc", "Slide 1", a bare file name.
_TOOL_TITLE = re.compile(
    r"^(untitled(\s+document)?(\s*\d+)?|document\s*\d*|slide\s*\d*|title|"
    r"microsoft\s+\w+\s+-\s+.*|.*\.(docx?|pdf|tex|dvi|ps|rtf|odt|indd|qxd|pptx?|xlsx?|"
    r"pages|txt|html?))$", re.I)


def meaningful_title(metadata_title: str | None, name: str) -> str:
    """A metadata title worth showing, or '' when a tool made it up."""
    title = clean_title(metadata_title)
    if not title or _TOOL_TITLE.match(title) or not re.search(r"[^\W\d_]{2}", title):
        return ""
    if title.lower() in (name.lower(), name.rsplit(".", 1)[0].lower()):
        return ""
    return title


def largest_text_line(page_dict: dict[str, Any]) -> str:
    """The text set in the largest font on a page (joined when it runs over lines), as
    PyMuPDF's get_text("dict") describes the page; '' when nothing stands out from the
    body text (the size most characters are set in)."""
    lines: list[tuple[float, int, str]] = []  # (font size, block, text)
    for number, block in enumerate(page_dict.get("blocks", ())):
        for line in block.get("lines", ()):
            spans = [span for span in line.get("spans", ()) if span.get("text", "").strip()]
            text = " ".join(" ".join(span["text"].split()) for span in spans)
            if spans and re.search(r"[^\W\d_]{2}", text):
                lines.append((max(float(span.get("size", 0)) for span in spans), number, text))
    if not lines:
        return ""
    top = max(size for size, _, _ in lines)
    chars: dict[float, int] = {}
    for size, _, text in lines:
        chars[round(size, 1)] = chars.get(round(size, 1), 0) + len(text)
    if top <= max(chars, key=lambda size: chars[size]) + _SIZE_SLACK:
        return ""
    first_block = next(block for size, block, _ in lines if size >= top - _SIZE_SLACK)
    title = " ".join(text for size, block, text in lines
                     if block == first_block and size >= top - _SIZE_SLACK)
    return title if len(title) <= MAX_TITLE_CHARS else ""


_SIZE_SLACK = 0.5  # points: one heading set in one size reads back within this


def _first_page_title(doc: Any) -> str:
    try:
        return largest_text_line(doc.load_page(0).get_text("dict"))
    except MemoryError:
        raise
    except Exception:  # a damaged first page: the title falls back to the text
        return ""


def extract_paged(data: bytes, name: str) -> Extracted:
    """Text of a PDF, XPS, EPUB, FB2, MOBI or SVG document, with page offsets.

    Titled by the metadata title when it is one (see `meaningful_title`), else by the
    largest text on the first page, else by the first line."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "pdf"
    doc = _open(data, ext)
    try:
        pages = _read_pages(doc)
        title = meaningful_title((doc.metadata or {}).get("title"), name)
        if not title and doc.page_count:
            title = _first_page_title(doc)
    finally:
        doc.close()
    text = pages.text()
    if not text.strip():
        raise ExtractionError(NO_TEXT_LAYER)
    return Extracted(text, pick_title(title, text, name), pages.page_starts(),
                     blank_pages=pages.blank_pages())


EXTRACTORS: dict[str, Extractor] = {ext: extract_paged for ext in _FILETYPES}
