"""The ledger's root of trust: registrar key, ledger key and policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain import topics
from domain.evidence.keys import PublicKey
from domain.exchange.ids import ROOT_ID
from domain.exchange.records import Record

__all__ = ["ROOT_ID", "LedgerRoot"]


class LedgerRoot(Record):
    """Created once by the registrar-signed genesis command."""

    TOPIC = topics.ROOT

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.ROOT, "Created")

    class Initialised(Record.Created):
        TOPIC = topics.event(topics.ROOT, "Initialised")

        origin: str
        registrar_key: dict[str, str]
        ledger_key: dict[str, str]
        max_clock_skew_seconds: int

        def apply(self, root: Any) -> None:
            root.origin = self.origin
            root.registrar_key = PublicKey.from_spec(self.registrar_key)
            root.ledger_key = PublicKey.from_spec(self.ledger_key)
            root.max_clock_skew_seconds = self.max_clock_skew_seconds

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        origin: str
        registrar_key: PublicKey
        ledger_key: PublicKey
        max_clock_skew_seconds: int
