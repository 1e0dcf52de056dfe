"""The audit cut into ranges, replayed in separate worker processes.

The attacks of test_tamper run against three in-process ranges too; here the
ranges run in real worker processes, and the seams between ranges are attacked
directly.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

import infrastructure.ledger
import infrastructure.parallel_audit
from domain.errors import AuditFailure, AuditIncompleteError
from domain.verification.audit import RECORD_TOPIC, CommandReplay
from infrastructure.ledger import _stored_leaves, open_log, run_audit, trust_anchors
from infrastructure.log_store import LogStore
from infrastructure.parallel_audit import (
    StoredBefore,
    log_pages,
    open_reader,
    run_parallel_audit,
)
from infrastructure.replay_recorder import REPLAY, ReplayRecorder
from tests.contract.test_tamper import RECORD, Store
from tests.factories import OTHER, RECIPIENT, World


def build(world: World) -> None:
    for _ in range(3):
        doc = world.sent(recipients=(RECIPIENT, OTHER))
        world.act(RECIPIENT, "delivery.accept", {"document": doc})
        world.act(OTHER, "delivery.refuse", {"document": doc, "reason": "nhầm"})
        world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng A"})
    assert open_log(world.settings, world.app).issue_checkpoint(force=True) is not None


def seams_near(position: int, total: int) -> list[int]:
    """Range counts whose seams fall just before, at and just after ``position``
    (ranges of ceil(total / count) events start at 1, 1 + size, …), and one pass."""
    found = {1}
    for offset in (-1, 0, 1):
        found |= {count for count in range(2, total + 1)
                  if (position + offset - 1) % -(-total // count) == 0}
        if len(found) > 6:
            break
    return sorted(found)[:7]


def audit(world: World, **kw: Any) -> Any:
    registrar_key, ledger_key = trust_anchors(world.settings)
    return run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key, **kw)


def test_worker_processes_agree_with_one_pass(world: World) -> None:
    build(world)
    one = audit(world, workers=1, ranges=1)
    seen: list[int] = []
    parallel = audit(world, workers=2, ranges=4, progress=seen.append)
    assert parallel == one
    assert one.events == world.event_count() and one.checkpoints == 1
    assert sum(seen) == one.events


def test_forged_event_found_by_a_worker_process(world: World) -> None:
    build(world)
    store = Store(world)
    rows = store.rows()
    nid, _, _, _, state = [r for r in rows if r[3].endswith("Delivery.Assigned")][-1]
    store.set_state(nid, state.replace("Phòng A".encode(), "Phòng B".encode()))
    assert store.rows() != rows, "the forgery did not change the row"
    # of two ranges the auditing process replays the first, a worker the second
    assert nid > -(-world.event_count() // 2), "the forgery is not in the worker's range"
    with pytest.raises(AuditFailure) as info:
        audit(world, workers=2, ranges=2)
    assert info.value.position == nid


def test_command_record_disguised_as_a_plain_event_at_every_seam(world: World) -> None:
    """Turning a group's record into another topic must fail wherever the ranges
    meet: at the seam itself the range before stops short and the range after
    starts later, and their join must not close over the gap."""
    build(world)
    store = Store(world)
    rows = store.rows()
    heads = [r[0] for r in rows if r[3] == RECORD]
    victim = heads[len(heads) // 2]
    store.set_topic(victim, "domain.delivery:Delivery.Accepted")
    for ranges in seams_near(victim, len(rows)):
        with pytest.raises(AuditFailure) as info:
            audit(world, workers=1, ranges=ranges)
        assert info.value.position == victim, ranges


def test_trailing_events_after_the_last_command_at_a_seam(world: World) -> None:
    """Events appended after the last group, where a range begins, belong to no
    command."""
    build(world)
    store = Store(world)
    last = store.rows()[-1]
    store.insert(last[1], last[2] + 1, last[3], last[4])
    forged = store.rows()[-1][0]
    for ranges in seams_near(forged, len(store.rows())):
        with pytest.raises(AuditFailure) as info:
            audit(world, workers=1, ranges=ranges)
        assert info.value.position == forged, ranges


def test_gaps_in_notification_ids_are_no_seam_to_fail_at(world: World) -> None:
    """PostgreSQL spends notification ids on transactions that roll back, so a
    sound log may skip ids; a seam there must not be taken for missing events."""
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    store = Store(world)
    gap_after = store.rows()[-1][0]
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.act(OTHER, "delivery.accept", {"document": doc})
    # open a gap of 10 ids before the last two commands, as rolled-back inserts would
    store.run(("UPDATE {t} SET {id} = -{id} WHERE {id} > ?", (gap_after,)),
              ("UPDATE {t} SET {id} = 10 - {id} WHERE {id} < 0", ()))
    if store.postgres:  # the sequence goes on after the gap
        store.run(("SELECT setval(pg_get_serial_sequence('{t}', 'notification_id'), "
                   "(SELECT max(notification_id) FROM {t}))", ()))
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng A"})
    assert open_log(world.settings, world.app).issue_checkpoint(force=True) is not None
    ids = [r[0] for r in store.rows()]
    assert ids[ids.index(gap_after) + 1] == gap_after + 11
    one = audit(world, workers=1, ranges=1)
    for ranges in seams_near(gap_after + 11, ids[-1]):
        assert audit(world, workers=1, ranges=ranges) == one, ranges


def test_a_log_growing_during_the_audit_is_audited_as_it_was_when_it_began(
        world: World) -> None:
    """A live ledger appends while the auditor reads: every range and the tree stop
    where the log ended when the audit began, so none sees more than the others."""
    build(world)
    log = open_log(world.settings, world.app)
    began = world.event_count()
    notes = [c.note for c in log.store.checkpoints()]
    registrar_key, ledger_key = trust_anchors(world.settings)
    then = audit(world, workers=1, ranges=1)
    # what the ledger appends after the audit began: events, leaves, a checkpoint
    build(world)
    assert world.event_count() > began
    report = run_parallel_audit(
        env=dict(world.app.env), total=began, notifications=lambda: log_pages(world.app),
        stored_leaves=_stored_leaves(LogStore(world.app)), registrar_key=registrar_key,
        ledger_key=ledger_key, notes=notes, workers=1, ranges=3)
    assert report == then


def test_a_range_that_cannot_be_read_gives_no_verdict_not_a_finding(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store failing under one worker is not evidence of tampering: the audit
    says it could not finish (exit 8), not that the history is bad (exit 1)."""
    build(world)
    original = StoredBefore.events

    def store_gone(self: StoredBefore, originator_id: Any, after: int = 0) -> Any:
        raise OSError("connection to the store lost")

    monkeypatch.setattr(StoredBefore, "events", store_gone)
    with pytest.raises(AuditIncompleteError, match="connection to the store lost") as info:
        audit(world, workers=1, ranges=3)
    assert not isinstance(info.value, AuditFailure)
    monkeypatch.setattr(StoredBefore, "events", original)
    audit(world, workers=1, ranges=3)


