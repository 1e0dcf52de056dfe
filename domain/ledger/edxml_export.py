"""The ledger's documents and deliveries as edXML messages (docs/edxml.md, "Mapping to
the ledger"): what the import reads back to the same commands.

A document is exported as the message of its sender's latest act: the send (0),
the latest update or replacement (2, 3, with the receivers it added and removed)
or the latest recall (1). A delivery is exported as the status message of its
latest status code, from the recipient (from the sender for 13).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.errors import NotFoundError
from domain.exchange.agency import Agency
from domain.exchange.codes import Status
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.edxml.errors import EdxmlAttachmentError
from domain.exchange.edxml.mapping import NO_PLACE, NO_SIGNER, NO_TYPE_NAME, STEERING_OUT
from domain.exchange.edxml.model import (
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentMessage,
    DocumentType,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    ReceiverType,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusMessage,
    TraceHeader,
    vietnam_time,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.ledger.application import DocLedger

Content = Callable[[str], bytes | None]  # an attachment's bytes by sha256, if held


def document_message(app: DocLedger, document: UUID, content: Content, *,
                     until: datetime | None = None) -> DocumentMessage:
    """``document`` as the edXML message of its sender's latest act (with ``until``:
    its latest act recorded at or before that time, the document as it was then)."""
    doc = _document(app, document)
    events = _until(app.events_of(doc.id), until)
    if until is not None:
        doc = _document(app, document, version=events[-1].originator_version)
    deliveries = {code: _until(app.events_of(Delivery.id_for(doc.id, code)), until)
                  for code in doc.recipients}
    recalls = [e for evs in deliveries.values() for e in evs
               if isinstance(e, Delivery.RecallRequested)]
    acts: list[Any] = [e for e in events if isinstance(e, Document.Sent | Document.Revised)]
    acts += recalls
    # a document its sender addressed only to itself is issued, never sent
    latest = max(acts or [e for e in events if isinstance(e, Document.Issued)],
                 key=lambda e: e.timestamp)
    at = latest.timestamp
    removed = sorted(code for code, evs in deliveries.items()
                     if any(isinstance(e, Delivery.Removed) for e in evs))
    business: Business
    if isinstance(latest, Delivery.RecallRequested):
        code_of = {Delivery.id_for(doc.id, code): code for code in doc.recipients}
        to = sorted(code_of[e.originator_id] for e in recalls if e.timestamp == at)
        business = Business(doc_type=BusinessDocType.RECALL, document_id=doc.document_id,
                            reason=latest.reason, staff=_staff(latest))
    elif any(isinstance(e, Document.Revised) and e.timestamp == at for e in events):
        revised = next(e for e in events if isinstance(e, Document.Revised)
                       and e.timestamp == at)
        business, to = _revision(doc, events, deliveries, revised)
    else:
        business = Business(doc_type=BusinessDocType.NEW, document_id=doc.document_id,
                            staff=_staff(latest))
        to = [code for code in doc.recipients if code not in removed] or [doc.sender]
    message = _message(app, doc, to, business, at, content, _own_number(events, content))
    if business.doc_type is BusinessDocType.UPDATE and _said(latest, "attachments") is None:
        return replace(message, attachments=())  # the update left the files as they were
    return message


def _said(event: Any, name: str) -> Any:
    """The field ``name`` of the command that wrote ``event``, as it was signed."""
    payload = json.loads(base64.b64decode(event.envelope["payload"]))
    return (payload.get("fields") or {}).get(name)


def _revision(doc: Document, events: list[Any], deliveries: dict[str, list[Any]],
              revised: Any) -> tuple[Business, list[str]]:
    at = revised.timestamp
    added = sorted(code for e in events if isinstance(e, Document.Sent) and e.timestamp == at
                   for code in e.recipients)
    removed_now = sorted(code for code, evs in deliveries.items()
                         if any(isinstance(e, Delivery.Removed) and e.timestamp == at
                                for e in evs))
    gone = {code for code, evs in deliveries.items()
            if any(isinstance(e, Delivery.Removed) for e in evs)}
    to = [code for code in doc.recipients if code not in gone]
    kind = BusinessDocType(revised.business_type)
    receivers = tuple([Receiver(organ_id=c, receiver_type=ReceiverType.REMOVED)
                       for c in removed_now]
                      + [Receiver(organ_id=c, receiver_type=ReceiverType.ADDED) for c in added])
    # the update named the header as revised (DocumentInfo 1): the message's header
    # is the document's, which is that header now
    metadata = "1" if _said(revised, "header") is not None else None
    return Business(
        doc_type=kind, document_id=doc.document_id, reason=revised.reason,
        document_info=BusinessDocumentInfo(
            document_info=metadata, document_receiver="1" if receivers else None,
            receivers=receivers) if receivers or metadata else None,
        replacements=(ReplacementInfo(document_id=doc.document_id, organ_ids=tuple(to)),)
        if kind is BusinessDocType.REPLACE else (),
        staff=_staff(revised)), to


def _own_number(events: list[Any], content: Content) -> str | None:
    """The document's own number as issued (``CodeNumber``) in the message it was
    imported from, if it was and the ledger holds that message's bytes."""
    payload = json.loads(base64.b64decode(events[0].envelope["payload"]))
    source = (payload.get("fields") or {}).get("source")
    data = content(source["sha256"]) if isinstance(source, dict) else None
    if data is None:
        return None
    message = parse_edxml(data)
    return message.code.number if isinstance(message, DocumentMessage) else None


