"""The liberal edXML parser: what the wild sends, read into the model.

Liberal where the field notes show the wild varies (docs/edxml.md, "Format"):
prefixed or unprefixed elements, ``Signature`` in the edXML or the XML-DSig
namespace, children in any order (``Bussiness`` before or after the
``TraceHeader``s), ``yyyy/MM/dd`` or ``dd/MM/yyyy`` dates, timestamps without a
zone (Vietnam's time), CRLF, a BOM, an empty ``ResponseFor``, attachments inline
or zipped. Strict everywhere else: every refusal is an ``EdxmlError`` naming the
element and its line, and hostile input (a DTD, entities, a zip bomb, an
oversized message) is refused before anything is expanded or fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

from lxml import etree

from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.edxml import zipped
from domain.exchange.edxml.errors import (
    EdxmlAttachmentError,
    EdxmlError,
    EdxmlHostileInputError,
    EdxmlInvalidValueError,
    EdxmlMissingElementError,
    EdxmlNamespaceError,
    EdxmlSyntaxError,
)
from domain.exchange.edxml.model import (
    DOCLEDGER_NS,
    EDXML_NS,
    XMLDSIG_NS,
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
    check_organ_id,
    check_text,
)

# A message with its attachments inline; larger ones are refused unread. libxml2
# without huge_tree also refuses a single text node over 10,000,000 bytes, which
# bounds one inline (base64) attachment at about 7.5 MB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

_Element = etree._Element
T = TypeVar("T")


def _parser() -> etree.XMLParser:
    # No entity is substituted, nothing is fetched, no DTD is loaded, and
    # libxml2's size limits stay on; comments and processing instructions are
    # not content.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
        dtd_validation=False, remove_comments=True, remove_pis=True,
        collect_ids=False,
    )


def parse_edxml(data: bytes) -> Message:
    """Read an edXML document or status message; raise ``EdxmlError`` if refused."""
    if not isinstance(data, bytes):
        raise EdxmlSyntaxError("an edXML message is bytes", element="edXML", line=None)
    if len(data) > MAX_MESSAGE_BYTES:
        raise EdxmlHostileInputError(
            f"message of {len(data)} bytes is larger than {MAX_MESSAGE_BYTES}",
            element="edXML", line=None)
    _refuse_doctype(data)
    root = _well_formed(data)
    _check_namespaces(root)
    if _qname(root) != (EDXML_NS, "edXML"):
        raise EdxmlNamespaceError(
            f"the root element is {_shown(root)}, not edXML in {EDXML_NS}",
            element=_shown(root), line=root.sourceline)
    return _Reader().message(root)


# --- hostile input and well-formedness -------------------------------------------

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<(?![?!])")


def _refuse_doctype(data: bytes) -> None:
    """Refuse a DTD in the prolog before the XML parser sees it: entities (the
    billion laughs, XXE) can only be declared there."""
    start = _FIRST_ELEMENT.search(data)
    prolog = data if start is None else data[:start.start()]
    found = _DOCTYPE.search(prolog)
    if found:
        raise EdxmlHostileInputError(
            "a DTD (DOCTYPE) is refused: edXML declares no entities",
            element="!DOCTYPE", line=prolog.count(b"\n", 0, found.start()) + 1)


def _well_formed(data: bytes) -> _Element:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise _syntax_error(error) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # a DOCTYPE the prolog scan missed (another encoding): still refused
        raise EdxmlHostileInputError("a DTD (DOCTYPE) is refused", element="!DOCTYPE",
                                     line=1)
    return root


def _syntax_error(error: etree.XMLSyntaxError) -> EdxmlError:
    line = error.lineno or None
    entry = error.error_log.last_error if error.error_log else None
    message = (entry.message if entry is not None else str(error)).strip()
    if "amplification" in message or "entity" in message.lower():
        return EdxmlHostileInputError(f"entities are refused ({message})",
                                      element="!ENTITY", line=line)
    if entry is not None and entry.domain_name == "NAMESPACE":
        match = re.search(r" on (\S+)", message)
        return EdxmlNamespaceError(message, element=match.group(1) if match else "?",
                                   line=line)
    match = re.search(r"tag mismatch: (\S+)|[Ee]lement (\S+)|tag (\S+)", message)
    element = next((g for g in match.groups() if g), "?") if match else "?"
    return EdxmlSyntaxError(f"not well-formed XML: {message}", element=element, line=line)


def _qname(element: _Element) -> tuple[str | None, str]:
    name = etree.QName(element)
    return name.namespace, name.localname


def _shown(element: _Element) -> str:
    """The element's name as the message spells it (prefix:local)."""
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else local


