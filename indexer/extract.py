"""Turning a file into text and a title, through an extension → extractor table."""

from __future__ import annotations

from indexer.formats import html, office, paged, text
from indexer.formats.base import Extracted, Extractor
from indexer.formats.text import decode_text

__all__ = ["EXTRACTORS", "IN_PROCESS", "Extracted", "Extractor", "decode_text",
           "extractor_for", "runs_in_process"]

EXTRACTORS: dict[str, Extractor] = {
    **text.EXTRACTORS,
    **html.EXTRACTORS,
    **office.EXTRACTORS,
    **paged.EXTRACTORS,
}

# Plain text is decoded in pure Python and cannot crash or hang, so it skips the worker
# round trip.  Everything else parses untrusted structure (native code in MuPDF's case)
# and runs in a worker process; a new format is isolated unless it is added here.
IN_PROCESS: frozenset[str] = frozenset(text.EXTRACTORS)


def extractor_for(ext: str) -> Extractor | None:
    """The extractor for a lower-case extension (no dot), or None if there is none."""
    return EXTRACTORS.get(ext)


def runs_in_process(ext: str) -> bool:
    """Whether files with this extension may be extracted without a worker process."""
    return ext in IN_PROCESS
