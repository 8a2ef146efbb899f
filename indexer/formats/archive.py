"""Archives: zip and tar (plain, gzip, bzip2, xz), their members documents of their own.

Each member is read by the extractor for its own extension, inside the same worker
process as the archive.  Archives inside archives are opened down to MAX_DEPTH
levels.  One `Budget` bounds a whole tree: the bytes inflated, the members read and
the text kept, whatever the nesting.

A zip declares every member's size in its central directory, so a bomb is refused
before anything is inflated (the checks of `zipxml`, shared with Office files).  A
compressed tar keeps its headers inside the compressed stream: each member's size is
checked against the budget before its data is read, and the stream itself is cut off
past a ratio and size limit, so no tar inflates further than that either.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import logging
import lzma
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from io import BytesIO
from typing import Protocol

from indexer.errors import ExtractionError
from indexer.formats import registry, zipxml
from indexer.formats.base import MAX_TEXT_CHARS, Extracted, Member, name_title
from indexer.secrets import SECRET_REASON, looks_secret, profile_folders, under_profile

log = logging.getLogger("deskfind.indexer.archive")

MAX_DEPTH = 2  # archive.zip/inner.zip/x.txt is read; a third archive inside is not opened


@dataclass
class Budget:
    """What one file on disk may still cost, shared by everything nested inside it."""

    bytes_left: int = zipxml.MAX_TOTAL_BYTES
    members_left: int = zipxml.MAX_MEMBERS
    chars_left: int = MAX_TEXT_CHARS

    def take_bytes(self, size: int, name: str) -> None:
        """Count `size` bytes about to be inflated; raise ExtractionError past the limit."""
        if size > zipxml.MAX_MEMBER_BYTES:
            raise ExtractionError(f"compression bomb: {name} inflates to {size} bytes")
        if size > self.bytes_left:
            raise ExtractionError(
                f"compression bomb: members inflate to more than {zipxml.MAX_TOTAL_BYTES} bytes")
        self.bytes_left -= size

    def take_member(self) -> None:
        if self.members_left <= 0:
            raise ExtractionError(f"compression bomb: more than {zipxml.MAX_MEMBERS} members")
        self.members_left -= 1


@dataclass(frozen=True)
class Scope:
    """Where a container is read: how many containers hold it (1: the file on disk)."""

    depth: int = 1
    budget: Budget = field(default_factory=Budget)

    def inner(self) -> Scope:
        return Scope(self.depth + 1, self.budget)


Container = Callable[[bytes, str, Scope], Extracted]


def member_ext(name: str) -> str:
    base = posixpath.basename(name)
    dot = base.rfind(".")
    return base[dot + 1:].lower() if dot > 0 else ""


def clean_member_name(name: str) -> str:
    """A member's path with no leading '/', '.' or '..' parts ('' when nothing is left):
    a virtual path must stay below its archive's."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts)


def read_member(name: str, data: bytes, scope: Scope) -> list[Member]:
    """The documents a member is: itself, or what a container member holds (its names
    under the member's), or nothing when no extractor reads its kind."""
    from indexer.walk import WalkRules

    ext = member_ext(name)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    container = registry.CONTAINERS.get(ext)
    extractor = registry.readers().get(ext)
    if container is None and extractor is None:
        return []
    # A secret is a secret inside an archive too: by its name (.ssh/…, *.pem) or content.
    if WalkRules().refusal(name, is_dir=False, on_disk=False) is not None or \
            (container is None and looks_secret(data)):
        return [Member(name, ext, len(data), digest, None, "skipped", SECRET_REASON)]
    if scope.budget.chars_left <= 0:
        return [Member(name, ext, len(data), digest, None, "skipped",
                       "the text limit of the file holding it was reached")]
    try:
        if container is not None:
            if scope.depth >= MAX_DEPTH:
                return [Member(name, ext, len(data), digest, None, "skipped",
                               f"archives nested more than {MAX_DEPTH} deep are not opened")]
            extracted = container(data, posixpath.basename(name), scope.inner())
        else:
            assert extractor is not None
            extracted = extractor(data, posixpath.basename(name))
    except ExtractionError as exc:
        return [Member(name, ext, len(data), digest, None, "failed", str(exc))]
    except (MemoryError, RecursionError):
        raise  # the worker's own handling says what happened to the whole file
    except Exception as exc:  # a bug or library error on one member costs that member only
        log.warning("extracting member %s failed", name, exc_info=True)
        reason = f"extractor error: {type(exc).__name__}: {exc}"[:300]
        return [Member(name, ext, len(data), digest, None, "failed", reason)]
    text = extracted.text[:scope.budget.chars_left]
    scope.budget.chars_left -= len(text)
    inner = [replace(m, name=f"{name}/{m.name}") for m in extracted.members]
    if container is not None and not text:
        return inner  # an archive is only a folder of documents
    own = replace(extracted, text=text, members=())
    return [Member(name, ext, len(data), digest, own), *inner]


# -- zip -----------------------------------------------------------------------------------


