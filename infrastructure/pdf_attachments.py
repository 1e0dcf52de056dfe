"""The ledger's reader of attachments: a blob that is a PDF has its signatures read.

This module stays light: pyHanko (infrastructure/pdf_signatures.py) is imported
only when a PDF comes in, so processes that never see one do not pay for it.
The trust anchors are the ledger's own (the registrar's ``trust.add_anchor``,
in force at the command's time): the handler hands them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.evidence.pdf_report import Findings
from infrastructure.blobs import BlobStore

PDF_MAGIC = b"%PDF-"


def is_pdf(data: bytes) -> bool:
    """A PDF by content: its first bytes are ``%PDF-`` (whatever its name or media type)."""
    return data.startswith(PDF_MAGIC)


class PdfAttachmentReader:
    """``AttachmentValidator`` of the ledger (domain/evidence/pdf_report.py): reads a
    held blob and, if it is a PDF, validates its signatures at the command's time."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def validate(self, sha256: str, at: datetime, anchors: Sequence[bytes]) -> Findings | None:
        path = self.blobs.verified_path(sha256)
        with path.open("rb") as blob:
            if not is_pdf(blob.read(len(PDF_MAGIC))):
                return None
        from infrastructure.pdf_signatures import read_signatures

        return read_signatures(path.read_bytes(), anchors=anchors, at=at)
