"""Which reader takes which kind of member, for formats that hold other formats
(archives, and mail with its attachments).

indexer.extract fills these tables when it builds its own, so a container format finds
every reader without importing the table that lists it (which would import it back).
"""

from __future__ import annotations

from collections.abc import Callable

from indexer.formats.base import Extracted, Extractor

READERS: dict[str, Extractor] = {}  # extension → extractor, every format's
CONTAINERS: dict[str, Callable[..., Extracted]] = {}  # extension → expander of members


def readers() -> dict[str, Extractor]:
    """The filled table; importing indexer.extract fills it (the extraction worker and
    every caller of a container format do)."""
    if not READERS:
        raise RuntimeError("indexer.extract was not imported: no readers registered")
    return READERS
