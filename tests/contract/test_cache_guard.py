"""The aggregate cache under other writers: two applications on one store.

Each application caches the aggregates it commits and is not fast-forwarded per
read; what another process writes must still be seen before the next command
relies on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from domain.errors import KeyRevokedError
from domain.exchange.agency import Agency
from domain.exchange.delivery import Delivery, DeliveryState
from domain.exchange.records import Record
from domain.ledger.application import DocLedger
from infrastructure.group_commit import GroupCommitter
from infrastructure.ledger import open_ledger
from tests.factories import OTHER, RECIPIENT, World


@pytest.fixture
def elsewhere(world: World) -> Iterator[DocLedger]:
    """A second application on the same store: another API process, say."""
    app = open_ledger(world.settings, clock=world.app.clock)
    yield app
    app.close()


def test_key_revoked_in_another_process_is_refused_here(
        world: World, elsewhere: DocLedger, clock: Any) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})  # caches RECIPIENT here
    clock.advance(minutes=1)
    elsewhere.execute(world.signed("registrar", "agency.revoke_key", {
        "code": RECIPIENT, "keyid": world.keys[RECIPIENT].keyid, "reason": "key compromised"}))
    clock.advance(minutes=1)
    raw = world.signed(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng A"})
    before = world.event_count()
    with pytest.raises(KeyRevokedError):
        world.app.execute(raw)
    # nor through the group committer, whose callers check signatures ahead
    # with the keys the ledger has seen
    with pytest.raises(KeyRevokedError):
        GroupCommitter(world.app, max_wait=0).execute(raw)
    assert world.event_count() == before


def test_key_revoked_in_another_process_is_refused_by_a_reader_here(
        world: World, elsewhere: DocLedger) -> None:
    """Reads outside a command (request authentication uses them) see it too."""
    keyid = world.keys[RECIPIENT].keyid
    assert world.app.find(Agency, Agency.id_for(RECIPIENT)).keys[keyid].revoked_at is None
    elsewhere.execute(world.signed("registrar", "agency.revoke_key", {
        "code": RECIPIENT, "keyid": keyid, "reason": "lost"}))
    assert world.app.find(Agency, Agency.id_for(RECIPIENT)).keys[keyid].revoked_at is not None


def test_delivery_moved_on_in_another_process_is_not_served_stale(
        world: World, elsewhere: DocLedger, clock: Any) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})  # cached here at "accepted"
    elsewhere.execute(world.signed(RECIPIENT, "delivery.assign",
                                   {"document": doc, "lead_unit": "Phòng A"}))
    clock.advance(seconds=1)
    # here, the next step builds on what the other process wrote: no stale
    # version, no conflict
    world.act(RECIPIENT, "delivery.complete", {"document": doc})
    delivery = world.app.find(Delivery, Delivery.id_for(UUID(doc), RECIPIENT))
    assert delivery is not None and delivery.state == DeliveryState.COMPLETED
    # the cached delivery was brought forward with the other process's event, not read again
    guard = world.app.cache_guard
    assert guard is not None and guard.followed > 0 and guard.evictions == 0


def test_aggregates_brought_forward_are_those_the_store_holds(
        world: World, elsewhere: DocLedger, clock: Any) -> None:
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})  # cached here
    clock.advance(seconds=1)
    elsewhere.execute(world.signed(OTHER, "delivery.accept", {"document": doc}))
    elsewhere.execute(world.signed(RECIPIENT, "delivery.assign",
                                   {"document": doc, "lead_unit": "Phòng A"}))
    guard = world.app.cache_guard
    assert guard is not None
    guard.refresh()
    assert guard.followed >= 2 and guard.evictions == 0  # both deliveries, at least
    fresh = open_ledger(world.settings, clock=world.app.clock)
    try:
        for aggregate_id in {n.originator_id
                             for n in world.app.recorder.select_notifications(1, 10_000)}:
            here = world.app.lookup(Record, aggregate_id, to_change=False)
            stored = fresh.find(Record, aggregate_id)
            assert here is not None and stored is not None
            assert vars(here) == vars(stored), type(here).__name__
    finally:
        fresh.close()


def test_the_guard_reads_the_log_once_a_look_while_another_writer_writes(
        world: World, elsewhere: DocLedger, clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alone, a look reads the log's last position only; while another writer
    writes, it reads the new notifications straight away (one query either way)."""
    recorder = world.app.recorder
    calls: list[str] = []
    for name in ("max_notification_id", "select_notifications"):
        real = getattr(recorder, name)
        monkeypatch.setattr(recorder, name, lambda *a, _real=real, _name=name, **k: (
            calls.append(_name), _real(*a, **k))[1])
    guard = world.app.cache_guard
    assert guard is not None

    def look() -> list[str]:
        calls.clear()
        guard.refresh()
        return list(calls)

    doc = world.sent()
    assert look() == ["max_notification_id"]  # only our own commits since
    elsewhere.execute(world.signed(RECIPIENT, "delivery.accept", {"document": doc}))
    clock.advance(seconds=1)
    # its look before the commit reads the other writer's event; then ours is committed
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng A"})
    assert look() == ["select_notifications"]  # the other writer is at work: no detour
    world.act(RECIPIENT, "delivery.complete", {"document": doc})
    assert look() == ["max_notification_id"]  # alone again


