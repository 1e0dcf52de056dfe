"""What each command does: checks who may act, then changes aggregates.

Who may give a command is the catalogue's word (domain/exchange/catalogue.py):
the registrar's commands and key changes are checked from it before the
handler runs; the sender and the recipient are known only from the document,
so the handlers of their commands check them (``senders_document``,
``recipients_delivery``). Each handler returns the aggregates to save (in a
fixed order, so replaying a command reproduces the same log) and a small
result for the caller.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives import serialization

from domain.errors import (
    DuplicateError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidCommandError,
    NotFoundError,
)
from domain.evidence.certificates import (
    Anchor,
    b64,
    certificate_from_b64,
    check_anchor,
    check_issuer,
    fingerprint,
    validate_agency_certificate,
)
from domain.evidence.incoming_stamp import copy_name, stamp_text, stamped_statement
from domain.evidence.keys import PublicKey
from domain.evidence.pdf_report import Findings, validated_statement, with_revocation
from domain.evidence.revocation import certificate_ref, read_crl, read_ocsp
from domain.evidence.statements import arrived_statement
from domain.exchange import commands as c
from domain.exchange.agency import Agency
from domain.exchange.auditor import Auditor
from domain.exchange.catalogue import CATALOGUE, Role
from domain.exchange.codes import VIETNAM_TIME, register_year
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document, DocumentState
from domain.exchange.ids import REGISTRAR, ROOT_ID
from domain.exchange.records import Record
from domain.exchange.register import Direction, NumberRegister
from domain.exchange.revocations import KnownRevocation, RevocationEvidence
from domain.exchange.root import LedgerRoot
from domain.exchange.trust import TrustAnchors
from domain.ledger.context import Context, Handler

Result = tuple[list[Record], dict[str, Any]]


# ---- who may act -------------------------------------------------------------


def require_registrar(ctx: Context) -> None:
    if ctx.actor != REGISTRAR:
        raise ForbiddenError(f"only the registrar may {ctx.command.type}")


def require_self_or_registrar(ctx: Context, code: str) -> None:
    if ctx.actor not in (REGISTRAR, code):
        raise ForbiddenError(f"agency {ctx.actor} may not manage keys of {code}")


def authorise(ctx: Context) -> None:
    """The catalogue's role for the command, where it needs no record to check."""
    role = CATALOGUE[ctx.command.type].role
    if role is Role.REGISTRAR:
        require_registrar(ctx)
    elif role is Role.KEY_HOLDER:
        require_self_or_registrar(ctx, ctx.fields.code)


def senders_document(ctx: Context, document: UUID) -> Document:
    doc = ctx.find(Document, document)
    if doc is None or (doc.sender != ctx.actor and ctx.actor not in doc.recipients):
        raise NotFoundError(f"document {document} does not exist")
    if doc.sender != ctx.actor:
        raise ForbiddenError(f"only the sender {doc.sender} may {ctx.command.type}")
    return doc


def recipients_delivery(ctx: Context, document: UUID) -> Delivery:
    delivery = ctx.find(Delivery, Delivery.id_for(document, ctx.actor))
    if delivery is not None:
        return delivery
    doc = ctx.find(Document, document)
    if doc is not None and doc.sender == ctx.actor:
        raise ForbiddenError(f"only a recipient may {ctx.command.type}")
    raise NotFoundError(f"document {document} was not sent to {ctx.actor}")


def check_attachments(ctx: Context, attachments: list[c.Attachment]) -> list[dict[str, Any]]:
    if ctx.app.blobs is not None:
        for a in attachments:
            ctx.app.blobs.check(a.sha256, a.size)
    return [a.model_dump(mode="json") for a in attachments]


