"""Word, PowerPoint and Excel documents (DOCX, PPTX, XLSX) read from their XML parts."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from indexer.errors import ExtractionError
from indexer.formats.base import Extracted, PagedText, pick_title
from indexer.formats.zipxml import first_text, iter_closed, open_part, open_zip, read_rels

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"

# Run content that reads as text; everything else in a paragraph is formatting.
_WORD_RUNS = {_W + "t": None, _W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n",
              _W + "noBreakHyphen": "-"}
_SLIDE_RUNS = {_A + "t": None, _A + "br": "\n"}
_WORD_PARTS = ("word/document.xml", "word/footnotes.xml", "word/endnotes.xml")
MAX_SHARED_STRINGS = 2_000_000


def _runs_text(paragraph: Element, runs: dict[str, str | None]) -> str:
    """A paragraph's text from its run elements, in document order."""
    parts = []
    for elem in paragraph.iter():
        if elem.tag in runs:
            parts.append(runs[elem.tag] or elem.text or "")
    return "".join(parts)


def _paragraphs(archive: zipfile.ZipFile, part: str, tag: str,
                runs: dict[str, str | None]) -> Iterator[str]:
    """The text of each paragraph of one part; alternate renderings are skipped."""
    stream = open_part(archive, part)
    if stream is None:
        return
    with stream:
        for paragraph in iter_closed(stream, frozenset({tag}), frozenset({_MC_FALLBACK})):
            yield _runs_text(paragraph, runs)


def core_title(archive: zipfile.ZipFile) -> str | None:
    """The title from the document's core properties, if set."""
    return first_text(archive, "docProps/core.xml", _DC_TITLE)


def extract_docx(data: bytes, name: str) -> Extracted:
    """Body text of a Word document, then its footnotes and endnotes."""
    with open_zip(data, "Word") as archive:
        if "word/document.xml" not in archive.namelist():
            raise ExtractionError("not a Word document (no word/document.xml)")
        text = PagedText()
        for part in _WORD_PARTS:
            text.add_page("\n".join(_paragraphs(archive, part, _W + "p", _WORD_RUNS)))
        title = core_title(archive)
    body = text.text().strip()
    return Extracted(body, pick_title(title, body, name))


def _slide_parts(archive: zipfile.ZipFile) -> list[str]:
    """Slide members in presentation order."""
    rels = read_rels(archive, "ppt/presentation.xml")
    stream = open_part(archive, "ppt/presentation.xml")
    if stream is None:
        raise ExtractionError("not a PowerPoint document (no ppt/presentation.xml)")
    with stream:
        ids = [e.get(_R + "id", "") for e in iter_closed(stream, frozenset({_P + "sldId"}))]
    return [rels[i] for i in ids if i in rels]


def extract_pptx(data: bytes, name: str) -> Extracted:
    """Text of each slide, one page per slide."""
    with open_zip(data, "PowerPoint") as archive:
        pages = PagedText()
        for part in _slide_parts(archive):
            pages.add_page("\n".join(_paragraphs(archive, part, _A + "p", _SLIDE_RUNS)))
            if pages.full:
                break
        title = core_title(archive)
    text = pages.text()
    return Extracted(text, pick_title(title, text, name), pages.page_starts())


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    """The workbook's shared string table (cells refer to it by index)."""
    stream = open_part(archive, "xl/sharedStrings.xml")
    if stream is None:
        return []
    strings = []
    with stream:
        for item in iter_closed(stream, frozenset({_S + "si"})):
            strings.append(_string_item(item))
            if len(strings) >= MAX_SHARED_STRINGS:
                break
    return strings


def _string_item(item: Element) -> str:
    """A rich or plain string, without its phonetic guides."""
    parts = [item.findtext(_S + "t") or ""]
    parts.extend(run.findtext(_S + "t") or "" for run in item.iterfind(_S + "r"))
    return "".join(parts)


def _cell_text(cell: Element, shared: list[str]) -> str:
    """What a cell shows, roughly: its string, or its stored value."""
    kind = cell.get("t")
    if kind == "inlineStr":
        inline = cell.find(_S + "is")
        return "" if inline is None else _string_item(inline)
    value = cell.findtext(_S + "v") or ""
    if kind == "s":
        index = int(value) if value.isdigit() else -1
        return shared[index] if 0 <= index < len(shared) else ""
    return value


def _sheets(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, member) for each worksheet, in workbook order."""
    rels = read_rels(archive, "xl/workbook.xml")
    stream = open_part(archive, "xl/workbook.xml")
    if stream is None:
        raise ExtractionError("not an Excel workbook (no xl/workbook.xml)")
    with stream:
        sheets = [(e.get("name", ""), e.get(_R + "id", ""))
                  for e in iter_closed(stream, frozenset({_S + "sheet"}))]
    return [(sheet_name, rels[rid]) for sheet_name, rid in sheets if rid in rels]


def _sheet_rows(archive: zipfile.ZipFile, part: str, shared: list[str]) -> Iterator[str]:
    """Each non-empty row of a worksheet as tab-separated cell texts."""
    stream = open_part(archive, part)
    if stream is None:
        return
    with stream:
        for row in iter_closed(stream, frozenset({_S + "row"})):
            cells = [_cell_text(c, shared) for c in row.iterfind(_S + "c")]
            line = "\t".join(cells).strip()
            if line:
                yield line


def extract_xlsx(data: bytes, name: str) -> Extracted:
    """Cell text of each worksheet, one page per sheet, headed by the sheet's name."""
    with open_zip(data, "Excel") as archive:
        shared = _shared_strings(archive)
        pages = PagedText()
        for sheet_name, part in _sheets(archive):
            rows = "\n".join(_sheet_rows(archive, part, shared))
            pages.add_page(f"{sheet_name}\n{rows}" if rows else sheet_name)
            if pages.full:
                break
        title = core_title(archive)
    text = pages.text()
    return Extracted(text, pick_title(title, "", name), pages.page_starts())