def test_the_replay_never_reads_back_what_it_committed(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-pass replay builds every aggregate itself: each command must find
    the aggregates earlier ones committed in the cache, not rebuild them from
    the replay's own store (that cost a tenth of the audit)."""
    build(world)
    registrar_key, ledger_key = trust_anchors(world.settings)
    replay = CommandReplay(mapper=world.app.mapper, registrar_key=registrar_key,
                           ledger_key=ledger_key, checkpoints=[], adapters=REPLAY)
    rebuilt: list[Any] = []
    repository = replay.ledger.repository
    original = repository._reconstruct_aggregate

    def counting(aggregate_id: Any, *args: Any, **kwargs: Any) -> Any:
        found = original(aggregate_id, *args, **kwargs)  # raises if never stored
        rebuilt.append(aggregate_id)
        return found

    monkeypatch.setattr(repository, "_reconstruct_aggregate", counting)
    groups = list(replay.groups(log_pages(world.app)))
    assert replay.commands == len(groups) > 20 and replay.events == world.event_count()
    assert rebuilt == []
    guard = replay.ledger.cache_guard
    assert guard is not None and not guard._ours  # nothing kept per commit: memory stays flat


def test_a_range_replay_holds_only_its_own_events_and_reads_the_rest_from_the_store(
        world: World) -> None:
    """A replay of a later range keeps in memory what it replays, not the log
    before it: an aggregate whose history straddles the range's start reads
    exactly as the store holds it, half from the store, half from the replay."""
    build(world)
    store = Store(world)
    rows = store.rows()
    heads = [r[0] for r in rows if r[3] == RECORD_TOPIC]
    first = heads[len(heads) // 2]
    reader = open_reader(dict(world.app.env))
    registrar_key, ledger_key = trust_anchors(world.settings)
    replay = CommandReplay(mapper=reader.mapper, registrar_key=registrar_key,
                           ledger_key=ledger_key, checkpoints=[], adapters=REPLAY,
                           prior=StoredBefore(reader, first))
    groups = list(replay.groups(log_pages(reader, first)))
    after = [r for r in rows if r[0] >= first]
    assert replay.events == len(after) == sum(len(g) for g in groups)
    assert replay.recorder.max_notification_id() == len(after) < len(rows)
    straddling = {r[1] for r in rows if r[0] < first} & {r[1] for r in after}
    assert straddling
    for originator_id in straddling:
        mine = replay.recorder.select_events(UUID(originator_id))
        stored = world.app.recorder.select_events(UUID(originator_id))
        assert [(e.originator_version, e.topic, e.state) for e in mine] == [
            (e.originator_version, e.topic, e.state) for e in stored]
        assert replay.recorder.select_events(UUID(originator_id), desc=True, limit=1)[0] \
            .originator_version == stored[-1].originator_version
        last_before = max(r[2] for r in rows if r[0] < first and r[1] == originator_id)
        for gt in (1, last_before):  # read from the store, and known to need no read
            assert [e.originator_version for e in replay.recorder.select_events(
                UUID(originator_id), gt=gt)] == [e.originator_version for e in stored
                                                 if e.originator_version > gt]
    reader.close()


def test_replayed_event_already_in_an_earlier_range_is_refused(world: World) -> None:
    """A range's store refuses an event whose aggregate and version the log
    before the range holds, as the store's unique constraint would: a command
    copied into a later range cannot pass its replay by writing over history
    the replay only reads."""
    build(world)
    rows = Store(world).rows()
    nid, originator_id, version, topic, state = rows[len(rows) // 2]
    reader = open_reader(dict(world.app.env))
    copy = StoredEvent(originator_id=UUID(originator_id), originator_version=version,
                       topic=topic, state=state)
    after = ReplayRecorder(StoredBefore(reader, nid + 1))
    with pytest.raises(IntegrityError):
        after.insert_events([copy])
    latest = max(v for _, o, v, _, _ in rows if o == originator_id)
    after.insert_events([StoredEvent(originator_id=UUID(originator_id),
                                     originator_version=latest + 1, topic=topic, state=state)])
    ReplayRecorder(StoredBefore(reader, nid)).insert_events([copy])  # not before that range
    reader.close()


def test_a_replay_hands_what_it_replayed_to_the_store_and_stays_small(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """However long the log and few the cores, a replay holds at most about
    ``keep_at_most`` replayed events in memory: past that it reads them back from
    the store, where they are exactly as replayed. The verdict is the same, and
    a forgery past a hand-over is still found where it is."""
    build(world)
    one = audit(world, workers=1, ranges=1)
    held: list[int] = []
    handed: list[int] = []
    insert, rebase = ReplayRecorder.insert_events, ReplayRecorder.rebase

    def inserting(self: ReplayRecorder, events: Any, **kw: Any) -> Any:
        found = insert(self, events, **kw)
        held.append(self.max_notification_id() or 0)
        return found

    def rebasing(self: ReplayRecorder, prior: Any) -> None:
        handed.append(1)
        rebase(self, prior)

    monkeypatch.setattr(ReplayRecorder, "insert_events", inserting)
    monkeypatch.setattr(ReplayRecorder, "rebase", rebasing)
    monkeypatch.setattr(infrastructure.ledger, "PARALLEL_FROM", 1)
    assert audit(world, workers=1, ranges=1, keep_at_most=10) == one
    assert len(handed) >= one.events // 20 and max(held) < 10 + 10  # + one group at most
    assert max(held) < one.events // 2
    store = Store(world)
    nid, _, _, _, state = [r for r in store.rows() if r[3].endswith("Delivery.Assigned")][-1]
    store.set_state(nid, state.replace("Phòng A".encode(), "Phòng B".encode()))
    with pytest.raises(AuditFailure) as info:
        audit(world, workers=1, ranges=1, keep_at_most=10)
    assert info.value.position == nid
