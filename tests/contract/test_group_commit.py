"""Group commit: many commands, one transaction, as if committed one by one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID

import pytest

from domain.errors import DocLedgerError, IllegalTransitionError, KeyRevokedError
from domain.evidence.keys import Ed25519Signer
from domain.exchange.delivery import Delivery, DeliveryState
from domain.exchange.document import Document
from infrastructure.group_commit import GroupCommitter
from infrastructure.ledger import open_log, run_audit, trust_anchors
from tests.factories import OTHER, RECIPIENT, SENDER, World


def audit(world: World) -> None:
    open_log(world.settings, world.app).issue_checkpoint(force=True)
    registrar_key, ledger_key = trust_anchors(world.settings)
    run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key)


def test_batch_reads_like_commands_committed_one_by_one(world: World) -> None:
    docs = [world.sent(recipients=(RECIPIENT, OTHER)) for _ in range(3)]
    raws = [world.signed(code, "delivery.accept", {"document": d})
            for d in docs for code in (RECIPIENT, OTHER)]
    before = world.event_count()
    results = world.app.execute_batch(raws)
    assert all(not isinstance(r, DocLedgerError) for r in results)
    numbers = [r.result["incoming_number"] for r in results]  # type: ignore[union-attr]
    assert numbers == [1, 1, 2, 2, 3, 3]  # each recipient's register, gap-free, in order
    ids = [n for r in results for n in r.notification_ids]  # type: ignore[union-attr]
    assert ids == sorted(ids) and len(ids) == world.event_count() - before
    audit(world)  # the replay re-executes them one by one and finds every byte


def test_refused_command_in_a_batch_changes_nothing_of_the_others(world: World) -> None:
    a = world.sent(recipients=(RECIPIENT, OTHER))
    world.act(OTHER, "delivery.accept", {"document": a})
    world.act(OTHER, "delivery.assign", {"document": a, "lead_unit": "P"})
    world.act(OTHER, "delivery.complete", {"document": a})
    raws = [
        world.signed(RECIPIENT, "delivery.accept", {"document": a}),
        # recalls RECIPIENT's delivery, then fails on OTHER's completed one: a half-change
        world.signed(SENDER, "delivery.recall", {"document": a, "reason": "sai",
                                                 "recipients": [RECIPIENT, OTHER]}),
        world.signed(RECIPIENT, "delivery.assign", {"document": a, "lead_unit": "Phòng Nội vụ"}),
        world.signed(RECIPIENT, "delivery.accept", {"document": a}),  # a second accept
    ]
    results = world.app.execute_batch(raws)
    assert not isinstance(results[0], DocLedgerError)
    assert isinstance(results[1], IllegalTransitionError)
    assert not isinstance(results[2], DocLedgerError)
    assert isinstance(results[3], IllegalTransitionError)
    delivery = world.app.find(Delivery, Delivery.id_for(UUID(a), RECIPIENT))
    assert delivery.state is DeliveryState.ASSIGNED  # the failed recall left no trace
    audit(world)


def test_same_command_twice_in_a_batch_is_a_repeat(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    first, second = world.app.execute_batch([raw, raw])
    assert not first.repeated and second.repeated  # type: ignore[union-attr]
    assert second.result == first.result  # type: ignore[union-attr]


def test_concurrent_callers_share_transactions_and_get_their_own_outcomes(world: World) -> None:
    committer = GroupCommitter(world.app, max_wait=0.01)
    docs = [world.issued() for _ in range(8)]

    def send(doc: str) -> str:
        outcome = committer.execute(world.signed(SENDER, "document.send", {
            "document": doc, "recipients": [RECIPIENT, OTHER]}))
        return str(outcome.result["document"])

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(send, docs)) == sorted(docs)
    assert committer.groups < len(docs)  # some were committed together

    def accept(doc: str) -> int:
        outcome = committer.execute(world.signed(RECIPIENT, "delivery.accept", {"document": doc}))
        return int(outcome.result["incoming_number"])

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(accept, docs)) == list(range(1, 9))  # no gap, no reuse
    for doc in docs:
        assert world.app.find(Document, UUID(doc)).recipients == [RECIPIENT, OTHER]
    audit(world)


def test_conflict_with_another_writer_falls_back_to_one_by_one(world: World) -> None:
    from infrastructure.ledger import open_ledger

    doc = world.sent(recipients=(RECIPIENT, OTHER))
    other_app = open_ledger(world.settings, clock=world.app.clock)
    try:
        raws = [world.signed(RECIPIENT, "delivery.accept", {"document": doc}),
                world.signed(OTHER, "delivery.accept", {"document": doc})]
        # another process accepts for RECIPIENT between our reading and our commit
        original = world.app._prepare

        def racing_prepare(*args, **kwargs):  # type: ignore[no-untyped-def]
            prepared = original(*args, **kwargs)
            if racing_prepare.first:  # type: ignore[attr-defined]
                racing_prepare.first = False  # type: ignore[attr-defined]
                other_app.execute(world.signed(RECIPIENT, "delivery.accept", {"document": doc}))
            return prepared

        racing_prepare.first = True  # type: ignore[attr-defined]
        world.app._prepare = racing_prepare  # type: ignore[method-assign]
        results = world.app.execute_batch(raws)
        world.app._prepare = original  # type: ignore[method-assign]
    finally:
        other_app.close()
    assert isinstance(results[0], IllegalTransitionError)  # the other writer won it
    assert not isinstance(results[1], DocLedgerError)  # the innocent one still committed
    audit(world)


def test_key_added_earlier_in_a_batch_signs_later_in_it(world: World) -> None:
    """Keys are read, not copied, from the cache; a batch's own change comes first."""
    doc = world.sent()
    fresh = Ed25519Signer.generate()
    add = world.signed(RECIPIENT, "agency.add_key",
                       {"code": RECIPIENT, "key": fresh.public_key.to_spec()})
    # issued after the key takes effect: when the ledger records the key change
    accept = world.signed(RECIPIENT, "delivery.accept", {"document": doc}, signer=fresh,
                          issued_at=world.app.clock() + timedelta(seconds=1))
    results = world.app.execute_batch([add, accept])
    assert all(not isinstance(r, DocLedgerError) for r in results), results
    audit(world)


def test_key_revoked_earlier_in_a_batch_cannot_sign_later_in_it(world: World) -> None:
    doc = world.sent()
    old = world.keys[RECIPIENT]
    revoke = world.signed("registrar", "agency.revoke_key",
                          {"code": RECIPIENT, "keyid": old.keyid, "reason": "lost"})
    accept = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    before = world.event_count()
    revoked, refused = world.app.execute_batch([revoke, accept])
    assert not isinstance(revoked, DocLedgerError)
    assert isinstance(refused, KeyRevokedError)
    # the refusal left the cached agency as stored: the key stays revoked afterwards
    assert world.event_count() - before == len(revoked.events) + 1
    with pytest.raises(KeyRevokedError):
        world.act(RECIPIENT, "delivery.accept", {"document": doc})
    audit(world)
