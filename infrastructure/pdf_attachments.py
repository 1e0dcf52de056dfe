"""The ledger's reader of attachments: a blob that is a PDF has its signatures read.

This module stays light: pyHanko (infrastructure/pdf_signatures.py) is imported
only when a PDF comes in, so processes that never see one do not pay for it.
The trust anchors are a function of the time they are asked for (``Anchors``):
today a configured list of files (``DOCLEDGER_TRUST_ANCHORS``), later the
anchors the ledger's history holds at that time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from domain.errors import InvalidInputError
from domain.evidence.pdf_report import Findings
from domain.evidence.timestamp import read_certificates
from infrastructure.blobs import BlobStore

PDF_MAGIC = b"%PDF-"

Anchors = Callable[[datetime], Sequence[bytes]]  # the DER trust anchors at a time


def is_pdf(data: bytes) -> bool:
    """A PDF by content: its first bytes are ``%PDF-`` (whatever its name or media type)."""
    return data.startswith(PDF_MAGIC)


class PdfAttachmentReader:
    """``AttachmentValidator`` of the ledger (domain/evidence/pdf_report.py): reads a
    held blob and, if it is a PDF, validates its signatures at the command's time."""

    def __init__(self, blobs: BlobStore, anchors: Anchors) -> None:
        self.blobs = blobs
        self.anchors = anchors

    def validate(self, sha256: str, at: datetime) -> Findings | None:
        path = self.blobs.verified_path(sha256)
        with path.open("rb") as blob:
            if not is_pdf(blob.read(len(PDF_MAGIC))):
                return None
        from infrastructure.pdf_signatures import read_signatures

        return read_signatures(path.read_bytes(), anchors=self.anchors(at), at=at)


def load_anchors(paths: Sequence[Path]) -> list[bytes]:
    """The DER certificates in the PEM or DER files ``paths``."""
    anchors: list[bytes] = []
    for path in paths:
        try:
            anchors += read_certificates(path.read_bytes())
        except OSError as exc:
            raise InvalidInputError(f"cannot read trust anchor {path}: {exc.strerror}") from None
    return anchors


def configured_anchors(paths: Sequence[Path]) -> Anchors:
    """The anchors of the settings' files, the same at every time (read once)."""
    anchors = load_anchors(paths)
    return lambda at: anchors