def read_signatures(ctx: Context, document_type: int, attachments: list[dict[str, Any]],
                    already: dict[str, str] | None = None
                    ) -> list[tuple[dict[str, Any], Findings]]:
    """The findings on each PDF attachment's signatures (once per digest, none for
    one reported on before), checked against the policy before anything is written."""
    validator = ctx.app.attachment_validator
    if validator is None:
        return []
    anchors: list[bytes] | None = None  # read once, and only if there is a file to read
    found: dict[str, tuple[dict[str, Any], Findings]] = {}
    for a in attachments:
        if a["sha256"] in found or a["sha256"] in (already or {}):
            continue
        if anchors is None:
            anchors = [anchor.certificate.public_bytes(serialization.Encoding.DER)
                       for anchor in anchors_in_force(ctx)]
        findings = validator.validate(a["sha256"], ctx.at, anchors)
        if findings is not None:
            findings = judge_revocations(ctx, findings)
            ctx.app.pdf_policy.check(document_type, a, findings)
            found[a["sha256"]] = (a, findings)
    return list(found.values())


def judge_revocations(ctx: Context, findings: Findings) -> Findings:
    """Each signer judged by the revocation evidence the ledger held at this command's
    time (``revocation.record``, docs/trust.md): a signer revoked at or before it
    makes its signature invalid, one revoked later does not."""
    evidence = ctx.read(RevocationEvidence, RevocationEvidence.id_for())
    return replace(findings, signatures=[
        with_revocation(s, signer_revocation(s, evidence, ctx.at))
        for s in findings.signatures])


def signer_revocation(signature: dict[str, Any], evidence: RevocationEvidence | None,
                      at: datetime) -> KnownRevocation | None:
    certificates = (signature.get("evidence") or {}).get("certificates") or []
    signer = (signature.get("signer") or {}).get("sha256")
    for text in certificates if evidence is not None else []:
        cert = certificate_from_b64(text)
        if fingerprint(cert.public_bytes(serialization.Encoding.DER)) == signer:
            assert evidence is not None
            return evidence.revoked_at(certificate_ref(cert), at)
    return None


def anchors_in_force(ctx: Context) -> list[Anchor]:
    """The trust anchors the registrar's commands put in force at this command's time."""
    trust = ctx.read(TrustAnchors, TrustAnchors.id_for())
    return [] if trust is None else trust.in_force(ctx.at)


def record_reports(ctx: Context, doc: Document,
                   reports: list[tuple[dict[str, Any], Findings]]) -> None:
    """Each report as the ledger's signed statement, an event of the document."""
    anchors = [a.sha256 for a in anchors_in_force(ctx)] if reports else []
    for attachment, findings in reports:
        statement = validated_statement(
            command_id=ctx.command.command_id, document=str(doc.id), attachment=attachment,
            at=ctx.at, anchors=anchors, findings=findings)
        doc.record_validation(attachment["sha256"], findings.verdict,
                              envelope=ctx.ledger_envelope(statement), at=ctx.at)


def take_number(
    ctx: Context, agency: str, direction: Direction, entry: str
) -> tuple[list[Record], int, int]:
    """Take the next number of the agency's register for the act's year."""
    year = register_year(ctx.at)
    register = ctx.find(NumberRegister, NumberRegister.id_for(agency, direction, year))
    if register is None:
        register = NumberRegister.open(agency, direction, year, envelope=ctx.envelope, at=ctx.at)
    number = register.take_number(entry, envelope=ctx.envelope, at=ctx.at)
    return [register], number, year


# ---- the ledger and its agencies ---------------------------------------------


def ledger_init(ctx: Context) -> Result:
    f: c.LedgerInit = ctx.fields
    if ctx.find(LedgerRoot, ROOT_ID) is not None:
        raise DuplicateError("the ledger is already initialised")
    if f.ledger_key.keyid != ctx.app.ledger_signer.keyid:
        raise InvalidCommandError("ledger_key is not the key this ledger signs with")
    for spec in (f.registrar_key, f.ledger_key):
        PublicKey.from_spec(spec.model_dump())
    root = LedgerRoot._create(
        LedgerRoot.Initialised, id=ROOT_ID, envelope=ctx.envelope, timestamp=ctx.at,
        origin=f.origin, registrar_key=f.registrar_key.model_dump(),
        ledger_key=f.ledger_key.model_dump(),
        max_clock_skew_seconds=f.max_clock_skew_seconds,
    )
    return [root], {"origin": f.origin}


