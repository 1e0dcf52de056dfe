"""A document or a delivery of the ledger as edXML bytes, with the attachments'
bytes from the blob store (docs/edxml.md)."""

from __future__ import annotations

from uuid import UUID

from domain.errors import NotFoundError
from domain.exchange.edxml.write import write_edxml
from domain.ledger.application import DocLedger
from domain.ledger.edxml_export import Content, document_message, status_message
from infrastructure.blobs import BlobStore


def export_edxml(app: DocLedger, blobs: BlobStore, document: UUID,
                 recipient: str | None = None) -> bytes:
    """The canonical edXML of ``document`` (its sender's latest act), or with
    ``recipient`` the status message of its delivery to that agency."""
    if recipient is not None:
        return write_edxml(status_message(app, document, recipient))
    return write_edxml(document_message(app, document, content_of(blobs)))


def content_of(blobs: BlobStore) -> Content:
    """An attachment's bytes from the blob store, checked, or None if it lacks them."""

    def content(sha256: str) -> bytes | None:
        try:
            return blobs.verified_path(sha256).read_bytes()
        except NotFoundError:
            return None  # listed with its digest only

    return content