def _is_signature(element: _Element) -> bool:
    return _qname(element) in ((EDXML_NS, "Signature"), (XMLDSIG_NS, "Signature"))


def _check_namespaces(root: _Element) -> None:
    """Every element is in the edXML namespace, except inside ``Signature`` (kept
    as found) and docledger's digest extension."""
    stack = [root]
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            raise EdxmlHostileInputError("an entity reference is refused",
                                         element="!ENTITY", line=element.sourceline)
        namespace, local = _qname(element)
        if _is_signature(element) or (namespace, local) == (DOCLEDGER_NS, "Digest"):
            continue
        if namespace != EDXML_NS:
            raise EdxmlNamespaceError(
                f"namespace {namespace or '(none)'} is not edXML's ({EDXML_NS})",
                element=_shown(element), line=element.sourceline)
        stack.extend(reversed(list(element)))


# --- reading ---------------------------------------------------------------------

def _raw(element: _Element) -> RawElement:
    xml = etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    return RawElement(xml.decode("utf-8"))


def _local(element: _Element) -> str:
    return etree.QName(element).localname


class _Kids:
    """An element's children by local name; unknown ones become raw evidence."""

    def __init__(self, parent: _Element, known: tuple[str, ...]) -> None:
        self.parent = parent
        self.by_name: dict[str, list[_Element]] = {}
        self.extra: list[RawElement] = []
        for child in parent:
            name = _local(child)
            if _qname(child) == (DOCLEDGER_NS, "Digest"):
                continue  # docledger's digest extension, read by _digest
            if name in known and etree.QName(child).namespace == EDXML_NS:
                self.by_name.setdefault(name, []).append(child)
            else:
                self.extra.append(_raw(child))

    def many(self, name: str) -> list[_Element]:
        return self.by_name.get(name, [])

    def one(self, name: str) -> _Element | None:
        found = self.many(name)
        if len(found) > 1:
            raise EdxmlInvalidValueError(f"{name} appears {len(found)} times",
                                         element=name, line=found[1].sourceline)
        return found[0] if found else None

    def need(self, name: str) -> _Element:
        found = self.one(name)
        if found is None:
            raise EdxmlMissingElementError(
                f"{_local(self.parent)} has no {name}",
                element=f"{_local(self.parent)}/{name}", line=self.parent.sourceline)
        return found

    def text(self, name: str) -> str | None:
        found = self.one(name)
        return None if found is None else _text(found)

    def need_text(self, name: str) -> str:
        value = _text(self.need(name))
        if value is None:
            raise EdxmlMissingElementError(f"{name} is empty", element=name,
                                           line=self.need(name).sourceline)
        return value

    def convert(self, name: str, read: Callable[[_Element], T]) -> T | None:
        found = self.one(name)
        return None if found is None else read(found)


def _text(element: _Element) -> str | None:
    """An element's text, trimmed; ``None`` if empty. Elements inside are refused."""
    for child in element:
        raise EdxmlInvalidValueError(f"{_local(element)} holds text, not elements",
                                     element=_local(child), line=child.sourceline)
    value = (element.text or "").strip()
    if not value:
        return None
    try:
        return check_text(value, _local(element))
    except EdxmlError as error:
        raise error.at(_local(element), element.sourceline) from None


def _is_empty(element: _Element) -> bool:
    return len(element) == 0 and not (element.text or "").strip()


def _build(element: _Element, make: Callable[[], T]) -> T:
    """Construct a model value; a refusal of the model is placed at ``element``."""
    try:
        return make()
    except EdxmlError as error:
        raise error.at(_local(element), element.sourceline) from None


_YMD = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TIME = re.compile(r"[ T](\d{1,2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:?\d{2})?")


def _date_of(text: str, element: _Element) -> tuple[date, str]:
    """A date at the start of ``text`` (yyyy/MM/dd, yyyy-MM-dd or dd/MM/yyyy) and
    what follows it."""
    match = _YMD.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _DMY.match(text)
        if not match:
            raise EdxmlInvalidValueError(
                f"{text!r} is not a date (yyyy/MM/dd or dd/MM/yyyy)",
                element=_local(element), line=element.sourceline)
        day, month, year = match.groups()
    try:
        return date(int(year), int(month), int(day)), text[match.end():]
    except ValueError:
        raise EdxmlInvalidValueError(f"{text!r} is not a date that exists",
                                     element=_local(element),
                                     line=element.sourceline) from None


