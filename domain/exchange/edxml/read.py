"""Reading an edXML tree into the model: the structure, element by element
(docs/edxml.md, "Format"). The tree has passed ``parse``'s hostile-input checks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from domain.exchange.edxml import zipped
from domain.exchange.edxml.elements import (
    Element,
    Kids,
    build,
    count_of,
    date_of,
    flag_of,
    is_empty,
    local,
    organ_id_of,
    qname,
    raw_element,
    status_code_of,
    text_of,
    timestamp_of,
)
from domain.exchange.edxml.errors import (
    EdxmlAttachmentError,
    EdxmlError,
    EdxmlInvalidValueError,
    EdxmlMissingElementError,
)
from domain.exchange.edxml.model import (
    DOCLEDGER_NS,
    EDXML_NS,
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentMessage,
    DocumentType,
    Message,
    Organization,
    OtherInfo,
    PromulgationInfo,
    RawElement,
    Receiver,
    ReceiverType,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusMessage,
    TraceHeader,
    check_content_type,
)


class Reader:
    """Reads one message; collects unknown elements outside MessageHeader."""

    def __init__(self) -> None:
        self.header_extra: list[RawElement] = []

    def kids(self, parent: Element, *known: str) -> Kids:
        return Kids(parent, known)

    def outer(self, parent: Element, *known: str) -> Kids:
        kids = Kids(parent, known)
        self.header_extra.extend(kids.extra)
        return kids

    # -- the message ----------------------------------------------------------

    def message(self, root: Element) -> Message:
        top = self.outer(root, "edXMLEnvelope", "AttachmentEncoded")
        envelope = self.outer(top.need("edXMLEnvelope"), "edXMLHeader", "edXMLBody")
        header_element = envelope.need("edXMLHeader")
        header = self.outer(header_element, "MessageHeader", "TraceHeaderList",
                            "Signature")
        if len(header.signatures) > 1:
            raise EdxmlInvalidValueError("Signature appears twice", element="Signature",
                                         line=header.signatures[1].sourceline)
        signature = raw_element(header.signatures[0]) if header.signatures else None
        message_header = header.need("MessageHeader")
        traces, business = self.trace_list(header.one("TraceHeaderList"))
        if message_header.find(f"{{{EDXML_NS}}}StatusCode") is not None:
            if business is not None:
                trace_list = header.need("TraceHeaderList")
                found = trace_list.find(f"{{{EDXML_NS}}}Bussiness")
                raise EdxmlInvalidValueError(
                    "a status message carries no Bussiness", element="Bussiness",
                    line=(found if found is not None else trace_list).sourceline)
            # a body or attachments have no meaning in a status: kept as evidence
            body = envelope.one("edXMLBody")
            self.header_extra.extend(raw_element(e) for e in (
                ([] if body is None else [body]) + top.many("AttachmentEncoded")))
            return self.status(message_header, traces, signature)
        attachments = self.attachments(envelope.one("edXMLBody"),
                                       top.many("AttachmentEncoded"))
        return self.document(message_header, traces, business, signature, attachments)

    def document(self, header: Element, traces: tuple[TraceHeader, ...],
                 business: Business | None, signature: RawElement | None,
                 attachments: tuple[Attachment, ...]) -> DocumentMessage:
        kids = self.kids(header, "From", "To", "DocumentId", "Code", "PromulgationInfo",
                         "DocumentType", "Subject", "Content", "SignerInfo", "DueDate",
                         "OtherInfo", "ResponseFor", "SteeringType", "ToPlaces")
        recipients = tuple(self.organization(e) for e in kids.many("To"))
        if not recipients:
            raise EdxmlMissingElementError("MessageHeader has no To",
                                           element="MessageHeader/To",
                                           line=header.sourceline)
        promulgation = self.promulgation(kids.need("PromulgationInfo"))
        to_places = kids.one("ToPlaces")
        return build(header, lambda: DocumentMessage(
            sender=self.organization(kids.need("From")),
            recipients=recipients,
            document_id=kids.need_text("DocumentId"),
            code=self.code(kids.need("Code")),
            promulgation=promulgation,
            document_type=kids.convert("DocumentType", self.document_type),
            subject=kids.text("Subject"),
            content=kids.text("Content"),
            signer=kids.convert("SignerInfo", self.signer),
            due_date=kids.convert("DueDate", date_of),
            other_info=kids.convert("OtherInfo", self.other_info),
            response_for=tuple(r for e in kids.many("ResponseFor")
                               if (r := self.response_for(e)) is not None),
            steering_type=kids.text("SteeringType"),
            to_places=() if to_places is None else self.texts(to_places, "Place"),
            traces=traces,
            business=business,
            signature=signature,
            attachments=attachments,
            extra=tuple(kids.extra),
            header_extra=tuple(self.header_extra),
        ))

    def status(self, header: Element, traces: tuple[TraceHeader, ...],
               signature: RawElement | None) -> StatusMessage:
        kids = self.kids(header, "From", "To", "ResponseFor", "StaffInfo", "StatusCode",
                         "Description", "Timestamp")
        response_for = self.response_for(kids.need("ResponseFor"))
        if response_for is None:
            raise EdxmlMissingElementError("a status message's ResponseFor is empty",
                                           element="ResponseFor",
                                           line=kids.need("ResponseFor").sourceline)
        timestamp = timestamp_of(kids.need("Timestamp"))
        if timestamp is None:
            raise EdxmlMissingElementError("Timestamp is empty", element="Timestamp",
                                           line=kids.need("Timestamp").sourceline)
        return build(header, lambda: StatusMessage(
            sender=self.organization(kids.need("From")),
            recipients=tuple(self.organization(e) for e in kids.many("To")),
            response_for=response_for,
            status_code=status_code_of(kids.need("StatusCode")),
            timestamp=timestamp,
            staff=kids.convert("StaffInfo", self.staff),
            description=kids.text("Description"),
            traces=traces,
            signature=signature,
            extra=tuple(kids.extra),
            header_extra=tuple(self.header_extra),
        ))

    # -- MessageHeader parts --------------------------------------------------

    def organization(self, element: Element) -> Organization:
        kids = self.kids(element, "OrganId", "OrganizationInCharge", "OrganName",
                         "OrganAdd", "Email", "Telephone", "Fax", "Website")
        return build(element, lambda: Organization(
            organ_id=organ_id_of(kids.need("OrganId")),
            organization_in_charge=kids.text("OrganizationInCharge"),
            organ_name=kids.text("OrganName"), organ_add=kids.text("OrganAdd"),
            email=kids.text("Email"), telephone=kids.text("Telephone"),
            fax=kids.text("Fax"), website=kids.text("Website"),
            extra=tuple(kids.extra)))

    def code(self, element: Element) -> Code:
        if len(element) == 0:
            # the joined form "7816/VPCP-TTĐT", as ResponseFor carries it
            text = text_of(element) or ""
            number, slash, notation = text.partition("/")
            if not (number and slash and notation):
                raise EdxmlMissingElementError(
                    "Code has no CodeNumber and CodeNotation", element="Code",
                    line=element.sourceline)
            return build(element, lambda: Code(number.strip(), notation.strip()))
        kids = self.kids(element, "CodeNumber", "CodeNotation")
        return build(element, lambda: Code(
            kids.need_text("CodeNumber"), kids.need_text("CodeNotation"),
            extra=tuple(kids.extra)))

    def promulgation(self, element: Element) -> PromulgationInfo:
        kids = self.kids(element, "Place", "PromulgationDate")
        day = date_of(kids.need("PromulgationDate"))
        if day is None:
            raise EdxmlMissingElementError("PromulgationDate is empty",
                                           element="PromulgationDate",
                                           line=kids.need("PromulgationDate").sourceline)
        return build(element, lambda: PromulgationInfo(
            date=day, place=kids.text("Place"), extra=tuple(kids.extra)))

    def document_type(self, element: Element) -> DocumentType:
        kids = self.kids(element, "Type", "TypeDetail", "TypeName")
        return build(element, lambda: DocumentType(
            type=kids.text("Type"), type_detail=kids.text("TypeDetail"),
            type_name=kids.text("TypeName"), extra=tuple(kids.extra)))

    def signer(self, element: Element) -> SignerInfo:
        kids = self.kids(element, "Competence", "Position", "FullName")
        return build(element, lambda: SignerInfo(
            competence=kids.text("Competence"), position=kids.text("Position"),
            full_name=kids.text("FullName"), extra=tuple(kids.extra)))

    def other_info(self, element: Element) -> OtherInfo:
        kids = self.kids(element, "Priority", "SphereOfPromulgation", "TyperNotation",
                         "PromulgationAmount", "PageAmount", "Direction", "Appendixes")
        appendixes = kids.one("Appendixes")
        return build(element, lambda: OtherInfo(
            priority=kids.text("Priority"),
            sphere_of_promulgation=kids.text("SphereOfPromulgation"),
            typer_notation=kids.text("TyperNotation"),
            promulgation_amount=kids.convert("PromulgationAmount", count_of),
            page_amount=kids.convert("PageAmount", count_of),
            direction=kids.convert("Direction", flag_of),
            appendixes=() if appendixes is None else self.texts(appendixes, "Appendix"),
            extra=tuple(kids.extra)))

    def texts(self, element: Element, name: str) -> tuple[str, ...]:
        """The non-empty texts of a list element's ``name`` children (ToPlaces/Place)."""
        kids = self.kids(element, name)
        if kids.extra:
            raise EdxmlInvalidValueError(f"{local(element)} holds only {name}",
                                         element=local(element),
                                         line=element.sourceline)
        return tuple(t for e in kids.many(name) if (t := text_of(e)) is not None)

    def response_for(self, element: Element) -> ResponseFor | None:
        if is_empty(element):
            return None  # present but empty in the VNPT test files
        kids = self.kids(element, "OrganId", "Code", "PromulgationDate", "DocumentId")
        organ = kids.one("OrganId")
        return build(element, lambda: ResponseFor(
            organ_id=None if organ is None or is_empty(organ) else organ_id_of(organ),
            code=kids.text("Code"),
            promulgation_date=kids.convert("PromulgationDate", date_of),
            document_id=kids.text("DocumentId"),
            extra=tuple(kids.extra)))

    def staff(self, element: Element) -> StaffInfo:
        kids = self.kids(element, "Department", "Staff", "Email", "Mobile")
        return build(element, lambda: StaffInfo(
            department=kids.text("Department"), staff=kids.text("Staff"),
            email=kids.text("Email"), mobile=kids.text("Mobile"),
            extra=tuple(kids.extra)))

    # -- TraceHeaderList ------------------------------------------------------

    def trace_list(self, element: Element | None
                   ) -> tuple[tuple[TraceHeader, ...], Business | None]:
        if element is None:
            return (), None
        kids = self.outer(element, "TraceHeader", "Bussiness")
        traces = tuple(self.trace(e) for e in kids.many("TraceHeader"))
        return traces, kids.convert("Bussiness", self.business)

    def trace(self, element: Element) -> TraceHeader:
        kids = self.kids(element, "OrganId", "Timestamp")
        return build(element, lambda: TraceHeader(
            organ_id=kids.text("OrganId"),
            timestamp=kids.convert("Timestamp", timestamp_of),
            extra=tuple(kids.extra)))

    def business(self, element: Element) -> Business:
        kids = self.kids(element, "DocumentId", "BussinessDocType", "BussinessDocReason",
                         "Paper", "BussinessDocumentInfo", "ReplacementInfoList",
                         "StaffInfo")
        kind = kids.need("BussinessDocType")
        kind_text = text_of(kind)
        if kind_text not in ("0", "1", "2", "3"):
            raise EdxmlInvalidValueError(
                f"BussinessDocType {kind_text!r} is not 0 (new), 1 (recall), 2 (update) "
                "or 3 (replace)", element="BussinessDocType", line=kind.sourceline)
        replacements = kids.one("ReplacementInfoList")
        return build(element, lambda: Business(
            doc_type=BusinessDocType(int(kind_text)),
            document_id=kids.text("DocumentId"),
            reason=kids.text("BussinessDocReason"),
            paper=kids.text("Paper"),
            document_info=kids.convert("BussinessDocumentInfo", self.document_info),
            replacements=() if replacements is None else self.replacements(replacements),
            staff=kids.convert("StaffInfo", self.staff),
            extra=tuple(kids.extra)))

    def document_info(self, element: Element) -> BusinessDocumentInfo:
        kids = self.kids(element, "DocumentInfo", "DocumentReceiver", "ReceiverList")
        receivers = kids.one("ReceiverList")
        return build(element, lambda: BusinessDocumentInfo(
            document_info=kids.text("DocumentInfo"),
            document_receiver=kids.text("DocumentReceiver"),
            receivers=() if receivers is None else tuple(
                self.receiver(e) for e in self.only(receivers, "Receiver")),
            extra=tuple(kids.extra)))

    def receiver(self, element: Element) -> Receiver:
        kids = self.kids(element, "OrganId", "ReceiverType")
        kind = kids.need("ReceiverType")
        kind_text = text_of(kind)
        if kind_text not in ("0", "1"):
            raise EdxmlInvalidValueError(
                f"ReceiverType {kind_text!r} is not 0 (removed) or 1 (added)",
                element="ReceiverType", line=kind.sourceline)
        return build(element, lambda: Receiver(
            organ_id=organ_id_of(kids.need("OrganId")),
            receiver_type=ReceiverType(int(kind_text)), extra=tuple(kids.extra)))

    def replacements(self, element: Element) -> tuple[ReplacementInfo, ...]:
        return tuple(self.replacement(e) for e in self.only(element, "ReplacementInfo"))

    def replacement(self, element: Element) -> ReplacementInfo:
        kids = self.kids(element, "DocumentId", "OrganIdList")
        organs = kids.one("OrganIdList")
        return build(element, lambda: ReplacementInfo(
            document_id=kids.need_text("DocumentId"),
            organ_ids=() if organs is None else tuple(
                organ_id_of(e) for e in self.only(organs, "OrganId")),
            extra=tuple(kids.extra)))

    def only(self, element: Element, name: str) -> list[Element]:
        """The children of a list element, all of which must be ``name``."""
        kids = self.kids(element, name)
        if kids.extra:
            raise EdxmlInvalidValueError(f"{local(element)} holds only {name}",
                                         element=local(element), line=element.sourceline)
        return kids.many(name)

    # -- body and attachments -------------------------------------------------

    def attachments(self, body: Element | None, encoded: list[Element]
                    ) -> tuple[Attachment, ...]:
        references: list[Element] = []
        if body is not None:
            manifest = self.outer(body, "edXMLManifest").one("edXMLManifest")
            if manifest is not None:
                references = self.outer(manifest, "Reference").many("Reference")
        payloads: dict[str, Element] = {}
        for container in encoded:
            for element in self.outer(container, "Attachment").many("Attachment"):
                content_id = Kids(element, ("ContentId",)).need_text("ContentId")
                if content_id in payloads:
                    raise EdxmlInvalidValueError(
                        f"two attachments have ContentId {content_id}",
                        element="ContentId", line=element.sourceline)
                payloads[content_id] = element
        result: list[Attachment] = []
        listed: set[str] = set()
        for reference in references:
            content_id = Kids(reference, ("ContentId",)).need_text("ContentId")
            if content_id in listed:
                raise EdxmlInvalidValueError(
                    f"two manifest References have ContentId {content_id}",
                    element="ContentId", line=reference.sourceline)
            listed.add(content_id)
            result.append(self.attachment(reference, payloads.pop(content_id, None)))
        result.extend(self.attachment(None, element) for element in payloads.values())
        return tuple(result)

    def attachment(self, reference: Element | None, payload: Element | None
                   ) -> Attachment:
        names = ("ContentId", "ContentType", "Description", "AttachmentName")
        ref = self.kids(reference, *names) if reference is not None else None
        att = self.kids(payload, *names, "ContentTransferEncoded") \
            if payload is not None else None
        where = payload if payload is not None else reference
        assert where is not None
        digest = _digest(reference)
        content = None if att is None else _content(att.need("ContentTransferEncoded"))
        name = (att.text("AttachmentName") if att else None) or \
            (ref.text("AttachmentName") if ref else None)
        if name is None:
            raise EdxmlMissingElementError("the attachment has no AttachmentName",
                                           element=f"{local(where)}/AttachmentName",
                                           line=where.sourceline)
        content_type = att.text("ContentType") if att else None
        if att is not None and content is not None:
            self.check_payload(att, content, content_type, digest)
        ref_name = ref.text("AttachmentName") if ref else None
        att_description = att.text("Description") if att else None
        ref_description = ref.text("Description") if ref else None
        description = att_description or ref_description
        return build(where, lambda: Attachment(
            content_id=Kids(where, ("ContentId",)).need_text("ContentId"),
            name=name,
            content_type=content_type,
            declared_type=ref.text("ContentType") if ref else None,
            description=description,
            content=content,
            sha256=digest[0] if content is None and digest else _sha256(content),
            size=digest[1] if content is None and digest else _size(content),
            manifest_name=ref_name if ref_name not in (None, name) else None,
            manifest_description=ref_description
            if ref_description not in (None, description) else None,
            in_manifest=ref is not None,
            extra=tuple(att.extra) if att else (),
            manifest_extra=tuple(ref.extra) if ref else (),
        ))

    @staticmethod
    def check_payload(att: Kids, content: bytes, content_type: str | None,
                      digest: tuple[str, int] | None) -> None:
        encoded = att.need("ContentTransferEncoded")
        type_element = att.one("ContentType")
        try:
            check_content_type(content_type, content)
        except EdxmlError as error:
            where = type_element if type_element is not None else encoded
            raise error.at("ContentType", where.sourceline) from None
        if digest is not None and (_sha256(content), len(content)) != digest:
            raise EdxmlAttachmentError(
                f"the manifest declares sha256 {digest[0]} ({digest[1]} bytes) but the "
                f"bytes have {_sha256(content)} ({len(content)} bytes)",
                element="ContentTransferEncoded", line=encoded.sourceline)
        if content.startswith(b"PK\x03\x04"):
            zipped.inspect_zip(content, line=encoded.sourceline)