def register_party(ctx: Context, cls: type[Agency] | type[Auditor], party: str,
                   **fields: str) -> Record:
    """A new agency or auditor with its keys, registered by the registrar."""
    what = cls.__name__.lower()
    if ctx.find(cls, cls.id_for(party)) is not None:
        raise DuplicateError(f"{what} {party} is already registered")
    keys = [PublicKey.from_spec(k.model_dump()).to_spec() for k in ctx.fields.keys]
    return cls._create(cls.Registered, id=cls.id_for(party), envelope=ctx.envelope,
                       timestamp=ctx.at, name=ctx.fields.name, keys=keys, **fields)


def agency_register(ctx: Context) -> Result:
    f: c.AgencyRegister = ctx.fields
    return [register_party(ctx, Agency, f.code, code=f.code)], {"agency": f.code}


def agency_add_key(ctx: Context) -> Result:
    f: c.AgencyAddKey = ctx.fields
    agency = ctx.get(Agency, Agency.id_for(f.code), f"agency {f.code}")
    key = PublicKey.from_spec(f.key.model_dump())
    agency.add_key(key, envelope=ctx.envelope, at=ctx.at)
    return [agency], {"agency": f.code, "keyid": key.keyid}


def agency_revoke_key(ctx: Context) -> Result:
    f: c.AgencyRevokeKey = ctx.fields
    agency = ctx.get(Agency, Agency.id_for(f.code), f"agency {f.code}")
    agency.revoke_key(f.keyid, f.reason, envelope=ctx.envelope, at=ctx.at)
    return [agency], {"agency": f.code, "keyid": f.keyid}


def agency_add_cert(ctx: Context) -> Result:
    """A key an X.509 certificate vouches for, validated against the trust anchors
    in force at the ledger's time (domain/evidence/certificates.py)."""
    f: c.AgencyAddCert = ctx.fields
    if f.registrar_binding and ctx.actor != REGISTRAR:
        raise ForbiddenError("only the registrar may bind a certificate to an agency its "
                             "subject does not name")
    agency = ctx.get(Agency, Agency.id_for(f.code), f"agency {f.code}")
    trust = ctx.read(TrustAnchors, TrustAnchors.id_for())
    cert = certificate_from_b64(f.certificate)
    chain = [certificate_from_b64(text, f"chain[{i}]") for i, text in enumerate(f.chain)]
    certified = validate_agency_certificate(
        cert, chain, anchors=[] if trust is None else trust.in_force(ctx.at), at=ctx.at,
        code=f.code, algorithm=f.algorithm, registrar_binding=f.registrar_binding)
    agency.add_certificate(certified, certificate=f.certificate, chain=list(f.chain),
                           envelope=ctx.envelope, at=ctx.at)
    return [agency], {"agency": f.code, "keyid": certified.key.keyid,
                      "algorithm": certified.key.algorithm, "binding": certified.binding,
                      "not_after": certified.not_after.isoformat()}


def trust_add_anchor(ctx: Context) -> Result:
    f: c.TrustAddAnchor = ctx.fields
    cert = certificate_from_b64(f.certificate, "trust anchor")
    check_anchor(cert, f.code_attribute)
    trust = ctx.find(TrustAnchors, TrustAnchors.id_for())
    if trust is None:
        trust = TrustAnchors.open(envelope=ctx.envelope, at=ctx.at)
    der = cert.public_bytes(serialization.Encoding.DER)  # the bytes given: canonical DER
    trust.add(sha256=fingerprint(der), certificate=b64(der), code_attribute=f.code_attribute,
              subject=cert.subject.rfc4514_string(), envelope=ctx.envelope, at=ctx.at)
    return [trust], {"anchor": fingerprint(der), "subject": cert.subject.rfc4514_string()}


