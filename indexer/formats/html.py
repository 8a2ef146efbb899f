"""HTML: the visible text, titled by its <title> or first <h1> (stdlib html.parser)."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from indexer.formats.base import MAX_TEXT_CHARS, Extracted, Extractor, clean_title, pick_title
from indexer.formats.text import bom_encoding, decode_text

# Elements whose content is never shown as text.  <head> is skipped except its <title>.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg", "math"})
_HEAD_ONLY = frozenset({"title", "meta", "link", "base", "style", "script", "noscript",
                        "template"})
_BLOCKS = frozenset({"address", "article", "aside", "blockquote", "br", "dd", "details",
                     "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
                     "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
                     "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul"})
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_FEED = 1 << 16


class _VisibleText(HTMLParser):
    """Collects the visible text, the <title> and the first <h1> of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.title: list[str] = []
        self.h1: list[str] = []
        self._hidden: list[str] = []
        self._in_title = self._in_h1 = False
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden == ["head"] and tag not in _HEAD_ONLY:
            self._hidden.clear()  # the </head> was left out
        if tag in _HIDDEN:
            self._hidden.append(tag)
        elif tag == "title" and self._hidden in ([], ["head"]) and not self.title:
            self._in_title = True
        elif tag == "h1" and not self.h1:
            self._in_h1 = True
        if tag == "pre":
            self._pre += 1
        if tag in _BLOCKS:
            self._append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden and self._hidden[-1] == tag:
            self._hidden.pop()
        elif tag == "title":
            self._in_title = False
        elif tag == "h1":
            self._in_h1 = False
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCKS:
            self._append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
            return
        if self._hidden:
            return
        if self._in_h1:
            self.h1.append(data)
        self._append(data if self._pre else re.sub(r"\s+", " ", data))

    def _append(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)


def _declared_encoding(data: bytes) -> str | None:
    """The encoding named by a BOM or a <meta charset> near the start, if Python knows it."""
    bom = bom_encoding(data)
    if bom:
        return bom
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    # A page that says utf-16 in ASCII bytes is not utf-16 (WHATWG treats it as utf-8).
    return "utf-8" if name.startswith("utf-16") else name


def _tidy(text: str) -> str:
    """Lines stripped, runs of blank lines reduced to one."""
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def extract_html(data: bytes, name: str) -> Extracted:
    """Visible text of an HTML page; titled by <title>, else the first <h1>."""
    encoding = _declared_encoding(data)
    markup = data.decode(encoding, errors="replace") if encoding else decode_text(data)
    parser = _VisibleText()
    for start in range(0, len(markup), _FEED):
        parser.feed(markup[start:start + _FEED])
        if parser.size > MAX_TEXT_CHARS:
            break
    parser.close()
    text = _tidy("".join(parser.parts))[:MAX_TEXT_CHARS]
    title = clean_title("".join(parser.title)) or clean_title("".join(parser.h1))
    return Extracted(text, pick_title(title, text, name))


EXTRACTORS: dict[str, Extractor] = {ext: extract_html for ext in ("html", "htm", "xhtml",
                                                                  "shtml")}
