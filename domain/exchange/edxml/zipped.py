"""Bounded inspection of zipped attachments (the VNPT SDK zips every file).

A zip is opened only to bound it: its entries are counted and each is expanded
as a stream, stopping at ``MAX_EXPANDED_BYTES`` in total, because the sizes a
zip's directory declares can lie. A payload that starts as a zip but whose
directory cannot be read (truncated in transit or in a corpus) is kept as opaque
bytes: nothing in it is expanded, so it cannot be a bomb.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from domain.exchange.edxml.errors import EdxmlHostileInputError

MAX_ENTRIES = 100
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ZipEntry:
    """One file of a zipped attachment, as expanded (not as declared)."""

    name: str
    size: int


def inspect_zip(data: bytes, *, element: str = "ContentTransferEncoded",
                line: int | None = None) -> tuple[ZipEntry, ...] | None:
    """The entries of the zip ``data``, expanded within the bounds, or ``None`` if
    its directory cannot be read. Raises ``EdxmlHostileInputError`` past a bound."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise EdxmlHostileInputError(
                f"zip holds {len(infos)} entries, more than {MAX_ENTRIES}",
                element=element, line=line)
        entries: list[ZipEntry] = []
        budget = MAX_EXPANDED_BYTES
        for info in infos:
            size = _expand(archive, info, budget, element, line)
            budget -= size
            entries.append(ZipEntry(info.filename, size))
        return tuple(entries)


def _expand(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int,
            element: str, line: int | None) -> int:
    """Expand one entry, counting; refuse once the total passes the bound."""
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise EdxmlHostileInputError(
                        f"zip expands past {MAX_EXPANDED_BYTES} bytes (zip bomb)",
                        element=element, line=line)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
            RuntimeError):
        # a damaged or encrypted entry: kept as opaque bytes, not expanded further
        return size
    return size
