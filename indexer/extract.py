"""Turning a file into text and a title, through an extension → extractor table."""

from __future__ import annotations

import os

from indexer.formats import archive, html, mail, office, paged, registry, sevenzip, text
from indexer.formats.base import Extracted, Extractor, Member
from indexer.formats.text import decode_text

__all__ = ["EXTRACTORS", "IN_PROCESS", "SNIFF_BYTES", "Extracted", "Extractor", "Member",
           "decode_text", "extractor_for", "runs_in_process", "sniff_kind"]

EXTRACTORS: dict[str, Extractor] = {
    **text.EXTRACTORS,
    **html.EXTRACTORS,
    **office.EXTRACTORS,
    **paged.EXTRACTORS,
    **archive.EXTRACTORS,
    **mail.EXTRACTORS,
    **sevenzip.EXTRACTORS,
}
# Archives and mail read their members with these (see indexer.formats.registry).
registry.READERS.update(EXTRACTORS)
registry.CONTAINERS.update({**archive.CONTAINERS, **mail.CONTAINERS,
                            **sevenzip.CONTAINERS})

SNIFF_BYTES = 5  # what `sniff_kind` looks at


def sniff_kind(path: bytes, head: bytes) -> str | None:
    """The format of a file whose extension does not say: an mbox (Thunderbird keeps
    them without one) begins with a 'From ' line; a file in the cur/ or new/ folder of a
    Maildir (one beside a tmp/ folder) is a message."""
    if head.startswith(b"From "):
        return "mbox"
    folder = os.path.dirname(path)
    if os.path.basename(folder) in (b"cur", b"new") and \
            os.path.isdir(os.path.join(os.path.dirname(folder), b"tmp")):
        return "eml"
    return None

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
