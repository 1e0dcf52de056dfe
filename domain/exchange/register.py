"""Gap-free number registers per agency, direction and year (Decree 30/2020)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from domain import topics
from domain.exchange.ids import register_id
from domain.exchange.records import Record

Direction = Literal["outgoing", "incoming"]


class NumberRegister(Record):
    """Hands out 1, 2, 3 … for one agency, direction and year; never skips."""

    TOPIC = topics.REGISTER

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.REGISTER, "Created")

    @staticmethod
    def id_for(agency: str, direction: Direction, year: int) -> UUID:
        return register_id(agency, direction, year)

    class Opened(Record.Created):
        TOPIC = topics.event(topics.REGISTER, "Opened")

        agency: str
        direction: str
        year: int

        def apply(self, register: Any) -> None:
            register.agency = self.agency
            register.direction = self.direction
            register.year = self.year
            register.last_number = 0

    class NumberTaken(Record.Event):
        TOPIC = topics.event(topics.REGISTER, "NumberTaken")

        number: int
        entry: str  # the document or delivery the number was given to

        def apply(self, register: Any) -> None:
            register.last_number = self.number

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        agency: str
        direction: str
        year: int
        last_number: int

    @classmethod
    def open(
        cls,
        agency: str,
        direction: Direction,
        year: int,
        *,
        envelope: dict[str, Any],
        at: datetime,
    ) -> NumberRegister:
        return cls._create(
            cls.Opened,
            id=cls.id_for(agency, direction, year),
            envelope=envelope,
            timestamp=at,
            agency=agency,
            direction=direction,
            year=year,
        )

    def take_number(self, entry: str, *, envelope: dict[str, Any], at: datetime) -> int:
        """Give the next number to ``entry`` and return it."""
        number = self.last_number + 1
        self.trigger_event(
            self.NumberTaken, envelope=envelope, timestamp=at, number=number, entry=entry
        )
        return number
