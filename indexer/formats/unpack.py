"""Taking one document back out of the file holding it, to open it with another program.

The inverse of indexing a container: `member_bytes(data, name, inner)` finds the member
the index calls `inner` (the part of its virtual path below the container) by the same
names, under the same limits, and returns its bytes without reading any other member.
"""

from __future__ import annotations

import tarfile

from indexer.errors import ExtractionError
from indexer.formats import mail, sevenzip
from indexer.formats.archive import (
    MAX_DEPTH,
    STREAM_ERRORS,
    Budget,
    Scope,
    clean_member_name,
    decompressed,
    member_ext,
    read_zip_member,
    single_name,
)
from indexer.formats.zipxml import MAX_MEMBER_BYTES, open_zip

_TARS = frozenset({"tar", "tgz", "tbz2", "tbz", "txz", "gz", "bz2", "xz"})
_CONTAINERS = frozenset({"zip", "7z", "eml", "mbox", *_TARS})


def _descend(found: bytes, here: str, inner: str, depth: int) -> bytes | None:
    """`found` when it is the member asked for, or what it holds when it is a container
    on the way there, else None."""
    if inner == here:
        return found
    if inner.startswith(here + "/") and member_ext(here) in _CONTAINERS:
        if depth >= MAX_DEPTH:
            raise ExtractionError(f"archives nested more than {MAX_DEPTH} deep are not opened")
        return member_bytes(found, here, inner[len(here) + 1:], depth + 1)
    return None


def member_bytes(data: bytes, name: str, inner: str, depth: int = 1) -> bytes:
    """The bytes of member `inner` of the container `data` (a file called `name`).

    Raises ExtractionError when there is no such member or the container is refused.
    """
    ext = member_ext(name)
    if ext == "zip":
        found = _from_zip(data, inner, depth)
    elif ext in _TARS:
        found = _from_tar(data, name, inner, depth)
    elif ext == "7z":
        found = _from_7z(data, name, inner, depth)
    elif ext == "mbox":
        found = _from_mbox(data, inner, depth)
    elif ext == "eml":
        found = _from_message(data, inner, depth)
    else:
        found = None
    if found is None:
        raise ExtractionError(f"{inner} is not in {name} (any more)")
    return found


def _from_zip(data: bytes, inner: str, depth: int) -> bytes | None:
    with open_zip(data, "zip") as archive:
        for info in archive.infolist():
            here = clean_member_name(info.filename)
            if here and (inner == here or inner.startswith(here + "/")):
                found = _descend(read_zip_member(archive, info), here, inner, depth)
                if found is not None:
                    return found
    return None


def _from_tar(data: bytes, name: str, inner: str, depth: int) -> bytes | None:
    try:
        stream, compressed = decompressed(data, name, Budget())
        if compressed and stream.read(512)[257:262] != b"ustar":
            stream, _ = decompressed(data, name, Budget())
            body = stream.read(MAX_MEMBER_BYTES)
            return _descend(body, single_name(name), inner, depth)
        stream, _ = decompressed(data, name, Budget())
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for info in tar:
                here = clean_member_name(info.name)
                if info.isfile() and here and (inner == here or inner.startswith(here + "/")):
                    if info.size > MAX_MEMBER_BYTES:
                        raise ExtractionError(f"{here} is larger than {MAX_MEMBER_BYTES} bytes")
                    member = tar.extractfile(info)
                    found = _descend(member.read() if member else b"", here, inner, depth)
                    if found is not None:
                        return found
    except STREAM_ERRORS as exc:
        raise ExtractionError(f"damaged archive: {exc}") from exc
    return None


def _from_7z(data: bytes, name: str, inner: str, depth: int) -> bytes | None:
    with sevenzip.open_archive(data, name) as archive:
        names = [i.filename for i in archive.list() if not i.is_directory]
    wanted = {n for n in names if (here := clean_member_name(n)) and
              (inner == here or inner.startswith(here + "/"))}
    for here, _, body in sevenzip.unpack(data, name, Scope(), wanted):
        found = _descend(body, here, inner, depth)
        if found is not None:
            return found
    return None


def _from_mbox(data: bytes, inner: str, depth: int) -> bytes | None:
    used: set[str] = set()
    for n, raw in enumerate(mail.mbox_messages(data), 1):
        key = mail.message_key(raw, n, used)
        if inner == key:
            return raw
        if inner.startswith(key + "/"):  # an attachment: messages are no extra level
            return _from_message(raw, inner[len(key) + 1:], depth)
    return None


def _from_message(data: bytes, inner: str, depth: int) -> bytes | None:
    for filename, part in mail.attachment_parts(mail.parse_message(data)):
        found = _descend(part, filename, inner, depth)
        if found is not None:
            return found
    return None

