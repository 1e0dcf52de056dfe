"""The edXML message model (QCVN 102:2016/BTTTT): what a document or status
message says, parsed from the wild and written in one canonical form.

Frozen dataclasses, one per edXML structure, named after the elements they hold
(docs/edxml.md, "Format"). Every value a model holds can be written and read back
unchanged (``parse_edxml(write_edxml(m)) == m``), so the constructors refuse what
XML cannot carry or what the canonical form would change:

- text is non-empty, has no leading or trailing white space and only characters
  XML 1.0 can hold (no C0 controls but tab and line feed, no carriage return);
  an empty element is the same as an absent one (``None``);
- timestamps are aware, whole seconds, in Vietnam's time (UTC+7): edXML writes
  them without a zone, and the SDKs mean Vietnam's time;
- an attachment's ``sha256`` and ``size`` are those of its ``content``.

Elements the model does not interpret are kept as evidence in ``extra`` fields
(``RawElement``: the element's exclusive canonical XML), never dropped silently.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from enum import IntEnum
from typing import ClassVar

from domain.errors import InvalidInputError
from domain.exchange.codes import VIETNAM_TIME, check_edxml_organ_id
from domain.exchange.edxml.errors import (
    EdxmlAttachmentError,
    EdxmlInvalidValueError,
    EdxmlMissingElementError,
)

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XLINK_NS = "http://www.w3.org/1999/xlink"
# docledger's one extension: the digest of an attachment sent without its bytes.
DOCLEDGER_NS = "urn:docledger:edxml:1"

# XML 1.0 Char, less carriage return (a parser turns it into a line feed).
_NOT_XML_TEXT = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_STATUS_CODE = re.compile(r"0[1-9]|1[0-6]")


def check_text(value: str, element: str) -> str:
    """``value`` if it is text the canonical form carries unchanged, else raise."""
    if not isinstance(value, str):
        raise EdxmlInvalidValueError(f"expected text, got {type(value).__name__}",
                                     element=element)
    if value == "" or value != value.strip():
        raise EdxmlInvalidValueError("text is empty or has surrounding white space",
                                     element=element)
    bad = _NOT_XML_TEXT.search(value)
    if bad:
        raise EdxmlInvalidValueError(
            f"character U+{ord(bad.group()):04X} cannot be carried in XML text",
            element=element)
    return value


def check_organ_id(value: str, element: str = "OrganId") -> str:
    """``value`` if it has the shape of an edXML OrganId, else raise (as edXML)."""
    try:
        return check_edxml_organ_id(value)
    except InvalidInputError as error:
        raise EdxmlInvalidValueError(str(error), element=element) from None


def check_timestamp(value: datetime, element: str) -> datetime:
    """``value`` if it is an aware whole-second instant in Vietnam's time, else raise."""
    if not isinstance(value, datetime) or value.utcoffset() != timedelta(hours=7):
        raise EdxmlInvalidValueError("a timestamp must be in Vietnam's time (UTC+7)",
                                     element=element)
    if value.microsecond or not 1000 <= value.year <= 9999:
        raise EdxmlInvalidValueError("a timestamp is whole seconds of a 4-digit year",
                                     element=element)
    return value


def vietnam_time(value: datetime) -> datetime:
    """The same instant in Vietnam's time, as the model holds timestamps."""
    return value.astimezone(VIETNAM_TIME)


class _Checked:
    """Checks every field by the type of its value (see the module docstring);
    a subclass adds its own rules in ``_check``."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            self._check_value(getattr(self, f.name), f.name)
        self._check()

    @staticmethod
    def _check_value(value: object, name: str) -> None:
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, tuple):
            for item in value:
                _Checked._check_value(item, name)
        elif isinstance(value, datetime):
            check_timestamp(value, name)
        elif isinstance(value, date):
            if not 1000 <= value.year <= 9999:
                raise EdxmlInvalidValueError("a date has a 4-digit year", element=name)
        elif isinstance(value, int) and not isinstance(value, (bool, IntEnum)):
            if value < 0:
                raise EdxmlInvalidValueError("a count cannot be negative", element=name)

    def _check(self) -> None:
        """Rules of one structure beyond its values' types."""


@dataclass(frozen=True)
class RawElement:
    """An element the model does not interpret, kept as found: its exclusive XML
    canonical form (C14N 1.0 exclusive, without comments), as text."""

    xml: str


Extra = tuple[RawElement, ...]


