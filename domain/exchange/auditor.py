"""Auditors: registered by the registrar, they read audit trails and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.errors import InvalidInputError
from domain.exchange.agency import KeyEntry, KeyHolder, keys_from, revoked
from domain.exchange.ids import AUDITOR_ID, auditor_record_id
from domain.exchange.records import Record


def check_auditor_id(value: str) -> str:
    if not isinstance(value, str) or not AUDITOR_ID.fullmatch(value):
        raise InvalidInputError(f"invalid auditor id {value!r}: 3–40 of a-z, 0-9 and '-'")
    return value


class Auditor(KeyHolder, Record):
    """An inspectorate, archive or court reading the ledger with its own keys."""

    TOPIC = topics.AUDITOR

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.AUDITOR, "Created")

    @staticmethod
    def id_for(auditor_id: str) -> UUID:
        return auditor_record_id(auditor_id)

    class Registered(Record.Created):
        TOPIC = topics.event(topics.AUDITOR, "Registered")

        auditor_id: str
        name: str
        keys: list[dict[str, str]]

        def apply(self, auditor: Any) -> None:
            auditor.auditor_id = self.auditor_id
            auditor.name = self.name
            auditor.keys = keys_from(self.keys, self.timestamp)

    class KeyRevoked(Record.Event):
        TOPIC = topics.event(topics.AUDITOR, "KeyRevoked")

        keyid: str
        reason: str

        def apply(self, auditor: Any) -> None:
            auditor.keys = revoked(auditor.keys, self.keyid, self.timestamp)

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        auditor_id: str
        name: str
        keys: dict[str, KeyEntry]

    @property
    def owner(self) -> str:
        return f"auditor {self.auditor_id}"
