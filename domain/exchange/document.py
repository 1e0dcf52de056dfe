"""Outgoing documents: drafted, signed, issued with a number, sent, revised."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.errors import DuplicateError, IllegalTransitionError, InvalidCommandError
from domain.exchange.ids import document_id as document_record_id
from domain.exchange.records import Record


class DocumentState(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    ISSUED = "issued"
    SENT = "sent"


class Document(Record):
    """A sender's official document and the record of what was done to it."""

    TOPIC = topics.DOCUMENT

    @staticmethod
    def id_for(sender: str, document_id: str) -> UUID:
        return document_record_id(sender, document_id)

    class Created(Record.Created):
        TOPIC = topics.event(topics.DOCUMENT, "Created")

        sender: str
        document_id: str
        header: dict[str, Any]
        attachments: list[dict[str, Any]]

        def apply(self, doc: Any) -> None:
            doc.sender = self.sender
            doc.document_id = self.document_id
            doc.header = self.header
            doc.attachments = self.attachments
            doc.state = DocumentState.DRAFT
            doc.signer = None
            doc.number = None
            doc.year = None
            doc.recipients = []
            doc.revision = 0
            doc.validated = {}

    class Signed(Record.Event):
        TOPIC = topics.event(topics.DOCUMENT, "Signed")

        signer: dict[str, str]

        def apply(self, doc: Any) -> None:
            doc.signer = self.signer
            doc.state = DocumentState.SIGNED

    class Issued(Record.Event):
        TOPIC = topics.event(topics.DOCUMENT, "Issued")

        number: int
        year: int

        def apply(self, doc: Any) -> None:
            doc.number = self.number
            doc.year = self.year
            doc.state = DocumentState.ISSUED

    class Sent(Record.Event):
        TOPIC = topics.event(topics.DOCUMENT, "Sent")

        recipients: list[str]

        def apply(self, doc: Any) -> None:
            doc.recipients = doc.recipients + self.recipients
            doc.state = DocumentState.SENT

    class Revised(Record.Event):
        TOPIC = topics.event(topics.DOCUMENT, "Revised")

        business_type: int
        revision: int
        attachments: list[dict[str, Any]]
        reason: str

        def apply(self, doc: Any) -> None:
            doc.attachments = self.attachments
            doc.revision = self.revision

    class AttachmentValidated(Record.Event):
        """The ledger's report on a PDF attachment's signatures: its envelope is the
        ledger's ``attachment.validated`` statement (domain/evidence/pdf_report.py)."""

        TOPIC = topics.event(topics.DOCUMENT, "AttachmentValidated")

        sha256: str
        verdict: str

        def apply(self, doc: Any) -> None:
            doc.validated = {**doc.validated, self.sha256: self.verdict}
    class HeaderRevised(Record.Event):
        """An update changed the header's fields (edXML ``DocumentInfo``): ``header``
        is the whole header as revised, ``revision`` the revision that changed it."""

        TOPIC = topics.event(topics.DOCUMENT, "HeaderRevised")

        revision: int
        header: dict[str, Any]

        def apply(self, doc: Any) -> None:
            doc.header = self.header

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        sender: str
        document_id: str
        header: dict[str, Any]
        attachments: list[dict[str, Any]]
        state: DocumentState
        signer: dict[str, str] | None
        number: int | None
        year: int | None
        recipients: list[str]
        revision: int
        validated: dict[str, str]  # sha256 -> verdict of the ledger's report on it

    @property
    def code_notation(self) -> str:
        return str(self.header["code_notation"])

    @property
    def reference(self) -> str:
        """Number and notation as printed, e.g. ``12/QĐ-UBND``."""
        number = "?" if self.number is None else str(self.number)
        return f"{number}/{self.code_notation}"

    def check_state(self, *allowed: DocumentState, act: str) -> None:
        if self.state not in allowed:
            raise IllegalTransitionError(
                f"cannot {act} document {self.id}: it is {self.state.value}"
            )

    def sign(self, signer: dict[str, str], *, envelope: dict[str, Any], at: datetime) -> None:
        self.check_state(DocumentState.DRAFT, act="sign")
        self.trigger_event(self.Signed, envelope=envelope, timestamp=at, signer=signer)

    def issue(self, number: int, year: int, *, envelope: dict[str, Any], at: datetime) -> None:
        self.check_state(DocumentState.SIGNED, act="issue")
        self.trigger_event(
            self.Issued, envelope=envelope, timestamp=at, number=number, year=year
        )

    def send(self, recipients: list[str], *, envelope: dict[str, Any], at: datetime) -> None:
        self.check_state(DocumentState.ISSUED, DocumentState.SENT, act="send")
        again = sorted(set(recipients) & set(self.recipients))
        if again:
            raise DuplicateError(f"already sent to {', '.join(again)}")
        self.trigger_event(self.Sent, envelope=envelope, timestamp=at, recipients=recipients)

    def record_validation(self, sha256: str, verdict: str, *, envelope: dict[str, Any],
                          at: datetime) -> None:
        """Keep the ledger's signed report on the attachment ``sha256``."""
        self.trigger_event(self.AttachmentValidated, envelope=envelope, timestamp=at,
                           sha256=sha256, verdict=verdict)

    def revise(
        self,
        business_type: int,
        attachments: list[dict[str, Any]],
        reason: str,
        *,
        envelope: dict[str, Any],
        at: datetime,
    ) -> None:
        self.check_state(DocumentState.SENT, act="update or replace")
        self.trigger_event(
            self.Revised,
            envelope=envelope,
            timestamp=at,
            business_type=business_type,
            revision=self.revision + 1,
            attachments=attachments,
            reason=reason,
        )

    def revise_header(self, header: dict[str, Any], *, envelope: dict[str, Any],
                      at: datetime) -> None:
        """The header as revised by the revision just made (after ``revise``); the
        notation stays: with the number it names the document."""
        if header["code_notation"] != self.code_notation:
            raise InvalidCommandError(
                f"header.code_notation: a revision keeps the notation {self.code_notation!r} "
                "(with the number it names the document; a new one is a new document)")
        self.trigger_event(self.HeaderRevised, envelope=envelope, timestamp=at,
                           revision=self.revision, header=header)