def _date(element: _Element) -> date | None:
    text = _text(element)
    if text is None:
        return None
    day, rest = _date_of(text, element)
    if rest:
        raise EdxmlInvalidValueError(f"{text!r} is a date followed by {rest!r}",
                                     element=_local(element), line=element.sourceline)
    return day


def _timestamp(element: _Element) -> datetime | None:
    """A timestamp; without a zone it is Vietnam's time (what the SDKs write)."""
    text = _text(element)
    if text is None:
        return None
    day, rest = _date_of(text, element)
    match = _TIME.fullmatch(rest)
    if not match:
        raise EdxmlInvalidValueError(
            f"{text!r} is not a timestamp (yyyy/MM/dd HH:mm:ss)",
            element=_local(element), line=element.sourceline)
    hour, minute, second, zone = match.groups()
    try:
        moment = datetime(day.year, day.month, day.day, int(hour), int(minute),
                          int(second))
        if zone is None:
            return moment.replace(tzinfo=VIETNAM_TIME)
        offset = "+0000" if zone == "Z" else zone.replace(":", "")
        aware = datetime.strptime(f"{moment:%Y-%m-%dT%H:%M:%S}{offset}",
                                  "%Y-%m-%dT%H:%M:%S%z")
        return aware.astimezone(VIETNAM_TIME)
    except (ValueError, OverflowError):
        raise EdxmlInvalidValueError(f"{text!r} is not a time that exists",
                                     element=_local(element),
                                     line=element.sourceline) from None


def _count(element: _Element) -> int | None:
    text = _text(element)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise EdxmlInvalidValueError(f"{text!r} is not a count", element=_local(element),
                                     line=element.sourceline)
    return int(text)


def _flag(element: _Element) -> bool | None:
    text = _text(element)
    if text is None:
        return None
    value = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
    if value is None:
        raise EdxmlInvalidValueError(f"{text!r} is not true or false",
                                     element=_local(element), line=element.sourceline)
    return value


def _organ_id(element: _Element) -> str:
    text = _text(element)
    if text is None:
        raise EdxmlMissingElementError("OrganId is empty", element=_local(element),
                                       line=element.sourceline)
    try:
        return check_organ_id(text, _local(element))
    except EdxmlError as error:
        raise error.at(_local(element), element.sourceline) from None


