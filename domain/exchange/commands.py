"""Command payloads: parsed from signed bytes into validated models.

A payload is JSON::

    {"type": "delivery.accept", "schema_version": 1, "command_id": "…",
     "issued_at": "RFC 3339", "actor": {"agency": "000.00.00.G22" | "registrar",
     "staff": "…"}, "fields": {…}}

Parsing is strict: unknown keys, wrong types and over-long text are refused.

``schema_version`` (per command type) selects the model its fields are parsed with
and the rules it is executed under (``SCHEMAS``; domain/ledger/handlers.py ``handler_for``);
a payload without it is version 1, as every command signed before it existed. The
audit replays each command through this same parse, so old commands keep the rules
of their version (docs/changing-commands.md).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal, cast
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from domain.errors import InvalidCommandError, InvalidInputError
from domain.exchange.codes import check_agency_code
from domain.exchange.ids import AUDITOR_ID_PATTERN, REGISTRAR
from domain.text import text_problem


def _agency_code(value: str) -> str:
    try:
        return check_agency_code(value)
    except InvalidInputError as exc:  # re-raised as a pydantic field error
        raise ValueError(str(exc)) from None


FORBIDDEN_TEXT = "forbidden_characters"  # the error type parse_command answers invalid-input for


def _checked(*, multiline: bool = False, code: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        problem = text_problem(value, multiline=multiline, code=code)
        if problem is not None:
            raise PydanticCustomError(FORBIDDEN_TEXT, problem)
        return value
    return AfterValidator(check)


# Every string of every command is one of these: no control characters, and in
# codes, ids and notations no bidirectional controls either (domain/text.py).
# Each is spelled out as ``Annotated[str, ...]`` so a type checker reads it as ``str``.
_SINGLE_LINE = _checked()
_MULTILINE = _checked(multiline=True)
_CODE = _checked(code=True)

AgencyCode = Annotated[str, _checked(code=True), AfterValidator(_agency_code)]
# Text holds reasons, which may run over several lines
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000), _MULTILINE]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300), _SINGLE_LINE]
PublicKeyText = Annotated[str, StringConstraints(min_length=1, max_length=4096), _CODE]
ActorAgency = Annotated[str, StringConstraints(min_length=1, max_length=13), _CODE]
Origin = Annotated[str, StringConstraints(min_length=1, max_length=200,
                                          pattern=r"^[^\s+]{1,200}$"), _CODE]
Competence = Annotated[str, StringConstraints(min_length=0, max_length=100), _SINGLE_LINE]
Position = Annotated[str, StringConstraints(min_length=0, max_length=200), _SINGLE_LINE]
ResponseCode = Annotated[str, StringConstraints(min_length=1, max_length=42), _CODE]
DocumentId = Annotated[str, StringConstraints(min_length=1, max_length=200), _CODE]
CodeNotation = Annotated[str, StringConstraints(min_length=1, max_length=30), _CODE]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=500), _SINGLE_LINE]
Place = Annotated[str, StringConstraints(min_length=1, max_length=200), _SINGLE_LINE]
FileName = Annotated[str, StringConstraints(min_length=1, max_length=255), _CODE]
MediaType = Annotated[str, StringConstraints(min_length=3, max_length=127), _CODE]
Note = Annotated[str, StringConstraints(min_length=0, max_length=2000), _MULTILINE]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
KeyId = Annotated[str, StringConstraints(min_length=1, max_length=64), _CODE]
# a DER X.509 certificate, base64 (RFC 4648 4, padded): at most 12 KiB of DER
CertificateText = Annotated[str, StringConstraints(
    min_length=4, max_length=16384, pattern=r"^[A-Za-z0-9+/]+={0,2}$")]
CodeAttribute = Literal["UID", "serialNumber", "OU"]


class Model(BaseModel):
    # strict: JSON types must be right (no 1 -> True, no number -> datetime);
    # dates, times and UUIDs are read from their JSON string forms.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class KeySpec(Model):
    keyid: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    # docs/trust.md, "Algorithms" (every key in history before RSA and ECDSA is ed25519)
    algorithm: Literal["ed25519", "rsa-pkcs1-sha256", "rsa-pss-sha256", "ecdsa-p256-sha256",
                       "ecdsa-p384-sha384"]
    public_key: PublicKeyText


class Actor(Model):
    agency: ActorAgency
    staff: Name

    @field_validator("agency")
    @classmethod
    def _agency(cls, value: str) -> str:
        return value if value == REGISTRAR else _agency_code(value)


# ---- fields of each command type -------------------------------------------


class LedgerInit(Model):
    origin: Origin
    registrar_key: KeySpec
    ledger_key: KeySpec
    max_clock_skew_seconds: int = Field(ge=1, le=3600)


class AgencyRegister(Model):
    code: AgencyCode
    name: Name
    keys: list[KeySpec] = Field(min_length=1, max_length=8)


class AgencyAddKey(Model):
    code: AgencyCode
    key: KeySpec


class AgencyRevokeKey(Model):
    code: AgencyCode
    keyid: KeyId
    reason: Text


class AuditorRegister(Model):
    auditor_id: Annotated[str, StringConstraints(pattern=AUDITOR_ID_PATTERN)]
    name: Name
    keys: list[KeySpec] = Field(min_length=1, max_length=8)


class AuditorRevokeKey(Model):
    auditor_id: Annotated[str, StringConstraints(pattern=AUDITOR_ID_PATTERN)]
    keyid: KeyId
    reason: Text


class TrustAddAnchor(Model):
    certificate: CertificateText
    code_attribute: CodeAttribute


class TrustRemoveAnchor(Model):
    sha256: Sha256
    reason: Text


class AgencyAddCert(Model):
    code: AgencyCode
    certificate: CertificateText
    chain: list[CertificateText] = Field(default_factory=list, max_length=8)
    # the scheme the key signs with; null: the key type's default (RSA: PKCS#1 v1.5)
    algorithm: Literal["ed25519", "rsa-pkcs1-sha256", "rsa-pss-sha256", "ecdsa-p256-sha256",
                       "ecdsa-p384-sha384"] | None = None
    # the registrar vouches that the certificate is the agency's, whatever its subject
    registrar_binding: bool = False


class EvidenceItem(Model):
    kind: Literal["crl", "ocsp"]
    data: Annotated[str, StringConstraints(min_length=4, max_length=2**20,
                                           pattern=r"^[A-Za-z0-9+/]+={0,2}$")]
    issuer: CertificateText


class RevocationRecord(Model):
    evidence: list[EvidenceItem] = Field(min_length=1, max_length=32)


class SignerInfo(Model):
    competence: Competence = ""
    position: Position = ""
    full_name: Name


class DocumentType(Model):
    type: int = Field(ge=0, le=999)
    type_name: Name


class ResponseFor(Model):
    organ_id: AgencyCode
    code: ResponseCode
    promulgation_date: date
    document_id: DocumentId


class Header(Model):
    """The edXML header fields the sender fills in (the number is assigned)."""

    code_notation: CodeNotation
    document_type: DocumentType
    subject: Subject
    promulgation_place: Place
    promulgation_date: date
    signer: SignerInfo
    priority: int = Field(default=0, ge=0, le=4)
    steering_type: int = Field(default=0, ge=0, le=2)
    due_date: date | None = None
    to_places: list[Name] = Field(
        default_factory=list, max_length=200
    )
    response_for: ResponseFor | None = None


class Attachment(Model):
    name: FileName  # a file name: a bidi control would disguise its extension
    media_type: MediaType
    size: int = Field(ge=0)
    sha256: Sha256


class DocumentCreate(Model):
    document_id: DocumentId
    header: Header
    attachments: list[Attachment] = Field(default_factory=list, max_length=100)


class DocumentRef(Model):
    document: UUID


class DocumentSign(DocumentRef):
    signer: SignerInfo


class DocumentSend(DocumentRef):
    recipients: list[AgencyCode] = Field(min_length=1, max_length=1000)

    @field_validator("recipients")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a recipient may appear only once")
        return value


class DocumentRevise(DocumentRef):
    business_type: Literal[2, 3]
    attachments: list[Attachment] = Field(min_length=1, max_length=100)
    reason: Text


class DeliveryRefuse(DocumentRef):
    reason: Text


class DeliveryAssign(DocumentRef):
    lead_unit: Name
    officer: Name | None = None
    co_units: list[Name] = Field(default_factory=list, max_length=50)
    instructions: Note = ""
    due_date: date | None = None


class DeliveryNote(DocumentRef):
    note: Note = ""


class RecallRequest(DocumentRef):
    recipients: list[AgencyCode] | None = None  # None: every live recipient
    reason: Text


class RecallAnswer(DocumentRef):
    agree: bool
    reason: Text


FIELDS: dict[str, type[Model]] = {
    "ledger.init": LedgerInit,
    "agency.register": AgencyRegister,
    "agency.add_key": AgencyAddKey,
    "agency.revoke_key": AgencyRevokeKey,
    "auditor.register": AuditorRegister,
    "auditor.revoke_key": AuditorRevokeKey,
    "trust.add_anchor": TrustAddAnchor,
    "trust.remove_anchor": TrustRemoveAnchor,
    "agency.add_cert": AgencyAddCert,
    "revocation.record": RevocationRecord,
    "document.create": DocumentCreate,
    "document.sign": DocumentSign,
    "document.issue": DocumentRef,
    "document.send": DocumentSend,
    "document.revise": DocumentRevise,
    "delivery.accept": DocumentRef,
    "delivery.refuse": DeliveryRefuse,
    "delivery.assign": DeliveryAssign,
    "delivery.progress": DeliveryNote,
    "delivery.complete": DeliveryNote,
    "delivery.recall": RecallRequest,
    "delivery.answer_recall": RecallAnswer,
}


# ---- schema version 2 --------------------------------------------------------------


# What the XML signature of a message said when the ledger was handed it
# (docs/edxml.md, "What is recorded"): every key always present. Its texts come
# from the message and its certificate, so they are recorded with control and
# bidirectional characters written as <U+XXXX> and cut at 1,000 characters
# (domain/exchange/edxml_signature.py ``SignatureEvidence.recorded``).
EvidenceText = Annotated[str, StringConstraints(max_length=1000), _CODE]
EvidenceTime = Annotated[str, StringConstraints(
    pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$")]


class SigningCertificate(Model):
    subject: EvidenceText
    issuer: EvidenceText
    serial: Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,200}$")]
    sha256: Sha256
    not_before: EvidenceTime
    not_after: EvidenceTime


class SignedReference(Model):
    uri: EvidenceText
    transforms: list[EvidenceText] = Field(max_length=16)
    digest_method: EvidenceText


class XmlSignature(Model):
    """The XML signature of a message: valid under ``certificate``, invalid (with
    ``reason``), or absent, judged at ``checked_at`` on the bytes as received."""

    status: Literal["valid", "invalid", "absent"]
    reason: EvidenceText | None
    checked_at: EvidenceTime
    namespace_restored: bool
    certificate: SigningCertificate | None
    canonicalization: EvidenceText | None
    signature_method: EvidenceText | None
    references: list[SignedReference] = Field(max_length=100)
    covers: Literal["document", "parts"] | None
    sha1: bool
    chain_trusted: bool | None
    trust_reason: EvidenceText | None
    signed_sha256: Sha256 | None


class Source(Attachment):
    """The message a command was made from, as received (its bytes in the blob
    store), and what its XML signature said: absent from commands signed before
    the ledger recorded it, which mean no more than they did."""

    signature: XmlSignature | None = None


def _no_repeats(value: list[str], what: str) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError(f"{what}: a recipient may appear only once")
    return value


class DocumentReviseV2(DocumentRef):
    """document.revise, version 2: an update may also add and remove recipients
    (edXML ``BussinessDocType`` 2, ``ReceiverList``); ``attachments`` null keeps
    the document's files as they are; ``source`` is the message it was made from."""

    business_type: Literal[2, 3]
    attachments: list[Attachment] | None = Field(default=None, max_length=100)
    reason: Text
    add_recipients: list[AgencyCode] = Field(default_factory=list, max_length=1000)
    remove_recipients: list[AgencyCode] = Field(default_factory=list, max_length=1000)
    # the header as revised (edXML DocumentInfo 1: the metadata changed); null: as it is
    header: Header | None = None
    source: Source | None = None

    @model_validator(mode="after")
    def _changes(self) -> DocumentReviseV2:
        _no_repeats(self.add_recipients, "add_recipients")
        _no_repeats(self.remove_recipients, "remove_recipients")
        both = sorted(set(self.add_recipients) & set(self.remove_recipients))
        if both:
            raise ValueError(f"{', '.join(both)} both added and removed")
        if self.attachments == [] or (self.attachments is None and self.header is None
                                      and not (self.add_recipients or self.remove_recipients)):
            raise ValueError("a revision changes the header, the attachments (at least one) "
                             "or the recipients")
        return self