@dataclass(frozen=True)
class Organization(_Checked):
    """``From`` or ``To``: an agency, by its code and its contact details."""

    organ_id: str  # OrganId: the agency code (000.00.00.G22; short forms in the wild)
    organization_in_charge: str | None = None  # the governing body (a name in the samples)
    organ_name: str | None = None
    organ_add: str | None = None  # OrganAdd: postal address
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    website: str | None = None
    extra: Extra = ()

    def _check(self) -> None:
        check_organ_id(self.organ_id)


@dataclass(frozen=True)
class Code(_Checked):
    """``Code``: the document's number and notation, shown as ``number/notation``."""

    number: str  # CodeNumber
    notation: str  # CodeNotation
    extra: Extra = ()

    @property
    def text(self) -> str:
        """The code as printed on the document (7816/VPCP-TTĐT)."""
        return f"{self.number}/{self.notation}"


@dataclass(frozen=True)
class PromulgationInfo(_Checked):
    """``PromulgationInfo``: where and on which day the document was issued."""

    date: date  # PromulgationDate
    place: str | None = None
    extra: Extra = ()


@dataclass(frozen=True)
class DocumentType(_Checked):
    """``DocumentType``: ``Type`` is a code (1 for "Công văn" in the samples, 18 in
    other builders), ``TypeName`` its name."""

    type: str | None = None
    type_detail: str | None = None
    type_name: str | None = None
    extra: Extra = ()


@dataclass(frozen=True)
class SignerInfo(_Checked):
    """``SignerInfo``: who signed, with which competence ("TL. BỘ TRƯỞNG", "KT." …)."""

    competence: str | None = None
    position: str | None = None
    full_name: str | None = None
    extra: Extra = ()


# Priority codes and their meaning (field notes, [ec]).
PRIORITY_MEANING: dict[str, str] = {
    "0": "normal", "1": "urgent", "2": "very urgent", "3": "express",
    "4": "express at a set time",
}
# SteeringType codes and their meaning (field notes, [ec]); builders also send 0.
STEERING_MEANING: dict[str, str] = {
    "1": "not a directive", "2": "directive", "3": "report on a directive",
}


@dataclass(frozen=True)
class OtherInfo(_Checked):
    """``OtherInfo``: priority (``PRIORITY_MEANING``), sphere of promulgation, the
    drafter's initials (``TyperNotation``), number of copies and of pages,
    ``Direction`` (undocumented, ``false`` in every sample) and appendixes."""

    priority: str | None = None
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool | None = None
    appendixes: tuple[str, ...] = ()  # Appendixes/Appendix*
    extra: Extra = ()


@dataclass(frozen=True)
class ResponseFor(_Checked):
    """``ResponseFor``: the document this message answers or acts on. In a status
    message ``organ_id`` is the agency the status goes to."""

    organ_id: str | None = None
    code: str | None = None  # number and notation joined: 7816/VPCP-TTĐT
    promulgation_date: date | None = None
    document_id: str | None = None
    extra: Extra = ()

    def _check(self) -> None:
        if self.organ_id is not None:
            check_organ_id(self.organ_id)
        if (self.organ_id, self.code, self.promulgation_date,
                self.document_id, self.extra) == (None, None, None, None, ()):
            raise EdxmlInvalidValueError("an empty ResponseFor is no ResponseFor",
                                         element="ResponseFor")


@dataclass(frozen=True)
class TraceHeader(_Checked):
    """``TraceHeader``: one hop of the message, written by the sender and appended
    by the axis in transit. Kept as found: the wild has ``OrganId`` ``null`` and
    hops with only a timestamp, so the code's format is not checked here."""

    organ_id: str | None = None
    timestamp: datetime | None = None
    extra: Extra = ()


@dataclass(frozen=True)
class StaffInfo(_Checked):
    """``StaffInfo``: the clerk who handled the message."""

    department: str | None = None
    staff: str | None = None
    email: str | None = None
    mobile: str | None = None
    extra: Extra = ()


class BusinessDocType(IntEnum):
    """``BussinessDocType``: what the document message does."""

    NEW = 0
    RECALL = 1  # "thu hồi"
    UPDATE = 2
    REPLACE = 3


class ReceiverType(IntEnum):
    """``ReceiverType`` of an update's receiver list."""

    REMOVED = 0
    ADDED = 1


@dataclass(frozen=True)
class Receiver(_Checked):
    """``ReceiverList/Receiver``: an agency added to or removed from the recipients."""

    organ_id: str
    receiver_type: ReceiverType
    extra: Extra = ()

    def _check(self) -> None:
        check_organ_id(self.organ_id)
        ReceiverType(self.receiver_type)


