"""Small real documents of every supported format, built in memory for tests."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

import pymupdf

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
_P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
_S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_RELS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
_ODF = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"')


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    """A deflated zip archive holding `members`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def pdf(pages: list[str], title: str = "", **save: object) -> bytes:
    """A PDF with one line of text per page (save options go to Document.tobytes)."""
    doc = pymupdf.open()
    for text in pages:
        doc.new_page().insert_text((72, 72), text)
    if title:
        doc.set_metadata({"title": title})
    data: bytes = doc.tobytes(**save)
    doc.close()
    return data


def _core(title: str) -> str:
    return ('<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{escape(title)}</dc:title></cp:coreProperties>")


def docx(paragraphs: list[str], title: str = "") -> bytes:
    """A Word document whose body is `paragraphs`."""
    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    members: dict[str, str | bytes] = {
        "word/document.xml": f"<w:document {_W}><w:body>{body}</w:body></w:document>"}
    if title:
        members["docProps/core.xml"] = _core(title)
    return zip_bytes(members)


def _rels(targets: list[str]) -> str:
    rels = "".join(f'<Relationship Id="rId{i}" Target="{t}" Type="x"/>'
                   for i, t in enumerate(targets, 1))
    return f"<Relationships {_RELS}>{rels}</Relationships>"


def pptx(slides: list[str], title: str = "") -> bytes:
    """A presentation with one text paragraph per slide."""
    ids = "".join(f'<p:sldId id="{256 + i}" r:id="rId{i}"/>' for i in range(1, len(slides) + 1))
    members: dict[str, str | bytes] = {
        "ppt/presentation.xml": f"<p:presentation {_P} {_R}><p:sldIdLst>{ids}</p:sldIdLst>"
                                "</p:presentation>",
        "ppt/_rels/presentation.xml.rels":
            _rels([f"slides/slide{i}.xml" for i in range(1, len(slides) + 1)]),
    }
    for i, text in enumerate(slides, 1):
        members[f"ppt/slides/slide{i}.xml"] = (
            f"<p:sld {_P} {_A}><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r>"
            f"<a:t>{escape(text)}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld>"
            "</p:sld>")
    if title:
        members["docProps/core.xml"] = _core(title)
    return zip_bytes(members)


def xlsx(rows: list[list[str]], sheet: str = "Data") -> bytes:
    """A workbook with one sheet; text cells go through the shared string table."""
    shared = [cell for row in rows for cell in row]
    strings = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
    cells, n = [], 0
    for row in rows:
        row_cells = "".join(f'<c t="s"><v>{n + i}</v></c>' for i in range(len(row)))
        n += len(row)
        cells.append(f"<row>{row_cells}</row>")
    return zip_bytes({
        "xl/workbook.xml": f'<workbook {_S} {_R}><sheets><sheet name="{sheet}" sheetId="1" '
                           'r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": _rels(["worksheets/sheet1.xml"]),
        "xl/sharedStrings.xml": f"<sst {_S}>{strings}</sst>",
        "xl/worksheets/sheet1.xml": f"<worksheet {_S}><sheetData>{''.join(cells)}"
                                    "</sheetData></worksheet>",
    })


def _odf(body: str, title: str, mimetype: str) -> bytes:
    members: dict[str, str | bytes] = {
        "mimetype": mimetype,
        "content.xml": f"<office:document-content {_ODF}><office:body>{body}</office:body>"
                       "</office:document-content>",
    }
    if title:
        members["meta.xml"] = (f"<office:document-meta {_ODF}><office:meta><dc:title>"
                               f"{escape(title)}</dc:title></office:meta>"
                               "</office:document-meta>")
    return zip_bytes(members)


def odt(paragraphs: list[str], title: str = "") -> bytes:
    """An OpenDocument text; `<s/>` in a paragraph becomes ODF's space element."""
    body = "".join("<text:p>" + escape(p).replace("&lt;s/&gt;", '<text:s text:c="1"/>') +
                   "</text:p>" for p in paragraphs)
    return _odf(f"<office:text>{body}</office:text>", title,
                "application/vnd.oasis.opendocument.text")


def odp(slides: list[str], title: str = "") -> bytes:
    """An OpenDocument presentation with one paragraph per slide."""
    pages = "".join(f"<draw:page><draw:frame><draw:text-box><text:p>{escape(s)}</text:p>"
                    "</draw:text-box></draw:frame></draw:page>" for s in slides)
    return _odf(f"<office:presentation>{pages}</office:presentation>", title,
                "application/vnd.oasis.opendocument.presentation")


def ods(rows: list[list[str]], sheet: str = "Sheet1") -> bytes:
    """An OpenDocument spreadsheet with one sheet."""
    cells = "".join("<table:table-row>" + "".join(
        f"<table:table-cell><text:p>{escape(c)}</text:p></table:table-cell>" for c in row) +
        "</table:table-row>" for row in rows)
    return _odf(f'<office:spreadsheet><table:table table:name="{sheet}">{cells}'
                "</table:table></office:spreadsheet>", "",
                "application/vnd.oasis.opendocument.spreadsheet")


def epub(chapters: list[str], title: str) -> bytes:
    """A minimal EPUB 2 book with one XHTML file per chapter."""
    items = "".join(f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
                    for i in range(len(chapters)))
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    members: dict[str, str | bytes] = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml":
            '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="book.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        "book.opf":
            '<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<dc:title>{escape(title)}</dc:title><dc:identifier id="id">x</dc:identifier>'
            f"</metadata><manifest>{items}</manifest><spine>{spine}</spine></package>",
    }
    for i, text in enumerate(chapters):
        members[f"c{i}.xhtml"] = ('<html xmlns="http://www.w3.org/1999/xhtml"><head><title>c'
                                  f"</title></head><body><p>{escape(text)}</p></body></html>")
    return zip_bytes(members)


