"""From an edXML message to the ledger's commands of the acting agency (docs/edxml.md,
"Mapping to the ledger"), and the header fields back (for the export).

Pure: no ledger is read. A document message is recorded by its sender
(``From``), a status message by the agency that sends it (``From``). Each planned
command's id is derived from what it says (acting agency, type, fields), never
from the message's bytes, so a message imported again, or the ledger's own export
of it, plans the very same command ids: the ledger refuses a second command under
a recorded id (``command-id-conflict``) and writes nothing, which the importer
reports as recorded before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import ForbiddenError, InvalidInputError
from domain.exchange.codes import Status, check_agency_code
from domain.exchange.commands import SOURCED
from domain.exchange.document import Document
from domain.exchange.edxml.errors import EdxmlInvalidValueError, EdxmlMissingElementError
from domain.exchange.edxml.model import (
    Attachment,
    BusinessDocType,
    DocumentMessage,
    Message,
    ReceiverType,
    StatusMessage,
)

STAFF = "văn thư"  # the actor's staff when the message names none
# What the ledger requires and a message may leave out: written back as is on export.
NO_TYPE_NAME = "Văn bản"
NO_PLACE = "Không ghi"
NO_SIGNER = "Không ghi"
REASONS = {BusinessDocType.RECALL: "Thu hồi văn bản", BusinessDocType.UPDATE: "Cập nhật văn bản",
           BusinessDocType.REPLACE: "Thay thế văn bản"}
# edXML SteeringType (1 not a directive, 2 directive, 3 report; builders also send 0)
# -> the ledger's steering_type (0, 1, 2), and back
STEERING_IN = {"0": 0, "1": 0, "2": 1, "3": 2}
STEERING_OUT = {0: "1", 1: "2", 2: "3"}
# the commands whose version 2 takes ``source`` (docs/commands.md)
SOURCED_TYPES = frozenset({*SOURCED, "document.revise"})


@dataclass(frozen=True, kw_only=True)
class PlannedCommand:
    """One command to sign as the acting agency: ``source`` (the message as
    received) is added to ``fields`` by the importer where ``sourced``."""

    type: str
    fields: dict[str, Any]
    staff: str
    command_id: str

    @property
    def sourced(self) -> bool:
        return self.type in SOURCED_TYPES


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What one message becomes: the commands, the attachment bytes they need in
    the blob store, and, when it becomes none, why."""

    agency: str
    document: UUID
    commands: tuple[PlannedCommand, ...]
    blobs: tuple[bytes, ...] = ()
    note: str = ""


def plan_import(message: Message, agency: str, *,
                organ_ids: Mapping[str, str] | None = None) -> Plan:
    """The commands ``agency`` signs to record ``message``, or raise.

    ``organ_ids`` translates the OrganIds of the wild that are not the ledger's
    13-character codes (``28.22.H17``) into the codes of the agencies they name,
    as the importing agency knows them (docs/edxml.md, "Agency codes")."""
    codes = Codes(organ_ids or {})
    sender = codes.ledger(message.sender.organ_id, "From/OrganId")
    if sender != agency:
        raise ForbiddenError(
            f"a {'status' if isinstance(message, StatusMessage) else 'document'} message is "
            f"recorded by the agency that sends it (From/OrganId {message.sender.organ_id}), "
            f"not by {agency}")
    if isinstance(message, StatusMessage):
        return _status_plan(message, agency, codes)
    return _document_plan(message, agency, codes)


