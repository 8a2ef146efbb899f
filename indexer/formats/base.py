"""What every extractor returns, the limits it keeps to and helpers they share."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

# A giant document must stay bounded in time and memory: at most this many pages are
# read and at most this much text is kept (about 1.3 million words).
MAX_PAGES = 10_000
MAX_TEXT_CHARS = 8_000_000
MAX_TITLE_CHARS = 120

PAGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class MailFields:
    """What a mail message says about itself beyond its text."""

    sender: str
    recipients: str
    date_ns: int | None  # the Date header, ns since the epoch (None: missing or unreadable)


@dataclass(frozen=True)
class Extracted:
    """A file's text, its title, and the page each character range starts on (if paged).

    A container (an archive, a mailbox, a message with attachments) also lists the
    documents inside it as `members`, each a document of its own.
    """

    text: str
    title: str
    pages: tuple[int, ...] = ()  # offsets where pages 2, 3, … begin; empty if unpaged
    members: tuple[Member, ...] = ()
    mail: MailFields | None = None
    blank_pages: tuple[int, ...] = ()  # 1-based pages that are images without text (scans)
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text OCR read (unpaged: (1,))


@dataclass(frozen=True)
class Member:
    """A document inside a container: `name` is its '/'-separated path in there
    (`inner/dir/report.docx`, `inner.zip/notes.txt`, `3/report.pdf` for a message's
    attachment); `extracted` is None when it could not be read, and `reason` says why."""

    name: str
    ext: str
    size: int
    content_hash: str
    extracted: Extracted | None
    status: str = "indexed"  # or failed, skipped
    reason: str = ""


Extractor = Callable[[bytes, str], Extracted]


class PagedText:
    """Page texts joined with a blank line, remembering where each page begins."""

    def __init__(self, max_chars: int = MAX_TEXT_CHARS) -> None:
        self._parts: list[str] = []
        self._starts: list[int] = []
        self._blank: list[int] = []
        self._size = 0
        self._max_chars = max_chars

    @property
    def full(self) -> bool:
        return self._size >= self._max_chars

    def add_page(self, text: str, *, scanned: bool = False) -> None:
        """Append one page; text beyond the size limit is dropped.  A `scanned` page
        (an image, no text) is listed by `blank_pages`, for OCR."""
        if self.full:
            return
        if scanned and not text.strip():
            self._blank.append((len(self._parts) + 1) // 2 + 1)  # its number
        if self._parts:
            self._parts.append(PAGE_SEPARATOR)
            self._size += len(PAGE_SEPARATOR)
            self._starts.append(self._size)
        text = text[: self._max_chars - self._size]
        self._parts.append(text)
        self._size += len(text)

    def text(self) -> str:
        return "".join(self._parts)

    def page_starts(self) -> tuple[int, ...]:
        return tuple(self._starts)

    def page_texts(self) -> tuple[str, ...]:
        return tuple(self._parts[::2])

    def blank_pages(self) -> tuple[int, ...]:
        """The 1-based pages added as scanned: images without any text."""
        return tuple(self._blank)


_SPACES = re.compile(r"\s+")


def clean_title(candidate: str | None) -> str:
    """A metadata title with its whitespace collapsed, or '' when it is unusable."""
    title = _SPACES.sub(" ", candidate or "").strip()
    return title if 0 < len(title) <= MAX_TITLE_CHARS * 2 else ""


def first_line_title(text: str) -> str:
    """The first non-blank line when it is short enough to be a title, else ''."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= MAX_TITLE_CHARS else ""
    return ""


def name_title(name: str) -> str:
    """A title made from a file name: no extension, separators read as spaces."""
    return os.path.splitext(name)[0].replace("_", " ").replace("-", " ").strip() or name


def pick_title(metadata_title: str | None, text: str, name: str) -> str:
    """Metadata title if usable, else the first short line, else the file name."""
    return clean_title(metadata_title) or first_line_title(text) or name_title(name)