def trust_remove_anchor(ctx: Context) -> Result:
    f: c.TrustRemoveAnchor = ctx.fields
    trust = ctx.get(TrustAnchors, TrustAnchors.id_for(), "the trust anchors")
    trust.remove(f.sha256, f.reason, envelope=ctx.envelope, at=ctx.at)
    return [trust], {"anchor": f.sha256}


def revocation_record(ctx: Context) -> Result:
    """CRLs and OCSP responses, each checked against its issuer (a CA certificate that
    is, or chains directly to, a trust anchor in force), recorded with what they say."""
    f: c.RevocationRecord = ctx.fields
    trust = ctx.read(TrustAnchors, TrustAnchors.id_for())
    anchors = [] if trust is None else trust.in_force(ctx.at)
    evidence = ctx.find(RevocationEvidence, RevocationEvidence.id_for())
    if evidence is None:
        evidence = RevocationEvidence.open(envelope=ctx.envelope, at=ctx.at)
    revoked = 0
    for i, item in enumerate(f.evidence):
        issuer = certificate_from_b64(item.issuer, f"evidence[{i}].issuer")
        check_issuer(issuer, anchors, ctx.at)
        try:
            der = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidCommandError(f"evidence[{i}].data is not base64") from None
        facts = (read_crl if item.kind == "crl" else read_ocsp)(der, issuer)
        evidence.record(facts, evidence=item.data, issuer_certificate=item.issuer,
                        envelope=ctx.envelope, at=ctx.at)
        revoked += len(facts.revoked)
    return [evidence], {"recorded": len(f.evidence), "revocations": revoked}


def auditor_register(ctx: Context) -> Result:
    f: c.AuditorRegister = ctx.fields
    return [register_party(ctx, Auditor, f.auditor_id, auditor_id=f.auditor_id)], {
        "auditor": f.auditor_id}


def auditor_revoke_key(ctx: Context) -> Result:
    f: c.AuditorRevokeKey = ctx.fields
    auditor = ctx.get(Auditor, Auditor.id_for(f.auditor_id), f"auditor {f.auditor_id}")
    auditor.revoke_key(f.keyid, f.reason, envelope=ctx.envelope, at=ctx.at)
    return [auditor], {"auditor": f.auditor_id, "keyid": f.keyid}


# ---- documents ---------------------------------------------------------------


def document_create(ctx: Context) -> Result:
    f: c.DocumentCreate = ctx.fields
    if ctx.actor == REGISTRAR:
        raise ForbiddenError("the registrar does not send documents")
    doc_id = Document.id_for(ctx.actor, f.document_id)
    if ctx.find(Document, doc_id) is not None:
        raise DuplicateError(
            f"document {f.document_id!r} of {ctx.actor} already exists ({doc_id})"
        )
    attachments = check_attachments(ctx, f.attachments)
    reports = read_signatures(ctx, f.header.document_type.type, attachments)
    doc = Document._create(
        Document.Created, id=doc_id, envelope=ctx.envelope, timestamp=ctx.at,
        sender=ctx.actor, document_id=f.document_id,
        header=f.header.model_dump(mode="json"), attachments=attachments,
    )
    record_reports(ctx, doc, reports)
    return [doc], {"document": str(doc_id)}


def document_sign(ctx: Context) -> Result:
    f: c.DocumentSign = ctx.fields
    doc = senders_document(ctx, f.document)
    doc.sign(f.signer.model_dump(), envelope=ctx.envelope, at=ctx.at)
    return [doc], {"document": str(doc.id)}


def document_issue(ctx: Context) -> Result:
    f: c.DocumentRef = ctx.fields
    doc = senders_document(ctx, f.document)
    doc.check_state(DocumentState.SIGNED, act="issue")
    registers, number, year = take_number(ctx, doc.sender, "outgoing", str(doc.id))
    doc.issue(number, year, envelope=ctx.envelope, at=ctx.at)
    return [doc, *registers], {"document": str(doc.id), "number": number,
                              "reference": doc.reference, "year": year}


