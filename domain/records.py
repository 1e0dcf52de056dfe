"""The base of every aggregate: each event keeps the envelope that caused it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

NAMESPACE = uuid5(NAMESPACE_URL, "https://docledger.invalid/ids")


@lru_cache(maxsize=65536)
def stable_id(*parts: str) -> UUID:
    """Deterministic aggregate id from its natural key (the same few are asked for
    again and again: a document's deliveries, an agency, a register)."""
    return uuid5(NAMESPACE, "\x1f".join(parts))


class Record(Aggregate):
    """An aggregate whose every event carries its signed DSSE envelope verbatim."""

    class Event(Aggregate.Event):
        envelope: dict[str, Any]

    class Created(Event, Aggregate.Created):
        pass

    def __init__(self) -> None:
        pass
