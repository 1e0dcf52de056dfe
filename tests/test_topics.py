"""Stored topics are stable names from one table (domain/topics.py), not module paths:
moving a module or renaming a class never changes what is stored or what old
history resolves to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import construct_topic, resolve_topic

from domain import topics
from domain.exchange.agency import Agency
from domain.exchange.auditor import Auditor
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.gateway import GatewayReceiptRecord
from domain.exchange.records import Record
from domain.exchange.register import NumberRegister
from domain.exchange.revocations import RevocationEvidence
from domain.exchange.root import LedgerRoot
from domain.exchange.trust import TrustAnchors
from domain.ledger.command_log import CommandRecord
from infrastructure.views.handlers import HANDLERS

AGGREGATES: dict[type[Record], str] = {
    LedgerRoot: topics.ROOT, Agency: topics.AGENCY, Auditor: topics.AUDITOR,
    Document: topics.DOCUMENT, Delivery: topics.DELIVERY, NumberRegister: topics.REGISTER,
    CommandRecord: topics.COMMAND_RECORD, GatewayReceiptRecord: topics.GATEWAY_RECEIPT,
    TrustAnchors: topics.TRUST, RevocationEvidence: topics.REVOCATION,
}
GOLDEN_DB = Path(__file__).parent / "assets" / "golden" / "ledger.sqlite"


def event_classes(aggregate: type[Record]) -> dict[str, type]:
    return {name: value for name, value in vars(aggregate).items()
            if isinstance(value, type) and issubclass(value, CanMutateAggregate)
            and name != "Event"}


@pytest.mark.parametrize("aggregate", AGGREGATES, ids=lambda a: a.__name__)
def test_every_aggregate_and_event_class_declares_its_topic_from_the_table(
        aggregate: type[Record]) -> None:
    name = AGGREGATES[aggregate]
    assert vars(aggregate).get("TOPIC") == name
    classes = event_classes(aggregate)
    assert set(classes) == set(topics.STORED_EVENTS[name] + topics.UNSTORED_EVENTS.get(name, ()))
    for event, cls in classes.items():
        # (the library remakes each event class as a subclass of the one written,
        # so the topic is read through it; a topic inherited from another event
        # would differ here, and could not be registered twice)
        assert getattr(cls, "TOPIC", None) == topics.event(name, event)
        assert resolve_topic(topics.event(name, event)) is cls


def test_the_table_has_every_aggregate_and_no_unknown_event() -> None:
    assert set(topics.STORED_EVENTS) == set(AGGREGATES.values())
    with pytest.raises(KeyError):
        topics.event(topics.DELIVERY, "Teleported")


def test_every_topic_of_the_golden_ledger_is_in_the_table_and_resolves() -> None:
    with sqlite3.connect(f"file:{GOLDEN_DB}?mode=ro", uri=True) as db:
        stored = {row[0] for row in db.execute("SELECT DISTINCT topic FROM stored_events")}
    db.close()
    assert stored and stored <= topics.STORED
    for topic in stored:
        assert construct_topic(resolve_topic(topic)) == topic


def test_a_moved_and_renamed_event_class_keeps_its_stored_topic() -> None:
    # what a move to another module and a rename change: the classes' paths
    paths = [(cls, cls.__module__, cls.__qualname__) for cls in (Delivery, Delivery.Arrived)]
    try:
        for cls, _, _ in paths:
            cls.__module__ = "domain.exchange.shipment"
            cls.__qualname__ = "Shipment" + cls.__qualname__.removeprefix("Delivery")
        assert construct_topic(Delivery.Arrived) == "domain.delivery:Delivery.Arrived"
        assert construct_topic(Delivery) == "domain.delivery:Delivery"
        assert resolve_topic("domain.delivery:Delivery.Arrived") is Delivery.Arrived
    finally:
        for cls, module, qualname in paths:
            cls.__module__, cls.__qualname__ = module, qualname


def test_the_views_handle_exactly_the_stored_topics() -> None:
    assert set(HANDLERS) == topics.STORED