def _sha256(content: bytes | None) -> str | None:
    return None if content is None else hashlib.sha256(content).hexdigest()


def _size(content: bytes | None) -> int | None:
    return None if content is None else len(content)


_BASE64_SPACE = re.compile(r"\s+")


def _content(element: Element) -> bytes:
    for child in element:
        raise EdxmlInvalidValueError("ContentTransferEncoded holds base64 text only",
                                     element=local(child), line=child.sourceline)
    text = _BASE64_SPACE.sub("", element.text or "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EdxmlInvalidValueError("ContentTransferEncoded is not base64",
                                     element="ContentTransferEncoded",
                                     line=element.sourceline) from None


_HEX = re.compile(r"[0-9a-f]{64}")


def _digest(reference: Element | None) -> tuple[str, int] | None:
    """docledger's digest extension on a manifest Reference, if present."""
    if reference is None:
        return None
    found = [e for e in reference if qname(e) == (DOCLEDGER_NS, "Digest")]
    if not found:
        return None
    if len(found) > 1:
        raise EdxmlInvalidValueError("Digest appears twice", element="Digest",
                                     line=found[1].sourceline)
    element = found[0]
    value = (element.text or "").strip()
    size = element.get("size", "")
    if element.get("algorithm") != "sha-256" or not _HEX.fullmatch(value) \
            or not size.isascii() or not size.isdigit():
        raise EdxmlInvalidValueError(
            'Digest is algorithm="sha-256" size="N" and 64 lowercase hex digits',
            element="Digest", line=element.sourceline)
    return value, int(size)