def command_id(agency: str, type_: str, fields: dict[str, Any]) -> str:
    """The id of the command ``agency`` gives with ``fields``: what it says, not
    the bytes it came in."""
    said = json.dumps([agency, type_, fields], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return "edxml-" + hashlib.sha256(said.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Codes:
    """The ledger's agency code of each OrganId a message names: the OrganId itself
    when it is one, else its translation (``organ_ids``), else a refusal naming it."""

    organ_ids: Mapping[str, str]

    def ledger(self, organ_id: str, element: str) -> str:
        code = self.organ_ids.get(organ_id, organ_id)
        try:
            return check_agency_code(code)
        except InvalidInputError as exc:
            hint = ("" if organ_id in self.organ_ids else
                    f"; name the agency {organ_id} stands for with --organ-id "
                    f"{organ_id}=<code> (DOCLEDGER_EDXML_ORGAN_IDS)")
            raise EdxmlInvalidValueError(f"{exc}; the ledger knows agencies by their "
                                         f"13-character code{hint}", element=element) from None


def _planned(agency: str, type_: str, fields: dict[str, Any], staff: str) -> PlannedCommand:
    return PlannedCommand(type=type_, fields=fields, staff=staff,
                          command_id=command_id(agency, type_, fields))


# ---- document messages -----------------------------------------------------------------


def _document_plan(m: DocumentMessage, agency: str, codes: Codes) -> Plan:
    staff = (m.business.staff.staff if m.business and m.business.staff
             and m.business.staff.staff else STAFF)
    reason = (m.business.reason if m.business and m.business.reason
              else REASONS.get(m.doc_type, ""))
    files, blobs = attachments(m.attachments)
    own = Document.id_for(agency, m.document_id)
    to = [codes.ledger(o.organ_id, "To/OrganId") for o in m.recipients]
    kind = m.doc_type
    if kind is BusinessDocType.NEW:
        h = header(m, codes)
        doc = str(own)
        # a copy an agency addresses to itself (the axis's own test messages) is
        # its document, issued; the ledger delivers only to other agencies
        others = [code for code in to if code != agency]
        send = (_planned(agency, "document.send", {"document": doc, "recipients": others},
                         staff),) if others else ()
        return Plan(agency=agency, document=own, blobs=blobs, commands=(
            _planned(agency, "document.create",
                     {"document_id": m.document_id, "header": h, "attachments": files}, staff),
            _planned(agency, "document.sign", {"document": doc, "signer": h["signer"]},
                     h["signer"]["full_name"]),
            _planned(agency, "document.issue", {"document": doc}, staff),
            *send,
        ), note="" if others else (
            f"addressed only to its own sender {agency}: recorded as issued, not sent "
            "(the ledger delivers to other agencies)"))
    if kind is BusinessDocType.RECALL:
        return Plan(agency=agency, document=own, commands=(_planned(
            agency, "delivery.recall",
            {"document": str(own), "recipients": sorted(to), "reason": reason}, staff),))
    if kind is BusinessDocType.UPDATE:
        added, removed = receiver_changes(m, codes)
        info = m.business.document_info if m.business else None
        # DocumentInfo 1: the metadata changed (the header as the message has it)
        revised = header(m, codes) if info and info.document_info == "1" else None
        if not (files or added or removed or revised):
            # e.g. the copy of an update that adds or removes only other agencies: the
            # addressee was told, and nothing it holds changes (the bytes are the record)
            return Plan(agency=agency, document=own, commands=(), note=(
                "the update changes nothing of this copy (no files, header or recipients "
                "of it): nothing to record"))
        return Plan(agency=agency, document=own, blobs=blobs, commands=(_planned(
            agency, "document.revise",
            {"document": str(own), "business_type": 2, "attachments": files or None,
             "reason": reason, "add_recipients": added, "remove_recipients": removed,
             **({"header": revised} if revised is not None else {})},
            staff),))
    replaced = [r.document_id for r in m.business.replacements] if m.business else []
    # each replaced document once (the sample lists one twice)
    targets = list(dict.fromkeys(Document.id_for(agency, d) for d in replaced or [m.document_id]))
    return Plan(agency=agency, document=targets[0], blobs=blobs, commands=tuple(_planned(
        agency, "document.revise",
        {"document": str(target), "business_type": 3, "attachments": files or None,
         "reason": reason, "add_recipients": [], "remove_recipients": []}, staff)
        for target in targets))


def receiver_changes(m: DocumentMessage, codes: Codes) -> tuple[list[str], list[str]]:
    """An update's ``ReceiverList``: the agencies added and removed, each sorted."""
    info = m.business.document_info if m.business else None
    receivers = info.receivers if info else ()
    added = sorted(codes.ledger(r.organ_id, "Receiver/OrganId") for r in receivers
                   if r.receiver_type is ReceiverType.ADDED)
    removed = sorted(codes.ledger(r.organ_id, "Receiver/OrganId") for r in receivers
                     if r.receiver_type is ReceiverType.REMOVED)
    return added, removed


def attachments(found: tuple[Attachment, ...]) -> tuple[list[dict[str, Any]], tuple[bytes, ...]]:
    """The ledger's attachment entries (the bytes as transferred: a zip stays a zip)
    and the bytes the blob store must hold."""
    files, blobs = [], []
    for a in found:
        if a.sha256 is None or a.size is None:
            raise EdxmlMissingElementError(
                f"attachment {a.name!r} has neither bytes nor a digest", element="Attachment")
        files.append({"name": a.name,
                      "media_type": a.content_type or a.declared_type
                      or "application/octet-stream",
                      "size": a.size, "sha256": a.sha256})
        if a.content is not None:
            blobs.append(a.content)
    return files, tuple(blobs)


def header(m: DocumentMessage, codes: Codes | None = None) -> dict[str, Any]:
    """The ledger's header fields (commands.Header) of a document message."""
    t = m.document_type
    signer = m.signer
    other = m.other_info
    priority = other.priority if other and other.priority in ("0", "1", "2", "3", "4") else "0"
    return {
        "code_notation": m.code.notation,
        "document_type": {
            "type": int(t.type) if t and t.type and t.type.isdigit() and int(t.type) <= 999
            else 0,
            "type_name": t.type_name if t and t.type_name else NO_TYPE_NAME},
        "subject": m.subject or m.content or m.code.text,
        "promulgation_place": m.promulgation.place or NO_PLACE,
        "promulgation_date": m.promulgation.date.isoformat(),
        "signer": {"competence": signer.competence or "" if signer else "",
                   "position": signer.position or "" if signer else "",
                   "full_name": signer.full_name or NO_SIGNER if signer else NO_SIGNER},
        "priority": int(priority),
        "steering_type": STEERING_IN.get(m.steering_type or "0", 0),
        "due_date": None if m.due_date is None else m.due_date.isoformat(),
        "to_places": list(m.to_places),
        "response_for": response_for(m, codes or Codes({})),
    }


def response_for(m: DocumentMessage, codes: Codes) -> dict[str, Any] | None:
    """The first complete ``ResponseFor`` naming a ledger agency; the others are kept
    only in the message (the evidence)."""
    for r in m.response_for:
        if None in (r.organ_id, r.code, r.promulgation_date, r.document_id):
            continue
        try:
            organ_id = codes.ledger(str(r.organ_id), "ResponseFor/OrganId")
        except InvalidInputError:
            continue
        assert r.promulgation_date is not None
        return {"organ_id": organ_id, "code": r.code,
                "promulgation_date": r.promulgation_date.isoformat(),
                "document_id": r.document_id}
    return None


# ---- status messages --------------------------------------------------------------------


def _status_plan(m: StatusMessage, agency: str, codes: Codes) -> Plan:
    code, r = m.status_code, m.response_for
    assert r.organ_id is not None and r.document_id is not None  # the model requires them
    addressee = codes.ledger(r.organ_id, "ResponseFor/OrganId")
    # 13 goes from the document's sender to a recipient; every other code back
    sender = agency if code == Status.RECALL_REQUESTED else addressee
    doc = Document.id_for(sender, r.document_id)
    staff = m.staff.staff if m.staff and m.staff.staff else STAFF
    text = m.description or ""
    ref = {"document": str(doc)}
    if code == Status.ARRIVED:
        return Plan(agency=agency, document=doc, commands=(), note=(
            "status 01 (arrived) is the ledger's own statement, recorded when the "
            "document was sent: nothing to sign"))
    fields: dict[str, tuple[str, dict[str, Any]]] = {
        Status.REFUSED: ("delivery.refuse", {**ref, "reason": text or "Từ chối tiếp nhận"}),
        Status.ACCEPTED: ("delivery.accept", ref),
        Status.ASSIGNED: ("delivery.assign", {
            **ref, "lead_unit": m.staff.department if m.staff and m.staff.department
            else "Lãnh đạo", "instructions": text}),
        Status.IN_PROGRESS: ("delivery.progress", {**ref, "note": text}),
        Status.COMPLETED: ("delivery.complete", {**ref, "note": text}),
        Status.RECALL_REQUESTED: ("delivery.recall", {
            **ref, "recipients": [addressee], "reason": text or REASONS[BusinessDocType.RECALL]}),
        Status.RECALL_AGREED: ("delivery.answer_recall", {
            **ref, "agree": True, "reason": text or "Đồng ý"}),
        Status.RECALL_REFUSED: ("delivery.answer_recall", {
            **ref, "agree": False, "reason": text or "Từ chối"}),
    }
    if code not in fields:
        raise EdxmlInvalidValueError(
            f"status code {code} has no ledger command (the ledger records 01–06, 13, 15 "
            "and 16)", element="StatusCode")
    type_, f = fields[code]
    return Plan(agency=agency, document=doc, commands=(_planned(agency, type_, f, staff),))