def fb2(paragraph: str, title: str) -> bytes:
    """A FictionBook 2 e-book with one paragraph."""
    return ('<?xml version="1.0" encoding="utf-8"?><FictionBook xmlns='
            '"http://www.gribuser.ru/xml/fictionbook/2.0"><description><title-info>'
            f"<book-title>{escape(title)}</book-title></title-info></description><body>"
            f"<section><p>{escape(paragraph)}</p></section></body></FictionBook>").encode()


def text_image(lines: list[str], *, dpi: int = 96, fmt: str = "png",
               fontsize: float = 12) -> bytes:
    """An image of text set on a page, like a screenshot (PNG, JPEG; TIFF and WebP
    through Pillow), `dpi` pixels to the inch."""
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=40 + 22 * len(lines))
    for n, line in enumerate(lines):
        page.insert_text((24, 32 + 22 * n), line, fontsize=fontsize)
    pix = page.get_pixmap(dpi=dpi)
    doc.close()
    if fmt in ("png", "jpg", "jpeg"):
        return bytes(pix.tobytes(fmt))
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (pix.width, pix.height), pix.samples).save(
        out, {"tif": "TIFF", "tiff": "TIFF", "webp": "WEBP"}[fmt], **(
            {"lossless": True} if fmt == "webp" else {}))
    return out.getvalue()


def scanned_pdf(pages: list[list[str] | str]) -> bytes:
    """A PDF whose pages are images of text (no text layer), or, for a page given as a
    str, ordinary text: a scan with a born-digital page among its pages."""
    doc = pymupdf.open()
    for content in pages:
        page = doc.new_page()
        if isinstance(content, str):
            page.insert_text((72, 72), content)
        else:
            page.insert_image(pymupdf.Rect(36, 36, 576, 36 + 540 * (40 + 22 * len(content))
                                           / 420), stream=text_image(content, dpi=200))
    data: bytes = doc.tobytes()
    doc.close()
    return data