def document_send(ctx: Context) -> Result:
    f: c.DocumentSend = ctx.fields
    doc = senders_document(ctx, f.document)
    check_recipients(ctx, doc, f.recipients)
    doc.send(list(f.recipients), envelope=ctx.envelope, at=ctx.at)
    deliveries: list[Record] = [dispatch(ctx, doc, code) for code in f.recipients]
    return [doc, *deliveries], {"document": str(doc.id), "deliveries": [
        str(d.id) for d in deliveries]}


def check_recipients(ctx: Context, doc: Document, codes: list[str]) -> None:
    for code in codes:
        if code == doc.sender:
            raise InvalidCommandError("a document cannot be sent to its own sender")
        if ctx.read(Agency, Agency.id_for(code)) is None:
            raise NotFoundError(f"recipient agency {code} does not exist")


def dispatch(ctx: Context, doc: Document, code: str) -> Delivery:
    """The delivery of ``doc`` to ``code``, arrived (01) on the ledger's word."""
    delivery = Delivery._create(
        Delivery.Dispatched, id=Delivery.id_for(doc.id, code),
        envelope=ctx.envelope, timestamp=ctx.at, document=str(doc.id),
        sender=doc.sender, recipient=code, reference=doc.reference,
        priority=doc.header["priority"], due_date=doc.header["due_date"],
    )
    arrived = arrived_statement(
        command_id=ctx.command.command_id, document=str(doc.id),
        recipient=code, at=ctx.at,
    )
    delivery.arrive(envelope=ctx.ledger_envelope(arrived), at=ctx.at)
    return delivery


def document_revise(ctx: Context) -> Result:
    f: c.DocumentRevise = ctx.fields
    doc = senders_document(ctx, f.document)
    attachments = check_attachments(ctx, f.attachments)
    reports = read_signatures(ctx, doc.header["document_type"]["type"], attachments,
                              doc.validated)
    doc.revise(f.business_type, attachments, f.reason, envelope=ctx.envelope, at=ctx.at)
    record_reports(ctx, doc, reports)
    changed: list[Record] = [doc]
    for code in doc.recipients:
        delivery = ctx.get(Delivery, Delivery.id_for(doc.id, code), "delivery")
        if delivery.is_live:
            delivery.revise(f.business_type, doc.revision, attachments,
                            envelope=ctx.envelope, at=ctx.at)
            changed.append(delivery)
    return changed, {"document": str(doc.id), "revision": doc.revision}


def document_revise_v2(ctx: Context) -> Result:
    """An update or replacement that may also add and remove recipients: a removed
    recipient's delivery ends (Removed, terminal), an added one is dispatched and
    arrives as by document.send, the other live ones are revised."""
    f: c.DocumentReviseV2 = ctx.fields
    doc = senders_document(ctx, f.document)
    doc.check_state(DocumentState.SENT, act="update or replace")
    for code in f.remove_recipients:
        if code not in doc.recipients:
            raise NotFoundError(f"document {doc.id} was not sent to {code}")
        ctx.get(Delivery, Delivery.id_for(doc.id, code), "delivery").check_can("remove")
    again = sorted(set(f.add_recipients) & set(doc.recipients))
    if again:
        raise DuplicateError(f"document {doc.id} was already sent to {', '.join(again)} "
                             "(a removed recipient is not added again)")
    check_recipients(ctx, doc, f.add_recipients)
    attachments = (doc.attachments if f.attachments is None
                   else check_attachments(ctx, f.attachments))
    document_type = (doc.header["document_type"]["type"] if f.header is None
                     else f.header.document_type.type)  # the type as revised
    reports = [] if f.attachments is None else read_signatures(
        ctx, document_type, attachments, doc.validated)
    before = list(doc.recipients)
    doc.revise(f.business_type, attachments, f.reason, envelope=ctx.envelope, at=ctx.at)
    record_reports(ctx, doc, reports)
    header = None if f.header is None else f.header.model_dump(mode="json")
    if header is not None and header != doc.header:
        doc.revise_header(header, envelope=ctx.envelope, at=ctx.at)
    if f.add_recipients:
        doc.send(list(f.add_recipients), envelope=ctx.envelope, at=ctx.at)
    changed: list[Record] = [doc]
    for code in before:
        delivery = ctx.get(Delivery, Delivery.id_for(doc.id, code), "delivery")
        if code in f.remove_recipients:
            delivery.remove(doc.revision, f.reason, envelope=ctx.envelope, at=ctx.at)
        elif delivery.is_live:
            delivery.revise(f.business_type, doc.revision, attachments,
                            envelope=ctx.envelope, at=ctx.at)
        else:
            continue
        changed.append(delivery)
    changed += [dispatch(ctx, doc, code) for code in f.add_recipients]
    return changed, {"document": str(doc.id), "revision": doc.revision,
                     "added": list(f.add_recipients), "removed": list(f.remove_recipients)}