@dataclass(frozen=True)
class BusinessDocumentInfo(_Checked):
    """``BussinessDocumentInfo`` of an update. ``DocumentInfo`` and
    ``DocumentReceiver`` are 1 in the sample, probably "metadata changed" and
    "receiver list changed"; kept as found."""

    document_info: str | None = None
    document_receiver: str | None = None
    receivers: tuple[Receiver, ...] = ()  # ReceiverList/Receiver*
    extra: Extra = ()


@dataclass(frozen=True)
class ReplacementInfo(_Checked):
    """``ReplacementInfoList/ReplacementInfo``: a document this one replaces and
    the agencies that hold it."""

    document_id: str
    organ_ids: tuple[str, ...] = ()  # OrganIdList/OrganId*
    extra: Extra = ()

    def _check(self) -> None:
        for organ_id in self.organ_ids:
            check_organ_id(organ_id)


@dataclass(frozen=True)
class Business(_Checked):
    """``Bussiness`` (the standard's spelling): what the message does to a document."""

    doc_type: BusinessDocType  # BussinessDocType
    document_id: str | None = None
    reason: str | None = None  # BussinessDocReason, free text
    paper: str | None = None  # 0 in every sample: page count or "no paper copy"
    document_info: BusinessDocumentInfo | None = None  # updates
    replacements: tuple[ReplacementInfo, ...] = ()  # replacements
    staff: StaffInfo | None = None
    extra: Extra = ()

    def _check(self) -> None:
        BusinessDocType(self.doc_type)


# Content types whose bytes are checked against the type's signature; other types
# are taken as declared (docs/edxml.md, "Attachments").
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/x-zip-compressed": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/pdf": (b"%PDF-",),
    "application/msword": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/vnd.ms-excel": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def check_content_type(content_type: str | None, content: bytes) -> None:
    """Raise unless ``content`` starts as ``content_type``'s bytes must."""
    if content_type is None:
        return
    magic = MAGIC.get(content_type.split(";")[0].strip().lower())
    if magic is not None and not content.startswith(magic):
        raise EdxmlAttachmentError(
            f"declared {content_type} but the bytes do not start as one "
            f"({content[:8]!r})", element="ContentType")


@dataclass(frozen=True)
class Attachment(_Checked):
    """A manifest ``Reference`` and its ``Attachment``, paired by ``ContentId``.

    ``content_type`` is the type of the bytes as transferred (the Attachment's
    ``ContentType``: ``application/zip`` when the SDK zipped the file);
    ``declared_type`` is the manifest's, the type of the file itself. ``content``
    is ``None`` when only the manifest lists the file (then ``sha256``/``size``, if
    known, come from docledger's digest extension). ``manifest_name`` and
    ``manifest_description`` are set only where the manifest differs from the
    attachment. Build one with ``Attachment.of`` to have the digest computed.
    """

    content_id: str  # cid:…
    name: str  # AttachmentName
    content_type: str | None = None
    declared_type: str | None = None
    description: str | None = None
    content: bytes | None = None
    sha256: str | None = None  # lowercase hex
    size: int | None = None
    manifest_name: str | None = None
    manifest_description: str | None = None
    in_manifest: bool = True
    extra: Extra = ()  # unknown children of Attachment
    manifest_extra: Extra = ()  # unknown children of the manifest Reference

    HEX: ClassVar[re.Pattern[str]] = _SHA256_HEX

    @classmethod
    def of(cls, *, content_id: str, name: str, content: bytes | None,
           **other: object) -> Attachment:
        """An attachment whose digest and size are those of ``content``."""
        if content is not None:
            other["sha256"] = hashlib.sha256(content).hexdigest()
            other["size"] = len(content)
        return cls(content_id=content_id, name=name, content=content,
                   **other)  # type: ignore[arg-type]

    def _check(self) -> None:
        if (self.sha256 is None) != (self.size is None):
            raise EdxmlInvalidValueError("sha256 and size go together", element="Digest")
        if self.manifest_description is not None and self.description is None:
            raise EdxmlInvalidValueError(
                "manifest_description is set only beside a differing description",
                element="Reference")
        if self.sha256 is not None and not _SHA256_HEX.fullmatch(self.sha256):
            raise EdxmlInvalidValueError("sha256 is 64 lowercase hex digits",
                                         element="Digest")
        if self.content is None:
            if self.content_type is not None or not self.in_manifest:
                raise EdxmlInvalidValueError(
                    "an attachment without bytes is only a manifest Reference",
                    element="Attachment")
            if self.extra or self.manifest_name or self.manifest_description:
                raise EdxmlInvalidValueError(
                    "an attachment without bytes has only the manifest's fields",
                    element="Attachment")
            return
        digest = hashlib.sha256(self.content).hexdigest()
        if (self.sha256, self.size) != (digest, len(self.content)):
            raise EdxmlAttachmentError(
                f"declared sha256 {self.sha256} / size {self.size} but the bytes have "
                f"{digest} / {len(self.content)}", element="Attachment")
        check_content_type(self.content_type, self.content)
        if not self.in_manifest and (self.declared_type is not None
                                     or self.manifest_extra):
            raise EdxmlInvalidValueError("manifest fields of an unlisted attachment",
                                         element="Attachment")
        if self.manifest_name == self.name or (
                self.manifest_description is not None
                and self.manifest_description == self.description):
            raise EdxmlInvalidValueError(
                "manifest_name/manifest_description are set only where they differ",
                element="Reference")

    @property
    def is_zip(self) -> bool:
        """Whether the bytes are a zip (the VNPT SDK zips every file)."""
        return self.content is not None and self.content.startswith(MAGIC["application/zip"])