def expand_zip(data: bytes, name: str, scope: Scope) -> Extracted:
    """The documents in a zip archive; refused whole if its declared sizes are a bomb."""
    archive = zipxml.open_zip(data, "zip")
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        declared = sum(i.file_size for i in infos)
        if declared > scope.budget.bytes_left:
            raise ExtractionError(f"compression bomb: {name} inflates to {declared} bytes")
        members: list[Member] = []
        profiles = profile_folders(clean_member_name(i.filename) for i in infos)
        for info in infos:
            inner = clean_member_name(info.filename)
            if not inner or not _wanted(inner) or under_profile(inner, profiles):
                continue  # a browser profile's files are secrets here too
            scope.budget.take_member()
            if info.flag_bits & 0x1:
                members.append(Member(inner, member_ext(inner), info.file_size, "", None,
                                      "failed", "encrypted (password required)"))
                continue
            scope.budget.take_bytes(info.file_size, inner)
            members.extend(read_member(inner, read_zip_member(archive, info), scope))
    return Extracted("", name_title(name), members=tuple(members))


def read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as stream:
            return stream.read()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise ExtractionError(f"damaged archive: {exc}") from exc
    except NotImplementedError as exc:
        raise ExtractionError(f"unsupported archive: {exc}") from exc


def _wanted(name: str) -> bool:
    """Whether a member is worth inflating: something a reader or container knows."""
    ext = member_ext(name)
    return ext in registry.readers() or ext in registry.CONTAINERS


# -- tar -----------------------------------------------------------------------------------

_TAR_SUFFIXES = {"tgz": ".tar", "tbz2": ".tar", "tbz": ".tar", "txz": ".tar"}


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Capped:
    """A stream that raises ExtractionError once more than `limit` bytes came out."""

    def __init__(self, stream: _Readable, limit: int, name: str) -> None:
        self._stream = stream
        self._limit = limit
        self._count = 0
        self._name = name

    def read(self, size: int = -1) -> bytes:
        room = self._limit - self._count + 1
        data = self._stream.read(room if size is None or size < 0 else min(size, room))
        self._count += len(data)
        if self._count > self._limit:
            raise ExtractionError(
                f"compression bomb: {self._name} inflates past {self._limit} bytes")
        return data


def decompressed(data: bytes, name: str, budget: Budget) -> tuple[_Readable, bool]:
    """The tar stream inside `data` (capped when it is compressed), and whether it was."""
    raw = BytesIO(data)
    # In-memory streams: nothing to close, so no context managers.
    stream: _Readable
    if data.startswith(b"\x1f\x8b"):
        stream = gzip.GzipFile(fileobj=raw)  # noqa: SIM115
    elif data.startswith(b"BZh"):
        stream = bz2.BZ2File(raw)  # noqa: SIM115
    elif data.startswith(b"\xfd7zXZ\x00"):
        stream = lzma.LZMAFile(raw)  # noqa: SIM115
    else:
        return raw, False
    limit = min(budget.bytes_left, max(zipxml.RATIO_FLOOR, zipxml.MAX_RATIO * len(data)))
    return _Capped(stream, limit, name), True


STREAM_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


def expand_tar(data: bytes, name: str, scope: Scope) -> Extracted:
    """The documents in a tar archive, or the one file a .gz/.bz2/.xz compresses."""
    try:
        stream, compressed = decompressed(data, name, scope.budget)
        head = stream.read(512)
        if compressed and head[257:262] != b"ustar":
            return _single_file(data, name, scope)
        stream, _ = decompressed(data, name, scope.budget)
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            members = _tar_members(tar, scope)
    except STREAM_ERRORS as exc:
        raise ExtractionError(f"damaged archive: {exc}") from exc
    return Extracted("", name_title(name), members=tuple(members))


def _tar_members(tar: tarfile.TarFile, scope: Scope) -> list[Member]:
    members: list[Member] = []
    for info in tar:
        inner = clean_member_name(info.name)
        if not info.isfile() or not inner or not _wanted(inner):
            continue  # links, devices and folders are no documents
        scope.budget.take_member()
        scope.budget.take_bytes(info.size, inner)  # before its data is read
        stream = tar.extractfile(info)
        if stream is not None:
            members.extend(read_member(inner, stream.read(), scope))
    return members


def single_name(name: str) -> str:
    """The name of the one file a compressed file holds: notes.txt.gz → notes.txt."""
    base, _, suffix = name.rpartition(".")
    return (base + _TAR_SUFFIXES[suffix.lower()]) if suffix.lower() in _TAR_SUFFIXES \
        else (base or name)


def _single_file(data: bytes, name: str, scope: Scope) -> Extracted:
    """notes.txt.gz: one compressed file, read as the member notes.txt."""
    inner = single_name(name)
    stream, _ = decompressed(data, name, scope.budget)
    room = min(scope.budget.bytes_left, zipxml.MAX_MEMBER_BYTES)
    body = stream.read(room + 1)
    if len(body) > room:
        raise ExtractionError(f"compression bomb: {name} inflates past {room} bytes")
    scope.budget.take_bytes(len(body), inner)
    if member_ext(inner) == "tar":
        raise ExtractionError(f"not a tar archive: {name}")
    scope.budget.take_member()
    return Extracted("", name_title(name), members=tuple(read_member(inner, body, scope)))


def extract_zip(data: bytes, name: str) -> Extracted:
    return expand_zip(data, name, Scope())


def extract_tar(data: bytes, name: str) -> Extracted:
    return expand_tar(data, name, Scope())


CONTAINERS: dict[str, Container] = {
    "zip": expand_zip,
    **{ext: expand_tar for ext in ("tar", "tgz", "tbz2", "tbz", "txz", "gz", "bz2", "xz")},
}
EXTRACTORS = {
    "zip": extract_zip,
    **{ext: extract_tar for ext in ("tar", "tgz", "tbz2", "tbz", "txz", "gz", "bz2", "xz")},
}
