"""A result's document for the GUI: its text for the preview, and a path to open it by.

Formats whose parsers the indexer isolates in worker processes are never parsed here:
their text comes from the passages the index holds.  A document inside another file (an
archive member, a mail message) is opened from a private copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from app.client import LocalIndex
from engine.errors import DeskfindError, QueryError
from engine.query import parse_query
from engine.snippets import match_spans
from indexer.errors import ExtractionError
from indexer.extract import extractor_for, runs_in_process
from indexer.formats.unpack import member_bytes

PREVIEW_BYTES = 8 << 20  # previews read at most this much of a file
MEMBER_SOURCE_BYTES = 64 << 20  # the largest archive or mailbox a member is opened from
MAX_HIGHLIGHTS = 5000


def highlight_terms(query: str) -> tuple[str, ...]:
    """The words a preview should highlight for `query` (none if it cannot parse)."""
    try:
        return parse_query(query).highlight_terms
    except QueryError:
        return ()


def highlight_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where `terms` occur in `text`, by the same rule as result snippets."""
    return match_spans(text, terms)[:MAX_HIGHLIGHTS]


class Documents:
    """Reads and opens the documents of one index.  Safe to call from any thread."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self._open_dir: str | None = None  # copies of archive members being opened

    def text(self, path: bytes, ext: str) -> str:
        """A document's text as the indexer read it, so passage offsets line up.

        Plain text is read again from the file.  Formats whose parsers the indexer
        isolates in worker processes (HTML, office, e-books…) are never parsed in the
        GUI process: their text is put back together from the passages the index holds.
        So is the text of a document inside another file (an archive member, a mail
        message), whose virtual path is no file to read.
        """
        extract = extractor_for(ext)
        if extract is None or not runs_in_process(ext) or not os.path.isfile(path):
            text = self.index.document_text(path)
            if text is None:
                raise DeskfindError(f"{os.fsdecode(path)} is not in the index (any more)")
            return text
        try:
            with open(path, "rb") as f:
                data = f.read(PREVIEW_BYTES)
            return extract(data, os.fsdecode(os.path.basename(path))).text
        except OSError as exc:
            raise DeskfindError(f"cannot read {os.fsdecode(path)}: {exc.strerror}") from exc
        except ExtractionError as exc:
            raise DeskfindError(str(exc)) from exc

    def openable_path(self, path: bytes, ext: str) -> bytes:
        """A path another program can open for a result: the file itself, or a copy of a
        document that lives inside another file (an archive member, a mail message or
        attachment), taken out into a private (0700) temporary folder.

        The container is parsed by the standard library's zip, tar and email code,
        which cannot crash the process, under the same limits as indexing.
        """
        if os.path.isfile(path):
            return path
        container = self.index.container_of(path)
        if container is None or not path.startswith(container + b"/"):
            raise DeskfindError(f"{os.fsdecode(path)} is not in the index (any more)")
        inner = os.fsdecode(path[len(container) + 1:])
        try:
            with open(container, "rb") as f:
                data = f.read(MEMBER_SOURCE_BYTES + 1)
            if len(data) > MEMBER_SOURCE_BYTES:
                raise DeskfindError(f"{os.fsdecode(container)} is too large to open from")
            member = member_bytes(data, os.fsdecode(os.path.basename(container)), inner)
        except OSError as exc:
            raise DeskfindError(f"cannot read {os.fsdecode(container)}: {exc.strerror}") from exc
        except ExtractionError as exc:
            raise DeskfindError(str(exc)) from exc
        return self._private_copy(inner, ext, member)

    def _private_copy(self, inner: str, ext: str, data: bytes) -> bytes:
        if self._open_dir is None:
            self._open_dir = tempfile.mkdtemp(prefix="deskfind-open-")  # mode 0700
        folder = tempfile.mkdtemp(dir=self._open_dir)
        name = os.path.basename(inner) or "document"
        if ext and not name.lower().endswith("." + ext):
            name = f"{name}.{ext}"  # a message named by its id opens as .eml
        target = os.path.join(folder, name)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return os.fsencode(target)

    def close(self) -> None:
        """Remove the copies taken out of archives and mailboxes to open."""
        if self._open_dir is not None:
            shutil.rmtree(self._open_dir, ignore_errors=True)
            self._open_dir = None
