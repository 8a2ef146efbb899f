"""Reading XML parts of zip-based documents (OOXML, ODF) without zip or XML bombs.

Every member's declared size is checked before anything is decompressed; `zipfile`
never inflates a member past its declared size, so the check bounds the real output.
XML is parsed by defusedxml, which refuses DTDs and entity declarations: Office and
OpenDocument parts never need them, and they are how entity-expansion bombs work.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from indexer.errors import ExtractionError

MAX_MEMBER_BYTES = 200 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_RATIO = 200  # deflate of real XML stays far below this; zeros reach ~1000:1
RATIO_FLOOR = 1024 * 1024  # a small member cannot hurt whatever its ratio

_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _check_members(archive: zipfile.ZipFile) -> None:
    """Raise ExtractionError when the archive declares more than it may inflate to."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ExtractionError(f"compression bomb: {len(infos)} members")
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        if size > MAX_MEMBER_BYTES:
            raise ExtractionError(f"compression bomb: {info.filename} inflates to {size} bytes")
        if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
            ratio = size // max(info.compress_size, 1)
            raise ExtractionError(f"compression bomb: {info.filename} ratio {ratio}:1")
    if total > MAX_TOTAL_BYTES:
        raise ExtractionError(f"compression bomb: members inflate to {total} bytes")


def open_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """The document's zip archive, checked against compression bombs."""
    if data.startswith(_CFB_MAGIC):
        raise ExtractionError("encrypted (password required) or legacy binary format")
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ExtractionError(f"not a valid {kind} file: {exc}") from exc
    try:
        _check_members(archive)
    except ExtractionError:
        archive.close()
        raise
    return archive


def open_part(archive: zipfile.ZipFile, name: str) -> IO[bytes] | None:
    """A stream of one member, or None when the archive has no such member."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.flag_bits & 0x1:
        raise ExtractionError("encrypted (password required)")
    return archive.open(info)


def iter_closed(source: IO[bytes], wanted: frozenset[str],
                skip: frozenset[str] = frozenset()) -> Iterator[Element]:
    """Elements tagged `wanted`, each as it closes; then dropped, so memory stays flat.

    Nothing inside a `skip` element is yielded.  Tags are `{namespace}local` names.
    """
    stack: list[Element] = []
    skipping = 0
    try:
        for event, elem in iterparse(source, ("start", "end"), forbid_dtd=True):
            if event == "start":
                stack.append(elem)
                skipping += elem.tag in skip
                continue
            stack.pop()
            if elem.tag in skip:
                skipping -= 1
            elif elem.tag in wanted and not skipping:
                yield elem
            if stack and (elem.tag in wanted or elem.tag in skip):
                del stack[-1][-1]  # at its end an element is its parent's last child
    except DefusedXmlException as exc:
        raise ExtractionError(f"refused XML: {type(exc).__name__}") from exc
    except ParseError as exc:
        raise ExtractionError(f"malformed XML: {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:  # CRC, truncation
        raise ExtractionError(f"damaged archive: {exc}") from exc
    except NotImplementedError as exc:  # an unsupported compression method
        raise ExtractionError(f"unsupported archive: {exc}") from exc


def read_rels(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship id → member name for an OOXML part (empty if it has none)."""
    folder, base = posixpath.split(part)
    stream = open_part(archive, posixpath.join(folder, "_rels", base + ".rels"))
    if stream is None:
        return {}
    tag = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
    targets: dict[str, str] = {}
    with stream:
        for rel in iter_closed(stream, frozenset({tag})):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External" or not target:
                continue
            resolved = target.lstrip("/") if target.startswith("/") else \
                posixpath.normpath(posixpath.join(folder, target))
            targets[rel.get("Id", "")] = resolved
    return targets


def first_text(archive: zipfile.ZipFile, part: str, tag: str) -> str | None:
    """The text of the first `tag` element in a part, if the part and element exist."""
    stream = open_part(archive, part)
    if stream is None:
        return None
    with stream:
        for elem in iter_closed(stream, frozenset({tag})):
            return "".join(elem.itertext())
    return None