def sourced(rules: Handler) -> Handler:
    """Version 2 of a command an imported message became: its ``source`` (the message
    as received) must be in the blob store, then version 1's rules."""

    def run(ctx: Context) -> Result:
        check_source(ctx)
        return rules(ctx)

    return run


def check_source(ctx: Context) -> None:
    """The source's bytes are the ledger's, and its XML signature says what the
    command records of it (when the ledger is handed the command: a replay has
    neither the bytes nor the policy of the day, and re-checks neither)."""
    source: c.Source | None = getattr(ctx.fields, "source", None)
    if source is None:
        return
    if ctx.app.blobs is not None:
        ctx.app.blobs.check(source.sha256, source.size)
    if ctx.app.sources is not None:
        ctx.app.sources.check(source, ctx.at)


# ---- deliveries --------------------------------------------------------------


def delivery_accept(ctx: Context) -> Result:
    delivery = recipients_delivery(ctx, ctx.fields.document)
    delivery.check_can("accept")
    registers, number, year = take_number(ctx, ctx.actor, "incoming", str(delivery.id))
    delivery.accept(number, year, envelope=ctx.envelope, at=ctx.at)
    stamp_copies(ctx, delivery, number, year)
    return [delivery, *registers], {"delivery": str(delivery.id), "incoming_number": number,
                                    "year": year}


def stamp_copies(ctx: Context, delivery: Delivery, number: int, year: int) -> None:
    """The incoming number and date ("dấu đến") on a copy of each PDF of the document,
    kept as a file of the delivery on the ledger's word; the originals stay as sent."""
    stamper = ctx.app.incoming_stamper
    if stamper is None:
        return
    doc = ctx.read(Document, UUID(delivery.document))
    assert doc is not None  # a delivery exists only for a sent document
    if not doc.attachments:
        return
    on = ctx.at.astimezone(VIETNAM_TIME).date()
    text = stamp_text(recipient=ctx.actor, number=number, on=on)
    for original in {a["sha256"]: a for a in doc.attachments}.values():
        copy = stamper.stamp(original["sha256"], name=copy_name(original["name"], number),
                             text=text)
        if copy is None:
            continue
        statement = stamped_statement(
            command_id=ctx.command.command_id, document=delivery.document,
            recipient=ctx.actor, number=number, year=year, on=on, original=original,
            copy=copy, at=ctx.at)
        delivery.record_stamp(original["sha256"], statement["copy"],
                              envelope=ctx.ledger_envelope(statement), at=ctx.at)


def delivery_refuse(ctx: Context) -> Result:
    delivery = recipients_delivery(ctx, ctx.fields.document)
    delivery.refuse(ctx.fields.reason, envelope=ctx.envelope, at=ctx.at)
    return [delivery], {"delivery": str(delivery.id)}