class _Reader:
    """Reads one message; collects unknown elements outside MessageHeader."""

    def __init__(self) -> None:
        self.header_extra: list[RawElement] = []

    def kids(self, parent: _Element, *known: str) -> _Kids:
        return _Kids(parent, known)

    def outer(self, parent: _Element, *known: str) -> _Kids:
        kids = _Kids(parent, known)
        self.header_extra.extend(kids.extra)
        return kids

    # -- the message ----------------------------------------------------------

    def message(self, root: _Element) -> Message:
        top = self.outer(root, "edXMLEnvelope", "AttachmentEncoded")
        envelope = self.outer(top.need("edXMLEnvelope"), "edXMLHeader", "edXMLBody")
        header_element = envelope.need("edXMLHeader")
        header = _Kids(header_element, ("MessageHeader", "TraceHeaderList"))
        signature: RawElement | None = None
        unknown: list[RawElement] = []
        for child in header_element:
            if _is_signature(child):
                if signature is not None:
                    raise EdxmlInvalidValueError("Signature appears twice",
                                                 element="Signature",
                                                 line=child.sourceline)
                signature = _raw(child)
            elif _local(child) not in ("MessageHeader", "TraceHeaderList") or \
                    etree.QName(child).namespace != EDXML_NS:
                unknown.append(_raw(child))
        self.header_extra.extend(unknown)
        message_header = header.need("MessageHeader")
        traces, business = self.trace_list(header.one("TraceHeaderList"))
        if message_header.find(f"{{{EDXML_NS}}}StatusCode") is not None:
            if business is not None or signature is not None:
                raise EdxmlInvalidValueError(
                    "a status message has no Bussiness and no Signature",
                    element="StatusCode", line=message_header.sourceline)
            return self.status(message_header, traces)
        attachments = self.attachments(envelope.one("edXMLBody"),
                                       top.many("AttachmentEncoded"))
        return self.document(message_header, traces, business, signature, attachments)

    def document(self, header: _Element, traces: tuple[TraceHeader, ...],
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
        return _build(header, lambda: DocumentMessage(
            sender=self.organization(kids.need("From")),
            recipients=recipients,
            document_id=kids.need_text("DocumentId"),
            code=self.code(kids.need("Code")),
            promulgation=promulgation,
            document_type=kids.convert("DocumentType", self.document_type),
            subject=kids.text("Subject"),
            content=kids.text("Content"),
            signer=kids.convert("SignerInfo", self.signer),
            due_date=kids.convert("DueDate", _date),
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

    def status(self, header: _Element, traces: tuple[TraceHeader, ...]) -> StatusMessage:
        kids = self.kids(header, "From", "To", "ResponseFor", "StaffInfo", "StatusCode",
                         "Description", "Timestamp")
        response_for = self.response_for(kids.need("ResponseFor"))
        if response_for is None:
            raise EdxmlMissingElementError("a status message's ResponseFor is empty",
                                           element="ResponseFor",
                                           line=kids.need("ResponseFor").sourceline)
        timestamp = _timestamp(kids.need("Timestamp"))
        if timestamp is None:
            raise EdxmlMissingElementError("Timestamp is empty", element="Timestamp",
                                           line=kids.need("Timestamp").sourceline)
        return _build(header, lambda: StatusMessage(
            sender=self.organization(kids.need("From")),
            recipients=tuple(self.organization(e) for e in kids.many("To")),
            response_for=response_for,
            status_code=kids.need_text("StatusCode"),
            timestamp=timestamp,
            staff=kids.convert("StaffInfo", self.staff),
            description=kids.text("Description"),
            traces=traces,
            extra=tuple(kids.extra),
            header_extra=tuple(self.header_extra),
        ))

    # -- MessageHeader parts --------------------------------------------------

    def organization(self, element: _Element) -> Organization:
        kids = self.kids(element, "OrganId", "OrganizationInCharge", "OrganName",
                         "OrganAdd", "Email", "Telephone", "Fax", "Website")
        return _build(element, lambda: Organization(
            organ_id=_organ_id(kids.need("OrganId")),
            organization_in_charge=kids.text("OrganizationInCharge"),
            organ_name=kids.text("OrganName"), organ_add=kids.text("OrganAdd"),
            email=kids.text("Email"), telephone=kids.text("Telephone"),
            fax=kids.text("Fax"), website=kids.text("Website"),
            extra=tuple(kids.extra)))

    def code(self, element: _Element) -> Code:
        if len(element) == 0:
            # the joined form "7816/VPCP-TTĐT", as ResponseFor carries it
            text = _text(element) or ""
            number, slash, notation = text.partition("/")
            if not (number and slash and notation):
                raise EdxmlMissingElementError(
                    "Code has no CodeNumber and CodeNotation", element="Code",
                    line=element.sourceline)
            return _build(element, lambda: Code(number.strip(), notation.strip()))
        kids = self.kids(element, "CodeNumber", "CodeNotation")
        return _build(element, lambda: Code(
            kids.need_text("CodeNumber"), kids.need_text("CodeNotation"),
            extra=tuple(kids.extra)))

    def promulgation(self, element: _Element) -> PromulgationInfo:
        kids = self.kids(element, "Place", "PromulgationDate")
        day = _date(kids.need("PromulgationDate"))
        if day is None:
            raise EdxmlMissingElementError("PromulgationDate is empty",
                                           element="PromulgationDate",
                                           line=kids.need("PromulgationDate").sourceline)
        return _build(element, lambda: PromulgationInfo(
            date=day, place=kids.text("Place"), extra=tuple(kids.extra)))

    def document_type(self, element: _Element) -> DocumentType:
        kids = self.kids(element, "Type", "TypeDetail", "TypeName")
        return _build(element, lambda: DocumentType(
            type=kids.text("Type"), type_detail=kids.text("TypeDetail"),
            type_name=kids.text("TypeName"), extra=tuple(kids.extra)))

    def signer(self, element: _Element) -> SignerInfo:
        kids = self.kids(element, "Competence", "Position", "FullName")
        return _build(element, lambda: SignerInfo(
            competence=kids.text("Competence"), position=kids.text("Position"),
            full_name=kids.text("FullName"), extra=tuple(kids.extra)))

    def other_info(self, element: _Element) -> OtherInfo:
        kids = self.kids(element, "Priority", "SphereOfPromulgation", "TyperNotation",
                         "PromulgationAmount", "PageAmount", "Direction", "Appendixes")
        appendixes = kids.one("Appendixes")
        return _build(element, lambda: OtherInfo(
            priority=kids.text("Priority"),
            sphere_of_promulgation=kids.text("SphereOfPromulgation"),
            typer_notation=kids.text("TyperNotation"),
            promulgation_amount=kids.convert("PromulgationAmount", _count),
            page_amount=kids.convert("PageAmount", _count),
            direction=kids.convert("Direction", _flag),
            appendixes=() if appendixes is None else self.texts(appendixes, "Appendix"),
            extra=tuple(kids.extra)))

    def texts(self, element: _Element, name: str) -> tuple[str, ...]:
        """The non-empty texts of a list element's ``name`` children (ToPlaces/Place)."""
        kids = self.kids(element, name)
        if kids.extra:
            raise EdxmlInvalidValueError(f"{_local(element)} holds only {name}",
                                         element=_local(element),
                                         line=element.sourceline)
        return tuple(t for e in kids.many(name) if (t := _text(e)) is not None)

    def response_for(self, element: _Element) -> ResponseFor | None:
        if _is_empty(element):
            return None  # present but empty in the VNPT test files
        kids = self.kids(element, "OrganId", "Code", "PromulgationDate", "DocumentId")
        organ = kids.one("OrganId")
        return _build(element, lambda: ResponseFor(
            organ_id=None if organ is None or _is_empty(organ) else _organ_id(organ),
            code=kids.text("Code"),
            promulgation_date=kids.convert("PromulgationDate", _date),
            document_id=kids.text("DocumentId"),
            extra=tuple(kids.extra)))

    def staff(self, element: _Element) -> StaffInfo:
        kids = self.kids(element, "Department", "Staff", "Email", "Mobile")
        return _build(element, lambda: StaffInfo(
            department=kids.text("Department"), staff=kids.text("Staff"),
            email=kids.text("Email"), mobile=kids.text("Mobile"),
            extra=tuple(kids.extra)))

    # -- TraceHeaderList ------------------------------------------------------

    def trace_list(self, element: _Element | None
                   ) -> tuple[tuple[TraceHeader, ...], Business | None]:
        if element is None:
            return (), None
        kids = self.outer(element, "TraceHeader", "Bussiness")
        traces = tuple(self.trace(e) for e in kids.many("TraceHeader"))
        return traces, kids.convert("Bussiness", self.business)

    def trace(self, element: _Element) -> TraceHeader:
        kids = self.kids(element, "OrganId", "Timestamp")
        return _build(element, lambda: TraceHeader(
            organ_id=kids.text("OrganId"),
            timestamp=kids.convert("Timestamp", _timestamp),
            extra=tuple(kids.extra)))

    def business(self, element: _Element) -> Business:
        kids = self.kids(element, "DocumentId", "BussinessDocType", "BussinessDocReason",
                         "Paper", "BussinessDocumentInfo", "ReplacementInfoList",
                         "StaffInfo")
        kind = kids.need("BussinessDocType")
        kind_text = _text(kind)
        if kind_text not in ("0", "1", "2", "3"):
            raise EdxmlInvalidValueError(
                f"BussinessDocType {kind_text!r} is not 0 (new), 1 (recall), 2 (update) "
                "or 3 (replace)", element="BussinessDocType", line=kind.sourceline)
        replacements = kids.one("ReplacementInfoList")
        return _build(element, lambda: Business(
            doc_type=BusinessDocType(int(kind_text)),
            document_id=kids.text("DocumentId"),
            reason=kids.text("BussinessDocReason"),
            paper=kids.text("Paper"),
            document_info=kids.convert("BussinessDocumentInfo", self.document_info),
            replacements=() if replacements is None else self.replacements(replacements),
            staff=kids.convert("StaffInfo", self.staff),
            extra=tuple(kids.extra)))

    def document_info(self, element: _Element) -> BusinessDocumentInfo:
        kids = self.kids(element, "DocumentInfo", "DocumentReceiver", "ReceiverList")
        receivers = kids.one("ReceiverList")
        return _build(element, lambda: BusinessDocumentInfo(
            document_info=kids.text("DocumentInfo"),
            document_receiver=kids.text("DocumentReceiver"),
            receivers=() if receivers is None else tuple(
                self.receiver(e) for e in self.only(receivers, "Receiver")),
            extra=tuple(kids.extra)))

    def receiver(self, element: _Element) -> Receiver:
        kids = self.kids(element, "OrganId", "ReceiverType")
        kind = kids.need("ReceiverType")
        kind_text = _text(kind)
        if kind_text not in ("0", "1"):
            raise EdxmlInvalidValueError(
                f"ReceiverType {kind_text!r} is not 0 (removed) or 1 (added)",
                element="ReceiverType", line=kind.sourceline)
        return _build(element, lambda: Receiver(
            organ_id=_organ_id(kids.need("OrganId")),
            receiver_type=ReceiverType(int(kind_text)), extra=tuple(kids.extra)))

    def replacements(self, element: _Element) -> tuple[ReplacementInfo, ...]:
        return tuple(self.replacement(e) for e in self.only(element, "ReplacementInfo"))

    def replacement(self, element: _Element) -> ReplacementInfo:
        kids = self.kids(element, "DocumentId", "OrganIdList")
        organs = kids.one("OrganIdList")
        return _build(element, lambda: ReplacementInfo(
            document_id=kids.need_text("DocumentId"),
            organ_ids=() if organs is None else tuple(
                _organ_id(e) for e in self.only(organs, "OrganId")),
            extra=tuple(kids.extra)))

    def only(self, element: _Element, name: str) -> list[_Element]:
        """The children of a list element, all of which must be ``name``."""
        kids = self.kids(element, name)
        if kids.extra:
            raise EdxmlInvalidValueError(f"{_local(element)} holds only {name}",
                                         element=_local(element), line=element.sourceline)
        return kids.many(name)

    # -- body and attachments -------------------------------------------------

    def attachments(self, body: _Element | None, encoded: list[_Element]
                    ) -> tuple[Attachment, ...]:
        references: list[_Element] = []
        if body is not None:
            manifest = self.outer(body, "edXMLManifest").one("edXMLManifest")
            if manifest is not None:
                references = self.outer(manifest, "Reference").many("Reference")
        payloads: dict[str, _Element] = {}
        for container in encoded:
            for element in self.outer(container, "Attachment").many("Attachment"):
                content_id = _Kids(element, ("ContentId",)).need_text("ContentId")
                if content_id in payloads:
                    raise EdxmlInvalidValueError(
                        f"two attachments have ContentId {content_id}",
                        element="ContentId", line=element.sourceline)
                payloads[content_id] = element
        result: list[Attachment] = []
        for reference in references:
            content_id = _Kids(reference, ("ContentId",)).need_text("ContentId")
            result.append(self.attachment(reference, payloads.pop(content_id, None)))
        result.extend(self.attachment(None, element) for element in payloads.values())
        return tuple(result)

    def attachment(self, reference: _Element | None, payload: _Element | None
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
                                           element=f"{_local(where)}/AttachmentName",
                                           line=where.sourceline)
        content_type = att.text("ContentType") if att else None
        if att is not None and content is not None:
            self.check_payload(att, content, content_type, digest)
        ref_name = ref.text("AttachmentName") if ref else None
        att_description = att.text("Description") if att else None
        ref_description = ref.text("Description") if ref else None
        description = att_description or ref_description
        return _build(where, lambda: Attachment(
            content_id=_Kids(where, ("ContentId",)).need_text("ContentId"),
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
    def check_payload(att: _Kids, content: bytes, content_type: str | None,
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


def _content(element: _Element) -> bytes:
    for child in element:
        raise EdxmlInvalidValueError("ContentTransferEncoded holds base64 text only",
                                     element=_local(child), line=child.sourceline)
    text = _BASE64_SPACE.sub("", element.text or "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EdxmlInvalidValueError("ContentTransferEncoded is not base64",
                                     element="ContentTransferEncoded",
                                     line=element.sourceline) from None


_HEX = re.compile(r"[0-9a-f]{64}")


def _digest(reference: _Element | None) -> tuple[str, int] | None:
    """docledger's digest extension on a manifest Reference, if present."""
    if reference is None:
        return None
    found = [e for e in reference if _qname(e) == (DOCLEDGER_NS, "Digest")]
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