def test_another_writers_event_that_skips_a_version_evicts_the_cached_aggregate(
        world: World, elsewhere: DocLedger) -> None:
    """No ledger writes such an event; a cached aggregate is never brought forward
    across a gap (it is read again from the store when next needed)."""
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    delivery_id = Delivery.id_for(UUID(doc), RECIPIENT)
    cached = world.app.lookup(Delivery, delivery_id, to_change=False)
    assert cached is not None
    elsewhere.recorder.insert_events([StoredEvent(
        originator_id=delivery_id, originator_version=cached.version + 2,
        topic="not:read", state=b"{}")])
    guard = world.app.cache_guard
    assert guard is not None
    guard.refresh()
    assert (guard.followed, guard.evictions) == (0, 1)


def test_stale_cache_after_a_lost_race_heals(world: World, elsewhere: DocLedger) -> None:
    """Both processes hold the delivery; the one that loses the race must not keep
    failing on its stale copy."""
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    elsewhere.find(Delivery, Delivery.id_for(UUID(doc), RECIPIENT))
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng A"})
    # elsewhere cached the delivery at "accepted"; its next command still works
    elsewhere.execute(world.signed(RECIPIENT, "delivery.complete", {"document": doc}))
    delivery = world.app.find(Delivery, Delivery.id_for(UUID(doc), RECIPIENT))
    assert delivery is not None and delivery.state == DeliveryState.COMPLETED


def test_retry_after_the_skew_window_repeats_instead_of_refusing(
        world: World, clock: Any) -> None:
    """Command ids are checked lazily; a late retry of an accepted command must
    still get its result, not a stale-command error."""
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    first = world.app.execute(raw)
    clock.advance(hours=2)
    again = world.app.execute(raw)
    assert again.repeated and again.events == first.events


def test_retry_in_the_same_group_repeats(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    before = world.event_count()
    first, second = world.app.execute_batch([raw, raw])
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    assert second.repeated and second.events == first.events
    assert world.event_count() - before == len(first.events) + 1


def test_retry_refused_by_the_state_it_made_repeats_and_the_batch_goes_on(
        world: World) -> None:
    """The retry of an accept, refused now (the delivery is accepted), answers its
    first outcome; a later command of the same batch still sees the stored state."""
    doc = world.sent()
    accept = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    first = world.app.execute(accept)
    assign = world.signed(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "P"})
    again, assigned = world.app.execute_batch([accept, assign])
    assert not isinstance(again, Exception) and again.repeated
    assert again.events == first.events
    assert not isinstance(assigned, Exception) and not assigned.repeated
    delivery = world.app.find(Delivery, Delivery.id_for(UUID(doc), RECIPIENT))
    assert delivery is not None and delivery.state == DeliveryState.ASSIGNED


def _changeable(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every object within ``value`` that could be changed in place, by path."""
    if isinstance(value, Enum):
        return
    if isinstance(value, (dict, list, set)) or hasattr(value, "__dict__"):
        yield path, value
    items: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = enumerate(value)
    elif hasattr(value, "__dict__"):
        items = vars(value).items()
    for key, inner in items:
        yield from _changeable(inner, f"{path}[{key!r}]")


def test_a_command_changes_a_copy_that_shares_nothing_changeable_with_the_cache(
        world: World) -> None:
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng Nội vụ",
                                             "co_units": ["Văn phòng"]})
    kinds = set()
    for aggregate_id in {n.originator_id for n in world.app.recorder.select_notifications(
            1, 10_000)}:
        cached = world.app.lookup(Record, aggregate_id, to_change=False)
        copy = world.app.lookup(Record, aggregate_id)  # what a command gets to change
        assert cached is not None and copy is not None and copy is not cached
        assert vars(copy) == vars(cached)
        kinds.add(type(copy).__name__)
        in_cache = {id(part) for name, value in vars(cached).items()
                    for _, part in _changeable(value, name)}
        for name, value in vars(copy).items():
            for path, part in _changeable(value, name):
                assert id(part) not in in_cache, f"{type(copy).__name__}.{path} is shared"
    assert kinds == {"LedgerRoot", "CommandRecord", "Agency", "Document", "NumberRegister",
                     "Delivery"}
