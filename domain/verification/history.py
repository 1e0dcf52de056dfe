"""A document's history: every event of it and its deliveries, each verified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import KeyRevokedError, NotFoundError, UnknownKeyError, VerificationError
from domain.evidence.envelope import Envelope
from domain.evidence.keys import PublicKey
from domain.evidence.pdf_report import report_lines
from domain.exchange.agency import Agency
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.ids import REGISTRAR
from domain.exchange.records import Record
from domain.exchange.revocations import RevocationEvidence, check_not_revoked
from domain.ledger.application import DocLedger


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One verified event of a document's history."""

    at: str
    aggregate: str  # "document" or "delivery to <code>"
    aggregate_id: str
    version: int
    event: str
    status: str | None
    command: str
    actor: str
    staff: str
    signed_by: str  # agency code, "registrar" or "ledger"
    keyid: str
    # the ledger's report on a PDF attachment (attachment.validated), in lines for people
    detail: list[str] | None = None
    # the message the command was made from (schema 2 ``source``: its digest and
    # what its XML signature said), as the signed command records it
    source: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def document_history(app: DocLedger, document: UUID) -> list[HistoryEntry]:
    """Every event of ``document`` and its deliveries in order, signatures verified.

    Raises VerificationError naming the first event whose signature fails.
    """
    doc = app.find(Document, document)
    if doc is None:
        raise NotFoundError(f"document {document} does not exist")
    streams: list[tuple[str, list[Record.Event]]] = [("document", app.events_of(doc.id))]
    for code in doc.recipients:
        streams.append((f"delivery to {code}", app.events_of(Delivery.id_for(doc.id, code))))
    ordered = sorted(
        ((event.timestamp, i, event.originator_version, label, event)
         for i, (label, events) in enumerate(streams) for event in events),
        key=lambda row: row[:3],
    )
    return [_entry(app, label, event) for *_, label, event in ordered]


def _entry(app: DocLedger, label: str, event: Any) -> HistoryEntry:
    envelope = Envelope.from_dict(event.envelope)
    where = f"{label} v{event.originator_version}"
    try:
        signed_by, key, command, actor, staff = _signer(app, envelope, event)
        envelope.verify_with(key)
    except VerificationError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return HistoryEntry(
        at=event.timestamp.isoformat(),
        aggregate=label,
        aggregate_id=str(event.originator_id),
        version=event.originator_version,
        event=type(event).__name__,
        status=getattr(event, "status", None),
        command=command,
        actor=actor,
        staff=staff,
        signed_by=signed_by,
        keyid=key.keyid,
        detail=_detail(event, envelope),
        source=_source(envelope),
    )


def _detail(event: Any, envelope: Envelope) -> list[str] | None:
    """Lines for the ledger's statements on files: a PDF's signatures, a stamped copy."""
    if isinstance(event, Document.AttachmentValidated):
        return report_lines(json.loads(envelope.payload))
    if isinstance(event, Delivery.IncomingStamped):
        stamp = json.loads(envelope.payload)
        return [f"{stamp['copy']['name']}: copy of {stamp['original']['name']} stamped with "
                f"incoming no. {stamp['incoming_number']} of {stamp['registered_on']}"]
    return None


def _source(envelope: Envelope) -> dict[str, Any] | None:
    fields = json.loads(envelope.payload).get("fields")
    source = fields.get("source") if isinstance(fields, dict) else None
    return source if isinstance(source, dict) else None


def _signer(
    app: DocLedger, envelope: Envelope, event: Any
) -> tuple[str, PublicKey, str, str, str]:
    root = app.root()
    payload = json.loads(envelope.payload)
    if envelope.signature_by(root.ledger_key.keyid) is not None:
        return "ledger", root.ledger_key, payload.get("type", ""), "ledger", ""
    actor = payload["actor"]["agency"]
    staff = payload["actor"]["staff"]
    if actor == REGISTRAR:
        return REGISTRAR, root.registrar_key, payload["type"], actor, staff
    agency = app.find(Agency, Agency.id_for(actor))
    if agency is None:
        raise UnknownKeyError(f"agency {actor} is not registered")
    for sig in envelope.signatures:
        entry = agency.keys.get(sig.keyid)
        if entry is None:
            continue
        if not entry.valid_at(event.timestamp):
            raise KeyRevokedError(f"key {sig.keyid} was not valid at {event.timestamp}")
        if entry.ref is not None:
            check_not_revoked(entry.ref, sig.keyid, agency.owner,
                              app.find(RevocationEvidence, RevocationEvidence.id_for()),
                              event.timestamp)
        return actor, entry.key, payload["type"], actor, staff
    raise UnknownKeyError(f"no signature by a key of agency {actor}")
