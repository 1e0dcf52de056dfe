"""The context one command executes in: who, what, when, what it loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from domain.commands import Command
from domain.errors import NotFoundError
from domain.records import Record
from domain.statements import sign_statement

if TYPE_CHECKING:
    from domain.application import DocLedger

A = TypeVar("A", bound=Record)


@dataclass(kw_only=True)
class Context:
    """One command being executed: who, what, when, and the aggregates it loads."""

    app: DocLedger
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
