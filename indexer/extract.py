"""Turning a file into text and a title, through an extension → extractor table."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from indexer.errors import ExtractionError


@dataclass(frozen=True)
class Extracted:
    """A file's text, its title, and the page each character range starts on (if paged)."""

    text: str
    title: str
    pages: tuple[int, ...] = ()  # offsets where pages 2, 3, … begin; empty if unpaged


Extractor = Callable[[bytes, str], Extracted]

_SNIFF = 8192
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding, or raise ExtractionError for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
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


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 120 else ""
    return ""


def _name_title(name: str) -> str:
    return os.path.splitext(name)[0].replace("_", " ").replace("-", " ").strip() or name


def extract_prose(data: bytes, name: str) -> Extracted:
    """Plain text, reStructuredText and the like: the first short line is the title."""
    text = decode_text(data)
    return Extracted(text, _first_line_title(text) or _name_title(name))


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def extract_markdown(data: bytes, name: str) -> Extracted:
    text = decode_text(data)
    heading = _MD_HEADING.search(text)
    title = heading.group(1).strip() if heading else _first_line_title(text)
    return Extracted(text, title or _name_title(name))


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


def extractor_for(ext: str) -> Extractor | None:
    return EXTRACTORS.get(ext)
