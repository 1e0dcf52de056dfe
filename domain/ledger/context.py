"""The context one command executes in: who, what, when, what it loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from domain.errors import NotFoundError
from domain.evidence.incoming_stamp import IncomingStamper
from domain.evidence.keys import Signer
from domain.evidence.pdf_report import AttachmentValidator, PdfSignaturePolicy
from domain.evidence.statements import sign_statement
from domain.exchange.commands import Command, Source
from domain.exchange.records import Record

A = TypeVar("A", bound=Record)


class BlobChecker(Protocol):
    """Confirms the ledger holds an attachment's bytes under their digest."""

    def check(self, sha256: str, size: int) -> None: ...


class SourceChecker(Protocol):
    """Confirms that what a command says of its source's XML signature is what the
    ledger finds in the bytes it holds, and that the ledger's policy accepts it."""

    def check(self, source: Source, at: datetime) -> None: ...


class Ledger(Protocol):
    """What a command's handler may use of the application (domain.ledger.application.DocLedger):
    named here so that the handlers do not import the application that calls them."""

    ledger_signer: Signer
    blobs: BlobChecker | None
    attachment_validator: AttachmentValidator | None  # None: attachments are not read
    incoming_stamper: IncomingStamper | None  # None: no stamped copies on acceptance
    pdf_policy: PdfSignaturePolicy
    sources: SourceChecker | None

    def lookup(self, cls: type[A], aggregate_id: UUID, *, to_change: bool = True
               ) -> A | None: ...


@dataclass(kw_only=True)
class Context:
    """One command being executed: who, what, when, and the aggregates it loads."""

    app: Ledger
    command: Command
    fields: Any
    envelope: dict[str, Any]
    at: datetime
    loaded: dict[UUID, Record] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return self.command.actor.agency

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if aggregate_id in self.loaded:
            return self.loaded[aggregate_id]  # type: ignore[return-value]
        found = self.app.lookup(cls, aggregate_id)
        if found is not None:
            self.loaded[aggregate_id] = found
        return found

    def read(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """An aggregate this command only reads (never changes): this command's or
        its batch's own copy if it has one, else the cached object, uncopied."""
        if aggregate_id in self.loaded:
            return self.loaded[aggregate_id]  # type: ignore[return-value]
        return self.app.lookup(cls, aggregate_id, to_change=False)

    def get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise NotFoundError(f"{what} does not exist")
        return found

    def ledger_envelope(self, content: dict[str, Any]) -> dict[str, Any]:
        return sign_statement(content, self.app.ledger_signer).to_dict()


Handler = Callable[[Context], tuple[list[Record], dict[str, Any]]]