def _message(app: DocLedger, doc: Document, to: list[str], business: Business,
             at: datetime, content: Content, number: str | None) -> DocumentMessage:
    h = doc.header
    signer = h["signer"]
    return DocumentMessage(
        sender=_organization(app, doc.sender),
        recipients=tuple(_organization(app, code) for code in to),
        document_id=doc.document_id,
        code=Code(number=number or ("?" if doc.number is None else str(doc.number)),
                  notation=h["code_notation"]),
        promulgation=PromulgationInfo(
            date=date.fromisoformat(h["promulgation_date"]),
            place=None if h["promulgation_place"] == NO_PLACE else h["promulgation_place"]),
        document_type=DocumentType(
            type=str(h["document_type"]["type"]),
            type_name=None if h["document_type"]["type_name"] == NO_TYPE_NAME
            else h["document_type"]["type_name"]),
        subject=h["subject"],
        signer=SignerInfo(competence=signer.get("competence") or None,
                          position=signer.get("position") or None,
                          full_name=None if signer["full_name"] == NO_SIGNER
                          else signer["full_name"]),
        due_date=None if h.get("due_date") is None else date.fromisoformat(h["due_date"]),
        other_info=OtherInfo(priority=str(h.get("priority", 0))),
        response_for=_response_for(h.get("response_for")),
        steering_type=STEERING_OUT[h.get("steering_type", 0)],
        to_places=tuple(h.get("to_places") or ()),
        traces=(TraceHeader(organ_id=doc.sender, timestamp=_seconds(at)),),
        business=business,
        attachments=tuple(_attachment(i, a, content)
                          for i, a in enumerate(doc.attachments, start=1)),
    )


def status_message(app: DocLedger, document: UUID, recipient: str, *,
                   until: datetime | None = None) -> StatusMessage:
    """The status message of the delivery of ``document`` to ``recipient``: its latest
    status code (with ``until``: the latest recorded at or before that time), from the
    recipient (from the sender for 13)."""
    doc = _document(app, document)
    if recipient not in doc.recipients:
        raise NotFoundError(f"document {document} was not sent to {recipient}")
    events = [e for e in _until(app.events_of(Delivery.id_for(doc.id, recipient)), until)
              if hasattr(e, "status")]
    last = events[-1]
    code = last.status
    by_sender = code == Status.RECALL_REQUESTED
    h = doc.header
    number = "?" if doc.number is None else str(doc.number)
    text = (getattr(last, "reason", None) or getattr(last, "note", None)
            or getattr(last, "instructions", None) or None)
    staff = None if code == Status.ARRIVED else _staff(last, department=getattr(
        last, "lead_unit", None))
    return StatusMessage(
        sender=_organization(app, doc.sender if by_sender else recipient),
        response_for=ResponseFor(
            organ_id=recipient if by_sender else doc.sender,
            code=f"{number}/{h['code_notation']}",
            promulgation_date=date.fromisoformat(h["promulgation_date"]),
            document_id=doc.document_id),
        status_code=code, timestamp=_seconds(last.timestamp), staff=staff,
        description=text)


# ---- parts ----------------------------------------------------------------------------


def _document(app: DocLedger, document: UUID, version: int | None = None) -> Document:
    doc = app.find(Document, document) if version is None else app.find_version(
        Document, document, version)
    if doc is None or not (doc.recipients or doc.number is not None):
        raise NotFoundError(f"document {document} does not exist or was not issued")
    return doc


def _until(events: list[Any], until: datetime | None) -> list[Any]:
    return events if until is None else [e for e in events if e.timestamp <= until]


def _organization(app: DocLedger, code: str) -> Organization:
    agency = app.find(Agency, Agency.id_for(code))
    name = None if agency is None else agency.name.strip() or None
    return Organization(organ_id=code, organ_name=name)


def _staff(event: Any, department: str | None = None) -> StaffInfo | None:
    payload = json.loads(base64.b64decode(event.envelope["payload"]))
    who = (payload.get("actor") or {}).get("staff") or None
    if who is None and department is None:
        return None
    return StaffInfo(department=department, staff=who)


def _seconds(at: datetime) -> datetime:
    return vietnam_time(at).replace(microsecond=0)


def _response_for(r: dict[str, Any] | None) -> tuple[ResponseFor, ...]:
    if r is None:
        return ()
    return (ResponseFor(organ_id=r["organ_id"], code=r["code"],
                        promulgation_date=date.fromisoformat(r["promulgation_date"]),
                        document_id=r["document_id"]),)


def _attachment(i: int, a: dict[str, Any], content: Content) -> Attachment:
    data = content(a["sha256"])
    if data is not None:
        try:
            return Attachment.of(content_id=f"cid:{i}", name=a["name"], content=data,
                                 content_type=a["media_type"])
        except EdxmlAttachmentError:  # bytes that are not what their type says (a
            pass  # "qd.pdf" of any bytes): the canonical form will not carry them as such
    # the manifest lists it with its digest only (docledger's extension)
    return Attachment(content_id=f"cid:{i}", name=a["name"], declared_type=a["media_type"],
                      sha256=a["sha256"], size=a["size"])
