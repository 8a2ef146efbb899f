"""7z archives through py7zr, their members documents of their own like a zip's.

A 7z declares every member's unpacked size in its header, which py7zr reads without
decompressing anything: the members, their sizes, their total and its ratio to the
archive's size are checked against the same limits as a zip before any data is
unpacked. Decoding is then capped twice more: py7zr's own `max_extract_size` and a
writer per member that keeps no more than the member declared.
"""

from __future__ import annotations

import lzma
import zlib
from io import BytesIO
from typing import Any

from indexer.errors import ExtractionError
from indexer.formats import zipxml
from indexer.formats.archive import Scope, _wanted, clean_member_name, read_member
from indexer.formats.base import Extracted, Member, name_title
from indexer.secrets import profile_folders, under_profile


def _py7zr() -> Any:
    try:
        import py7zr
    except ImportError as exc:  # pragma: no cover - a packaging problem
        raise ExtractionError("7z archives need py7zr: pip install py7zr") from exc
    return py7zr


def open_archive(data: bytes, name: str) -> Any:
    """The archive opened by py7zr (its header read, nothing unpacked)."""
    py7zr = _py7zr()
    try:
        archive = py7zr.SevenZipFile(BytesIO(data), mode="r",
                                     max_extract_size=zipxml.MAX_TOTAL_BYTES)
    except py7zr.PasswordRequired:
        raise ExtractionError("encrypted (password required)") from None
    except (py7zr.Bad7zFile, EOFError, OSError, ValueError, KeyError, IndexError) as exc:
        raise ExtractionError(f"damaged archive: {str(exc)[:160] or type(exc).__name__}") \
            from exc
    if archive.needs_password():
        archive.close()
        raise ExtractionError("encrypted (password required)")
    return archive


def _check(infos: list[Any], size: int, name: str, scope: Scope) -> None:
    """Refuse a bomb from the header alone: too many members, one too large, too much
    in all, or an unpacked total far beyond what the archive's bytes can hold."""
    if len(infos) > scope.budget.members_left:
        raise ExtractionError(f"compression bomb: more than {zipxml.MAX_MEMBERS} members")
    total = sum(int(i.uncompressed or 0) for i in infos)
    if total > scope.budget.bytes_left:
        raise ExtractionError(f"compression bomb: {name} inflates to {total} bytes")
    if total > zipxml.RATIO_FLOOR and total > zipxml.MAX_RATIO * max(size, 1):
        raise ExtractionError(f"compression bomb: {name} inflates {total // max(size, 1)}:1")


class _Capped:
    """py7zr's writer factory, each writer keeping at most what its member declared."""

    def __init__(self, limits: dict[str, int]) -> None:
        from py7zr.io import Py7zBytesIO

        self._make = Py7zBytesIO
        self.limits = limits
        self.products: dict[str, Any] = {}

    def create(self, filename: str) -> Any:
        product = self._make(filename, self.limits.get(filename, 0))
        self.products[filename] = product
        return product

    def body(self, filename: str) -> bytes:
        product = self.products.get(filename)
        if product is None:
            return b""
        product.seek(0)
        return bytes(product.read())


def unpack(data: bytes, name: str, scope: Scope, wanted: set[str] | None = None
           ) -> list[tuple[str, int, bytes]]:
    """(member name cleaned, declared size, bytes) of the members worth reading (or of
    those named in `wanted`, by their names in the archive)."""
    py7zr = _py7zr()
    with open_archive(data, name) as archive:
        infos = [i for i in archive.list() if not i.is_directory]
        _check(infos, len(data), name, scope)
        profiles = profile_folders(clean_member_name(i.filename) for i in infos)
        chosen = [i for i in infos if (i.filename in wanted if wanted is not None else
                                       _wanted(clean_member_name(i.filename)))
                  and not under_profile(clean_member_name(i.filename), profiles)]
        limits = {i.filename: int(i.uncompressed or 0) for i in chosen}
        factory = _Capped(limits)
        if chosen:
            try:
                archive.extract(targets=list(limits), factory=factory)
            except py7zr.PasswordRequired:
                raise ExtractionError("encrypted (password required)") from None
            except (py7zr.Bad7zFile, py7zr.UnsupportedCompressionMethodError, EOFError,
                    OSError, ValueError, lzma.LZMAError, zlib.error) as exc:
                raise ExtractionError(f"damaged archive: {str(exc)[:160]}") from exc
        return [(clean_member_name(i.filename), limits[i.filename], factory.body(i.filename))
                for i in chosen]


def expand_7z(data: bytes, name: str, scope: Scope) -> Extracted:
    """The documents in a 7z archive; refused whole if its header describes a bomb."""
    members: list[Member] = []
    for inner, size, body in unpack(data, name, scope):
        if not inner:
            continue
        scope.budget.take_member()
        scope.budget.take_bytes(size, inner)
        members.extend(read_member(inner, body, scope))
    return Extracted("", name_title(name), members=tuple(members))


def extract_7z(data: bytes, name: str) -> Extracted:
    return expand_7z(data, name, Scope())


CONTAINERS = {"7z": expand_7z}
EXTRACTORS = {"7z": extract_7z}