# Version 2 of the commands an imported message (edXML) becomes: version 1 and
# ``source``, the message as received, an attachment whose bytes the blob store
# holds, so that every event of the command commits to exactly what it was made from.
SOURCED = ("document.create", "document.send", "delivery.accept", "delivery.refuse",
           "delivery.assign", "delivery.progress", "delivery.complete", "delivery.recall",
           "delivery.answer_recall")


def _with_source(model: type[Model]) -> type[Model]:
    return cast(type[Model], create_model(
        f"{model.__name__}Sourced", __base__=model, source=(Source | None, None)))


FIRST_SCHEMA = 1  # what a payload without "schema_version" is: all early history
# (command type, schema version) -> the model of its fields. Version 1 is FIELDS;
# a later version of a type is added beside it, never in its place: history
# signed under the old one is still replayed with it.
SCHEMAS: dict[tuple[str, int], type[Model]] = {
    (type_, FIRST_SCHEMA): model for type_, model in FIELDS.items()}
SCHEMAS[("document.revise", 2)] = DocumentReviseV2
SCHEMAS.update({(type_, 2): _with_source(FIELDS[type_]) for type_ in SOURCED})


def latest_schema(type_: str) -> int:
    """The schema version new commands of ``type_`` are signed with."""
    return max((version for t, version in SCHEMAS if t == type_), default=FIRST_SCHEMA)


