"""Plain text, Markdown and source code: decoded in-process, since nothing can crash."""

from __future__ import annotations

import codecs
import re

from indexer.errors import ExtractionError
from indexer.formats.base import (
    MAX_TITLE_CHARS,
    Extracted,
    Extractor,
    first_line_title,
    name_title,
)

_SNIFF = 8192
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(data: bytes) -> str | None:
    """The encoding named by a byte-order mark at the start of `data`, if any."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding, or raise ExtractionError for binary data."""
    encoding = bom_encoding(data)
    if encoding:
        return data.decode(encoding, errors="replace")
    if b"\x00" in data[:_SNIFF]:
        raise ExtractionError("binary content (not text)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()
    if best is None or best.encoding is None:
        raise ExtractionError("cannot detect the text encoding")
    return data.decode(best.encoding, errors="replace")


_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")  # reST section adornment
_ORG_TITLE = re.compile(r"^#\+title:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
# Lines that are markup, a comment or boilerplate, never a title: reST directives,
# labels and comments, Org keywords, shebangs and editor modelines, license headers.
_NOT_A_TITLE = re.compile(
    r"^(\.\.(\s|$)|#\+|#!|-\*-|(//|#|/?\*|;+|--|%)?\s*(copyright\s+(\(c\)|©|\d{4})|\(c\)\s*\d{4}|©|spdx-license"
    r"|licensed under|all rights reserved|this (file|program) is free software))",
    re.IGNORECASE)
_TITLE_SCAN_LINES = 200
_ROLE = re.compile(r":[\w.-]+:`([^`<]*?)\s*(?:<[^>]*>)?`")  # :mod:`json` → json


def prose_title(text: str) -> str:
    """The title a prose format declares: an Org #+TITLE, an AsciiDoc `= Title`, or the
    first reStructuredText heading (a line under- or overlined with punctuation); else
    the first line that is not markup, a comment or a license header ('' if none)."""
    org = _ORG_TITLE.search(text[:20_000])
    if org:
        return org.group(1)[:MAX_TITLE_CHARS]
    lines = text.splitlines()[:_TITLE_SCAN_LINES]
    in_directive = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or (in_directive and raw[:1].isspace()):
            continue  # blank, or a directive's indented options and body
        in_directive = bool(_NOT_A_TITLE.match(line)) and line.startswith("..")
        if _NOT_A_TITLE.match(line):
            continue
        if _UNDERLINE.match(line):  # an overline: the title is the next line
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if following and not _UNDERLINE.match(following):
                following = _ROLE.sub(r"\1", following)
                return following if len(following) <= MAX_TITLE_CHARS else ""
            continue
        if line.startswith("= ") and not line.startswith("=="):  # AsciiDoc document title
            line = line[2:].strip()
        line = _ROLE.sub(r"\1", line.lstrip("#").strip())
        return line if len(line) <= MAX_TITLE_CHARS else ""
    return ""


def extract_prose(data: bytes, name: str) -> Extracted:
    """Plain text, reStructuredText, Org, AsciiDoc and the like: the declared title or
    heading, else the first line that is not markup or boilerplate."""
    text = decode_text(data)
    return Extracted(text, prose_title(text) or name_title(name))


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def extract_markdown(data: bytes, name: str) -> Extracted:
    """Markdown: the first heading is the title."""
    text = decode_text(data)
    heading = _MD_HEADING.search(text)
    title = heading.group(1).strip() if heading else first_line_title(text)
    return Extracted(text, title or name_title(name))


def extract_code(data: bytes, name: str) -> Extracted:
    """Source code: its first line is rarely a title, so the file name is."""
    return Extracted(decode_text(data), name)


PROSE = ("txt", "text", "rst", "org", "adoc", "tex", "log", "csv", "tsv", "")
MARKDOWN = ("md", "markdown", "mdown", "mkd")
CODE = ("py", "pyi", "js", "jsx", "ts", "tsx", "java", "kt", "c", "h", "cc", "cpp", "hpp",
        "cs", "go", "rs", "rb", "php", "swift", "m", "scala", "sh", "bash", "zsh", "fish",
        "ps1", "sql", "r", "jl", "lua", "pl", "hs", "ml", "ex", "exs", "erl", "clj", "dart",
        "vue", "svelte", "css", "scss", "less", "json", "yaml", "yml", "toml", "ini", "cfg",
        "conf", "xml", "gradle", "cmake", "mk", "dockerfile", "proto", "graphql")

EXTRACTORS: dict[str, Extractor] = {
    **{ext: extract_prose for ext in PROSE},
    **{ext: extract_markdown for ext in MARKDOWN},
    **{ext: extract_code for ext in CODE},
}
