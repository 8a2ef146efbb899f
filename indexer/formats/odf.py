"""OpenDocument text, spreadsheets and presentations (ODT, ODS, ODP) from content.xml."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from indexer.errors import ExtractionError
from indexer.formats.base import Extracted, PagedText, pick_title
from indexer.formats.zipxml import first_text, iter_closed, open_part, open_zip

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"

_PARAGRAPHS = frozenset({_TEXT + "p", _TEXT + "h"})
_BREAKS = {_TEXT + "tab": "\t", _TEXT + "line-break": "\n"}
# Deleted text kept for change tracking is not the document's text.
_SKIPPED = frozenset({_TEXT + "tracked-changes"})
_NOTE_MARK = _TEXT + "note-citation"  # a footnote's number, not words
_MAX_SPACES = 64


def paragraph_text(paragraph: Element) -> str:
    """A paragraph's text, with ODF's space, tab and line-break elements expanded."""
    parts: list[str] = []
    pending: list[Element | str] = [paragraph]
    while pending:  # iterative: hostile files nest spans deeply
        item = pending.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        parts.append(_element_head(item))
        for child in reversed(list(item)):
            if child.tail:
                pending.append(child.tail)
            if child.tag != _NOTE_MARK:
                pending.append(child)
    return "".join(parts)


def _element_head(elem: Element) -> str:
    """The text an element contributes before its children."""
    if elem.tag == _TEXT + "s":
        count = elem.get(_TEXT + "c", "1")
        return " " * min(int(count) if count.isdigit() else 1, _MAX_SPACES)
    return _BREAKS.get(elem.tag) or elem.text or ""


def _content(archive: zipfile.ZipFile, wanted: frozenset[str]) -> Iterator[Element]:
    """Elements of content.xml with the given tags, each as it closes."""
    stream = open_part(archive, "content.xml")
    if stream is None:
        raise ExtractionError("not an OpenDocument file (no content.xml)")
    with stream:
        yield from iter_closed(stream, wanted, _SKIPPED)


def _title(archive: zipfile.ZipFile) -> str | None:
    return first_text(archive, "meta.xml", _DC_TITLE)


def extract_odt(data: bytes, name: str) -> Extracted:
    """Paragraphs and headings of an OpenDocument text."""
    with open_zip(data, "OpenDocument") as archive:
        lines = [paragraph_text(p) for p in _content(archive, _PARAGRAPHS)]
        title = _title(archive)
    text = "\n".join(lines).strip()
    return Extracted(text, pick_title(title, text, name))


def extract_odp(data: bytes, name: str) -> Extracted:
    """Text of each slide of an OpenDocument presentation, one page per slide."""
    wanted = _PARAGRAPHS | {_DRAW + "page"}
    with open_zip(data, "OpenDocument") as archive:
        pages, lines = PagedText(), []
        for elem in _content(archive, wanted):
            if elem.tag != _DRAW + "page":
                lines.append(paragraph_text(elem))
                continue
            pages.add_page("\n".join(lines))
            lines.clear()
            if pages.full:
                break
        title = _title(archive)
    text = pages.text()
    return Extracted(text, pick_title(title, text, name), pages.page_starts())


def _row_text(row: Element) -> str:
    """A table row as tab-separated cell texts (repeated empty cells are not expanded)."""
    cells = []
    for cell in row:
        if cell.tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell"):
            cells.append(" ".join(paragraph_text(p) for p in cell if p.tag in _PARAGRAPHS))
    return "\t".join(cells).strip()


def extract_ods(data: bytes, name: str) -> Extracted:
    """Cell text of each sheet of an OpenDocument spreadsheet, one page per sheet."""
    wanted = frozenset({_TABLE + "table-row", _TABLE + "table"})
    with open_zip(data, "OpenDocument") as archive:
        pages, rows = PagedText(), []
        for elem in _content(archive, wanted):
            if elem.tag == _TABLE + "table-row":
                line = _row_text(elem)
                if line:
                    rows.append(line)
                continue
            sheet = elem.get(_TABLE + "name", "")
            pages.add_page("\n".join([sheet, *rows]).strip())
            rows.clear()
            if pages.full:
                break
        title = _title(archive)
    text = pages.text()
    return Extracted(text, pick_title(title, "", name), pages.page_starts())
