"""The ledger's repository reads a snapshot only for aggregates that can have one
(domain/ledger/repository.py): a document is read from its events in one query,
found or not; a register still from its latest snapshot and the events after it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from domain.exchange.document import Document
from domain.exchange.register import NumberRegister
from domain.ledger.application import DocLedger
from tests.factories import SENDER, World


def reads_of(app: DocLedger) -> Counter[str]:
    """How often the repository asks the event store and the snapshot store."""
    reads: Counter[str] = Counter()

    def counted(name: str, get: Callable[..., Any]) -> Callable[..., Any]:
        def get_counted(*args: Any, **kwargs: Any) -> Any:
            reads[name] += 1
            return get(*args, **kwargs)
        return get_counted

    assert app.snapshots is not None
    app.snapshots.get = counted("snapshots", app.snapshots.get)  # type: ignore[method-assign]
    app.events.get = counted("events", app.events.get)  # type: ignore[method-assign]
    return reads


def evict(app: DocLedger, *ids: UUID) -> None:
    if app.cache_guard is not None:
        app.cache_guard.forget(ids)


def test_a_document_looked_up_and_not_found_costs_one_read_of_its_events(world: World) -> None:
    reads = reads_of(world.app)
    assert world.app.find(Document, uuid4()) is None
    assert reads == {"events": 1}


def test_a_stored_document_is_read_from_its_events_alone_and_is_whole(world: World) -> None:
    doc = UUID(world.sent())
    cached = world.app.find(Document, doc)
    evict(world.app, doc)
    reads = reads_of(world.app)
    stored = world.app.find(Document, doc)
    assert reads == {"events": 1}
    assert stored is not None and cached is not None
    assert (stored.version, stored.__dict__) == (cached.version, cached.__dict__)


def test_a_register_is_still_read_from_its_snapshot_first(world: World) -> None:
    world.sent()
    register = NumberRegister.id_for(SENDER, "outgoing", world.app.clock().year)
    evict(world.app, register)
    reads = reads_of(world.app)
    found = world.app.find(NumberRegister, register)
    assert found is not None and found.version >= 2
    assert reads == {"snapshots": 1, "events": 1}
