"""The incoming registration stamp ("dấu đến") on a copy of a received PDF.

When a recipient accepts a document (status 03, an incoming number taken), the
ledger may stamp the incoming number and date on a *copy* of each PDF attachment
and keep the copy as a new file of the delivery; the signed original is never
touched. The ledger's statement ``delivery.stamped`` says which copy of which
original it made, with which number and date. Making the copy is an adapter's
work (infrastructure/pdf_stamp.py); this module names it and shapes the statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol

from domain.evidence.statements import timestamp_text

STATEMENT = "delivery.stamped"


class IncomingStamper(Protocol):
    """Stamps ``text`` on a copy of the held attachment ``sha256`` if it is a PDF it
    can write, keeps the copy, and describes it (``name``, ``media_type``, ``size``,
    ``sha256``); None for any other file."""

    def stamp(self, sha256: str, *, name: str, text: str) -> dict[str, Any] | None: ...


def stamp_text(*, recipient: str, number: int, on: date) -> str:
    """The stamp's lines, in the form of the paper stamp (without diacritics: the
    PDF's standard fonts cannot show them)."""
    return f"DEN\nSo: {number}\nNgay: {on.strftime('%d/%m/%Y')}\n{recipient}"


def copy_name(name: str, number: int) -> str:
    """``qd.pdf`` stamped with incoming number 12 is kept as ``qd-den-12.pdf``."""
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    return f"{stem}-den-{number}.pdf"


def stamped_statement(*, command_id: str, document: str, recipient: str, number: int,
                      year: int, on: date, original: Mapping[str, Any],
                      copy: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The ledger's word that it stamped this copy of ``original`` for the recipient."""
    return {
        "type": STATEMENT,
        "cause": command_id,
        "document": document,
        "recipient": recipient,
        "incoming_number": number,
        "year": year,
        "registered_on": on.isoformat(),
        "original": {k: original[k] for k in ("name", "media_type", "size", "sha256")},
        "copy": {k: copy[k] for k in ("name", "media_type", "size", "sha256")},
        "at": timestamp_text(at),
    }