def delivery_assign(ctx: Context) -> Result:
    f: c.DeliveryAssign = ctx.fields
    delivery = recipients_delivery(ctx, f.document)
    delivery.assign(
        lead_unit=f.lead_unit, officer=f.officer, co_units=list(f.co_units),
        instructions=f.instructions,
        due_date=None if f.due_date is None else f.due_date.isoformat(),
        envelope=ctx.envelope, at=ctx.at,
    )
    return [delivery], {"delivery": str(delivery.id)}


def delivery_progress(ctx: Context) -> Result:
    delivery = recipients_delivery(ctx, ctx.fields.document)
    delivery.report_progress(ctx.fields.note, envelope=ctx.envelope, at=ctx.at)
    return [delivery], {"delivery": str(delivery.id)}


def delivery_complete(ctx: Context) -> Result:
    delivery = recipients_delivery(ctx, ctx.fields.document)
    delivery.complete(ctx.fields.note, envelope=ctx.envelope, at=ctx.at)
    return [delivery], {"delivery": str(delivery.id)}


def delivery_recall(ctx: Context) -> Result:
    f: c.RecallRequest = ctx.fields
    doc = senders_document(ctx, f.document)
    codes = doc.recipients if f.recipients is None else list(f.recipients)
    deliveries = []
    for code in codes:
        if code not in doc.recipients:
            raise NotFoundError(f"document {doc.id} was not sent to {code}")
        delivery = ctx.get(Delivery, Delivery.id_for(doc.id, code), "delivery")
        if f.recipients is None and not delivery.is_live:
            continue
        delivery.request_recall(f.reason, envelope=ctx.envelope, at=ctx.at)
        deliveries.append(delivery)
    if not deliveries:
        raise IllegalTransitionError(f"document {doc.id} has no delivery left to recall")
    return list(deliveries), {"document": str(doc.id),
                              "recipients": [d.recipient for d in deliveries]}


def delivery_answer_recall(ctx: Context) -> Result:
    f: c.RecallAnswer = ctx.fields
    delivery = recipients_delivery(ctx, f.document)
    delivery.answer_recall(f.agree, f.reason, envelope=ctx.envelope, at=ctx.at)
    return [delivery], {"delivery": str(delivery.id), "agreed": f.agree}


HANDLERS: dict[str, Handler] = {
    "ledger.init": ledger_init,
    "agency.register": agency_register,
    "agency.add_key": agency_add_key,
    "agency.revoke_key": agency_revoke_key,
    "auditor.register": auditor_register,
    "auditor.revoke_key": auditor_revoke_key,
    "trust.add_anchor": trust_add_anchor,
    "trust.remove_anchor": trust_remove_anchor,
    "agency.add_cert": agency_add_cert,
    "revocation.record": revocation_record,
    "document.create": document_create,
    "document.sign": document_sign,
    "document.issue": document_issue,
    "document.send": document_send,
    "document.revise": document_revise,
    "delivery.accept": delivery_accept,
    "delivery.refuse": delivery_refuse,
    "delivery.assign": delivery_assign,
    "delivery.progress": delivery_progress,
    "delivery.complete": delivery_complete,
    "delivery.recall": delivery_recall,
    "delivery.answer_recall": delivery_answer_recall,
}

# Rules changed after commands were signed under them: (type, schema version) ->
# the handler of that version. A version not named here runs HANDLERS[type], so
# history keeps the rules it was written under (docs/changing-commands.md).
VERSIONED_HANDLERS: dict[tuple[str, int], Handler] = {
    ("document.revise", 2): sourced(document_revise_v2),
    **{(type_, 2): sourced(HANDLERS[type_]) for type_ in c.SOURCED},
}


def handler_for(command: c.Command) -> Handler:
    """The rules ``command`` is executed (and replayed) under: who may give it
    (the catalogue), then its handler."""
    rules = VERSIONED_HANDLERS.get((command.type, command.schema_version),
                                   HANDLERS[command.type])
    return partial(_authorised, rules)


def _authorised(rules: Handler, ctx: Context) -> Result:
    authorise(ctx)
    return rules(ctx)
