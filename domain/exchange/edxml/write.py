"""The strict edXML writer: one canonical form for every model value.

The form (docs/edxml.md, "Canonical output") follows the VNPT SDK's files, the
ones the axis and the provincial hubs are known to read: UTF-8 without a BOM, an
XML declaration, LF line ends, two-space indentation, the root ``edXML``
declaring the edXML namespace both as default and as the prefix ``edXML``; the
envelope's elements prefixed ``edXML:``, ``AttachmentEncoded`` unprefixed but for
``edXML:ContentTransferEncoded``; children in one fixed order; dates
``yyyy/MM/dd``; timestamps ``yyyy/MM/dd HH:mm:ss`` in Vietnam's time without a
zone (as the SDKs write and read them); base64 on one line. Elements kept as
evidence are written back as their canonical XML, at the end of their parent.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import date, datetime

from domain.exchange.edxml.model import (
    DOCLEDGER_NS,
    EDXML_NS,
    Attachment,
    Business,
    Code,
    DocumentMessage,
    DocumentType,
    Message,
    Organization,
    OtherInfo,
    PromulgationInfo,
    RawElement,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusMessage,
    TraceHeader,
    vietnam_time,
)

_Leaf = str | int | bool | date | None


def write_edxml(message: Message) -> bytes:
    """The canonical edXML bytes of ``message``."""
    out = _Out()
    out.line('<?xml version="1.0" encoding="UTF-8"?>')
    out.open("edXML", f' xmlns="{EDXML_NS}" xmlns:edXML="{EDXML_NS}"')
    out.open("edXML:edXMLEnvelope")
    out.open("edXML:edXMLHeader")
    if isinstance(message, DocumentMessage):
        _document_header(out, message)
        _trace_list(out, message.traces, message.business)
        if message.signature is not None:
            out.raw((message.signature,))
    else:
        _status_header(out, message)
        _trace_list(out, message.traces, None)
        if message.signature is not None:
            out.raw((message.signature,))
    out.raw(message.header_extra)
    out.close("edXML:edXMLHeader")
    if isinstance(message, DocumentMessage):
        _body(out, message.attachments)
    out.close("edXML:edXMLEnvelope")
    if isinstance(message, DocumentMessage):
        _attachment_encoded(out, message.attachments)
    out.close("edXML")
    return out.bytes()


class _Out:
    """Lines of output, indented by nesting."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str) -> None:
        self.lines.append("  " * self.depth + text)

    def open(self, name: str, attributes: str = "") -> None:
        self.line(f"<{name}{attributes}>")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.line(f"</{name}>")

    def leaf(self, name: str, value: _Leaf, prefix: str = "edXML:") -> None:
        if value is not None:
            self.line(f"<{prefix}{name}>{_escape(_leaf_text(value))}</{prefix}{name}>")

    def raw(self, elements: Iterable[RawElement]) -> None:
        for element in elements:
            self.line(element.xml)

    def bytes(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode("utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _leaf_text(value: str | int | bool | date) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"{vietnam_time(value):%Y/%m/%d %H:%M:%S}"
    if isinstance(value, date):
        return f"{value:%Y/%m/%d}"
    return str(int(value)) if isinstance(value, int) else value


# --- MessageHeader ---------------------------------------------------------------

def _document_header(out: _Out, m: DocumentMessage) -> None:
    out.open("edXML:MessageHeader")
    _organization(out, "From", m.sender)
    for recipient in m.recipients:
        _organization(out, "To", recipient)
    out.leaf("DocumentId", m.document_id)
    _code(out, m.code)
    _promulgation(out, m.promulgation)
    if m.document_type is not None:
        _document_type(out, m.document_type)
    out.leaf("Subject", m.subject)
    out.leaf("Content", m.content)
    if m.signer is not None:
        _signer(out, m.signer)
    out.leaf("DueDate", m.due_date)
    if m.other_info is not None:
        _other_info(out, m.other_info)
    for response_for in m.response_for:
        _response_for(out, response_for)
    out.leaf("SteeringType", m.steering_type)
    _list(out, "ToPlaces", "Place", m.to_places)
    out.raw(m.extra)
    out.close("edXML:MessageHeader")


def _status_header(out: _Out, m: StatusMessage) -> None:
    out.open("edXML:MessageHeader")
    _organization(out, "From", m.sender)
    for recipient in m.recipients:
        _organization(out, "To", recipient)
    _response_for(out, m.response_for)
    if m.staff is not None:
        _staff(out, m.staff)
    out.leaf("StatusCode", m.status_code)
    out.leaf("Description", m.description)
    out.leaf("Timestamp", m.timestamp)
    out.raw(m.extra)
    out.close("edXML:MessageHeader")


def _organization(out: _Out, name: str, o: Organization) -> None:
    out.open(f"edXML:{name}")
    out.leaf("OrganId", o.organ_id)
    out.leaf("OrganizationInCharge", o.organization_in_charge)
    out.leaf("OrganName", o.organ_name)
    out.leaf("OrganAdd", o.organ_add)
    out.leaf("Email", o.email)
    out.leaf("Telephone", o.telephone)
    out.leaf("Fax", o.fax)
    out.leaf("Website", o.website)
    out.raw(o.extra)
    out.close(f"edXML:{name}")


def _code(out: _Out, c: Code) -> None:
    out.open("edXML:Code")
    out.leaf("CodeNumber", c.number)
    out.leaf("CodeNotation", c.notation)
    out.raw(c.extra)
    out.close("edXML:Code")


def _promulgation(out: _Out, p: PromulgationInfo) -> None:
    out.open("edXML:PromulgationInfo")
    out.leaf("Place", p.place)
    out.leaf("PromulgationDate", p.date)
    out.raw(p.extra)
    out.close("edXML:PromulgationInfo")


def _document_type(out: _Out, t: DocumentType) -> None:
    out.open("edXML:DocumentType")
    out.leaf("Type", t.type)
    out.leaf("TypeDetail", t.type_detail)
    out.leaf("TypeName", t.type_name)
    out.raw(t.extra)
    out.close("edXML:DocumentType")


def _signer(out: _Out, s: SignerInfo) -> None:
    out.open("edXML:SignerInfo")
    out.leaf("Competence", s.competence)
    out.leaf("Position", s.position)
    out.leaf("FullName", s.full_name)
    out.raw(s.extra)
    out.close("edXML:SignerInfo")


def _other_info(out: _Out, o: OtherInfo) -> None:
    out.open("edXML:OtherInfo")
    out.leaf("Priority", o.priority)
    out.leaf("SphereOfPromulgation", o.sphere_of_promulgation)
    out.leaf("TyperNotation", o.typer_notation)
    out.leaf("PromulgationAmount", o.promulgation_amount)
    out.leaf("PageAmount", o.page_amount)
    out.leaf("Direction", o.direction)
    _list(out, "Appendixes", "Appendix", o.appendixes)
    out.raw(o.extra)
    out.close("edXML:OtherInfo")


def _response_for(out: _Out, r: ResponseFor) -> None:
    out.open("edXML:ResponseFor")
    out.leaf("OrganId", r.organ_id)
    out.leaf("Code", r.code)
    out.leaf("PromulgationDate", r.promulgation_date)
    out.leaf("DocumentId", r.document_id)
    out.raw(r.extra)
    out.close("edXML:ResponseFor")


def _staff(out: _Out, s: StaffInfo) -> None:
    out.open("edXML:StaffInfo")
    out.leaf("Department", s.department)
    out.leaf("Staff", s.staff)
    out.leaf("Email", s.email)
    out.leaf("Mobile", s.mobile)
    out.raw(s.extra)
    out.close("edXML:StaffInfo")


def _list(out: _Out, name: str, item: str, values: tuple[str, ...]) -> None:
    if values:
        out.open(f"edXML:{name}")
        for value in values:
            out.leaf(item, value)
        out.close(f"edXML:{name}")


# --- TraceHeaderList -------------------------------------------------------------

def _trace_list(out: _Out, traces: tuple[TraceHeader, ...], b: Business | None) -> None:
    if not traces and b is None:
        return
    out.open("edXML:TraceHeaderList")
    for trace in traces:
        out.open("edXML:TraceHeader")
        out.leaf("OrganId", trace.organ_id)
        out.leaf("Timestamp", trace.timestamp)
        out.raw(trace.extra)
        out.close("edXML:TraceHeader")
    if b is not None:
        _business(out, b)
    out.close("edXML:TraceHeaderList")


def _business(out: _Out, b: Business) -> None:
    out.open("edXML:Bussiness")
    out.leaf("DocumentId", b.document_id)
    out.leaf("BussinessDocType", int(b.doc_type))
    out.leaf("BussinessDocReason", b.reason)
    out.leaf("Paper", b.paper)
    if b.document_info is not None:
        info = b.document_info
        out.open("edXML:BussinessDocumentInfo")
        out.leaf("DocumentInfo", info.document_info)
        out.leaf("DocumentReceiver", info.document_receiver)
        if info.receivers:
            out.open("edXML:ReceiverList")
            for receiver in info.receivers:
                out.open("edXML:Receiver")
                out.leaf("OrganId", receiver.organ_id)
                out.leaf("ReceiverType", int(receiver.receiver_type))
                out.raw(receiver.extra)
                out.close("edXML:Receiver")
            out.close("edXML:ReceiverList")
        out.raw(info.extra)
        out.close("edXML:BussinessDocumentInfo")
    if b.replacements:
        out.open("edXML:ReplacementInfoList")
        for replacement in b.replacements:
            out.open("edXML:ReplacementInfo")
            out.leaf("DocumentId", replacement.document_id)
            _list(out, "OrganIdList", "OrganId", replacement.organ_ids)
            out.raw(replacement.extra)
            out.close("edXML:ReplacementInfo")
        out.close("edXML:ReplacementInfoList")
    if b.staff is not None:
        _staff(out, b.staff)
    out.raw(b.extra)
    out.close("edXML:Bussiness")


# --- body and attachments --------------------------------------------------------

def _body(out: _Out, attachments: tuple[Attachment, ...]) -> None:
    out.open("edXML:edXMLBody")
    listed = [a for a in attachments if a.in_manifest]
    if not listed:
        out.line('<edXML:edXMLManifest version="1.0"/>')
    else:
        out.open("edXML:edXMLManifest", ' version="1.0"')
        for a in listed:
            out.open("edXML:Reference")
            out.leaf("ContentId", a.content_id)
            out.leaf("ContentType", a.declared_type)
            out.leaf("Description", a.manifest_description or a.description)
            out.leaf("AttachmentName", a.manifest_name or a.name)
            if a.content is None and a.sha256 is not None and a.size is not None:
                out.line(f'<dl:Digest xmlns:dl="{DOCLEDGER_NS}" algorithm="sha-256" '
                         f'size="{a.size}">{a.sha256}</dl:Digest>')
            out.raw(a.manifest_extra)
            out.close("edXML:Reference")
        out.close("edXML:edXMLManifest")
    out.close("edXML:edXMLBody")


def _attachment_encoded(out: _Out, attachments: tuple[Attachment, ...]) -> None:
    carried = [a for a in attachments if a.content is not None]
    if not carried:
        return
    out.open("AttachmentEncoded")
    for a in carried:
        assert a.content is not None
        out.open("Attachment")
        out.leaf("ContentId", a.content_id, prefix="")
        out.leaf("AttachmentName", a.name, prefix="")
        out.leaf("Description", a.description, prefix="")
        out.leaf("ContentType", a.content_type, prefix="")
        encoded = base64.b64encode(a.content).decode("ascii")
        out.line(f"<edXML:ContentTransferEncoded>{encoded}</edXML:ContentTransferEncoded>")
        out.raw(a.extra)
        out.close("Attachment")
    out.close("AttachmentEncoded")
