"""The record of each accepted command: idempotency and the ledger's word."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.exchange.ids import command_record_id
from domain.exchange.records import Record


class CommandRecord(Record):
    """One per accepted command id; its creation makes a command id used.

    Its envelope is the ledger-signed ``ledger.accepted`` statement, and it is
    saved first in the command's transaction, so the events that follow it in
    the log are exactly those it lists.
    """

    TOPIC = topics.COMMAND_RECORD

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.COMMAND_RECORD, "Created")

    @staticmethod
    def id_for(command_id: str) -> UUID:
        return command_record_id(command_id)

    class Accepted(Record.Created):
        TOPIC = topics.event(topics.COMMAND_RECORD, "Accepted")

        command_id: str
        payload_sha256: str
        events: list[list[Any]]  # [aggregate id, version, topic]
        result: dict[str, Any]

        def apply(self, record: Any) -> None:
            record.command_id = self.command_id
            record.payload_sha256 = self.payload_sha256
            record.events = self.events
            record.result = self.result
            record.received_at = self.timestamp

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        command_id: str
        payload_sha256: str
        events: list[list[Any]]
        result: dict[str, Any]
        received_at: datetime

    @classmethod
    def accept(
        cls, statement: dict[str, Any], *, envelope: dict[str, Any], at: datetime
    ) -> CommandRecord:
        return cls._create(
            cls.Accepted,
            id=cls.id_for(statement["command_id"]),
            envelope=envelope,
            timestamp=at,
            command_id=statement["command_id"],
            payload_sha256=statement["payload_sha256"],
            events=statement["events"],
            result=statement["result"],
        )