def fields_model(type_: str, version: int) -> type[Model]:
    """The model of ``type_``'s fields under schema ``version``, or invalid-command."""
    model = SCHEMAS.get((type_, version))
    if model is None:
        known = sorted(v for t, v in SCHEMAS if t == type_)
        raise InvalidCommandError(
            f"schema_version: {type_} has no schema version {version} (known: "
            f"{', '.join(map(str, known))})")
    return model


class Command(Model):
    type: Literal[tuple(FIELDS)]  # type: ignore[valid-type]
    schema_version: int = Field(default=FIRST_SCHEMA, ge=1, le=2**31)
    command_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,128}$")]
    issued_at: AwareDatetime
    actor: Actor
    fields: dict[str, Any]

    def parsed_fields(self) -> Any:
        try:
            model = fields_model(self.type, self.schema_version)
            return model.model_validate_json(json.dumps(self.fields))
        except ValidationError as exc:
            raise _refusal(exc, prefix="fields.") from None


def parse_command(payload: bytes) -> tuple[Command, Any]:
    """Parse payload bytes into a command and its typed fields, or raise."""
    try:
        command = Command.model_validate_json(payload)
    except ValidationError as exc:
        raise _refusal(exc) from None
    return command, command.parsed_fields()


def _refusal(exc: ValidationError, prefix: str = "") -> InvalidInputError:
    """Text the ledger cannot hold is invalid input as such (invalid-input);
    any other broken rule is a malformed command (invalid-command)."""
    if any(err["type"] == FORBIDDEN_TEXT for err in exc.errors()):
        return InvalidInputError(_describe(exc, prefix, only=FORBIDDEN_TEXT))
    return InvalidCommandError(_describe(exc, prefix))


def command_payload(
    *,
    type: str,
    command_id: str,
    issued_at: str,
    agency: str,
    staff: str,
    fields: dict[str, Any],
    schema_version: int | None = None,
) -> bytes:
    """Serialise a command payload (the bytes a client signs); without
    ``schema_version`` the payload is version 1 by omission."""
    doc: dict[str, Any] = {"type": type}
    if schema_version is not None:
        doc["schema_version"] = schema_version
    doc |= {
        "command_id": command_id,
        "issued_at": issued_at,
        "actor": {"agency": agency, "staff": staff},
        "fields": fields,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _describe(exc: ValidationError, prefix: str = "", only: str | None = None) -> str:
    parts = []
    errors = [e for e in exc.errors() if only is None or e["type"] == only]
    for err in errors[:5]:
        if err["type"] == "json_invalid":
            return f"payload is not JSON: {err['msg']}"
        where = prefix + ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