@dataclass(frozen=True)
class DocumentMessage(_Checked):
    """An edXML document message: ``MessageHeader``, ``TraceHeaderList`` (hops and
    ``Bussiness``), the ``Signature`` as found, and the attachments."""

    sender: Organization  # From
    recipients: tuple[Organization, ...]  # To, one or more
    document_id: str  # DocumentId: "OrganId,yyyy/MM/dd,number/notation" or a UUID
    code: Code
    promulgation: PromulgationInfo
    document_type: DocumentType | None = None
    subject: str | None = None  # the abstract (trích yếu)
    content: str | None = None  # a summary
    signer: SignerInfo | None = None
    due_date: date | None = None  # the deadline for handling
    other_info: OtherInfo | None = None
    response_for: tuple[ResponseFor, ...] = ()  # the documents this one acts on
    steering_type: str | None = None  # STEERING_MEANING
    to_places: tuple[str, ...] = ()  # ToPlaces/Place*: listed for the record only
    traces: tuple[TraceHeader, ...] = ()
    business: Business | None = None  # absent in downloads: a new document
    signature: RawElement | None = None  # the XML-DSig Signature as found
    attachments: tuple[Attachment, ...] = ()
    extra: Extra = ()  # unknown children of MessageHeader
    header_extra: Extra = ()  # unknown elements outside MessageHeader

    def _check(self) -> None:
        if not self.recipients:
            raise EdxmlInvalidValueError("a document message has at least one To",
                                         element="To")
        listed = [a.in_manifest for a in self.attachments]
        if listed != sorted(listed, reverse=True):
            raise EdxmlInvalidValueError(
                "attachments listed in the manifest come first, in the manifest's order",
                element="edXMLManifest")
        ids = [a.content_id for a in self.attachments]
        if len(ids) != len(set(ids)):
            raise EdxmlInvalidValueError("two attachments share a ContentId",
                                         element="ContentId")

    @property
    def doc_type(self) -> BusinessDocType:
        """What the message does: ``Bussiness/BussinessDocType``, new if absent."""
        return self.business.doc_type if self.business else BusinessDocType.NEW


@dataclass(frozen=True)
class StatusMessage(_Checked):
    """An edXML status message: the receiver's (or, for 13, the sender's) report on
    a document, routed to ``response_for.organ_id``."""

    sender: Organization  # From
    response_for: ResponseFor  # the document concerned and the status's addressee
    status_code: str  # "01" … "16" (domain.exchange.codes.Status for the known ones)
    timestamp: datetime
    staff: StaffInfo | None = None
    description: str | None = None  # free text, often "role - department: text"
    recipients: tuple[Organization, ...] = ()  # To: absent in every sample
    traces: tuple[TraceHeader, ...] = ()
    signature: RawElement | None = None  # the XML-DSig Signature as found
    extra: Extra = ()  # unknown children of MessageHeader
    header_extra: Extra = ()  # unknown elements outside MessageHeader

    def _check(self) -> None:
        if not _STATUS_CODE.fullmatch(self.status_code):
            raise EdxmlInvalidValueError(
                f"status code {self.status_code!r} is not two digits 01–16",
                element="StatusCode")
        missing = [name for name, value in (("OrganId", self.response_for.organ_id),
                                            ("DocumentId", self.response_for.document_id),
                                            ("Code", self.response_for.code))
                   if value is None]
        if missing:
            raise EdxmlMissingElementError(
                f"a status message's ResponseFor needs {', '.join(missing)}",
                element=f"ResponseFor/{missing[0]}")


Message = DocumentMessage | StatusMessage
