"""The Merkle log over the store: exactly-once leaves, checkpoints, proofs, receipts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest

from domain.errors import NotFoundError
from domain.evidence import merkle
from domain.evidence.checkpoint import open_checkpoint
from domain.evidence.keys import Ed25519Signer
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.receipt import open_receipt
from domain.verification.history import document_history
from infrastructure.keyfiles import load_public_key
from infrastructure.ledger import DataFolder, open_ledger, open_log
from infrastructure.log_store import LogStore
from tests.factories import OTHER, RECIPIENT, World


def leaves_of(world: World) -> list[bytes]:
    return [event_leaf_hash(n.originator_id, n.originator_version, n.topic, n.state)
            for n in world.app.recorder.select_notifications(1, 100_000)]


def test_concurrent_sequencers_append_each_event_once_in_order(world: World) -> None:
    for _ in range(4):
        world.sent(recipients=(RECIPIENT, OTHER))
    logs = [open_log(world.settings, open_ledger(world.settings)) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        added = list(pool.map(lambda log: log.catch_up(), logs))
    assert sum(added) == world.event_count()
    stored = logs[0].store.leaves(0, 100_000)
    assert [i for i, _, _ in stored] == list(range(len(stored)))
    ids = [n.id for n in world.app.recorder.select_notifications(1, 100_000)]
    assert [nid for _, nid, _ in stored] == ids
    assert [h for _, _, h in stored] == leaves_of(world)
    for log in logs:
        log.app.close()


def test_checkpoints_follow_policy_and_sign_the_true_root(world: World) -> None:
    log = open_log(world.settings, world.app)
    log.checkpoint_every, log.checkpoint_seconds = 10, 3600
    first = log.issue_checkpoint()
    assert first is not None  # the first one is always due
    assert log.issue_checkpoint() is None  # nothing new
    world.sent()  # 10+ events
    second = log.issue_checkpoint()
    assert second is not None and second.size == world.event_count()
    assert second.root == merkle.root_of(leaves_of(world))
    cp = open_checkpoint(second.note, log.note_key)
    assert (cp.size, cp.root) == (second.size, second.root)
    proof = log.consistency_proof(first.size, second.size)
    merkle.verify_consistency(first.size, second.size, first.root, second.root, proof)
    assert [c.size for c in log.store.checkpoints()] == [first.size, second.size]


def test_every_leaf_proves_inclusion_from_stored_subtrees(world: World) -> None:
    for _ in range(3):
        world.sent(recipients=(RECIPIENT, OTHER))
    log = open_log(world.settings, world.app)
    cp = log.issue_checkpoint(force=True)
    assert cp is not None
    for index, leaf in enumerate(leaves_of(world)):
        merkle.verify_inclusion(index, cp.size, leaf, log.inclusion_proof(index, cp.size),
                                cp.root)


def test_receipt_is_signed_repeatable_and_names_provable_leaves(world: World) -> None:
    doc = world.sent()
    log = open_log(world.settings, world.app)
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    outcome = world.app.execute(raw)
    assert outcome.stored  # the receipt is made from the rows its commit stored ...
    receipt = log.receipt(outcome)
    retry = world.app.execute(raw)
    assert retry.repeated and not retry.stored  # ... a repeat's are read from the store
    assert log.receipt(retry) == receipt  # the same bytes either way
    content = open_receipt(receipt, load_public_key(DataFolder(world.settings.data).ledger_key))
    assert content["command_id"] == outcome.command_id
    assert [e["notification_id"] for e in content["events"]] == list(outcome.notification_ids)
    cp = log.issue_checkpoint(force=True)
    assert cp is not None
    for event in content["events"]:
        leaf = bytes.fromhex(event["leaf_hash"])
        index = log.store.leaf_index_of(leaf_hash=leaf)
        merkle.verify_inclusion(index, cp.size, leaf, log.inclusion_proof(index, cp.size),
                                cp.root)


def test_a_sequencer_reuses_its_edge_only_while_the_store_ends_where_it_left_it(
        world: World) -> None:
    """A sequencer keeps the tree's right edge its last append made; once another
    sequencer (another process) has appended, that edge is stale and must be read
    again, or the nodes it forms, and every proof and root after, would be wrong."""
    ours = open_log(world.settings, open_ledger(world.settings))
    other = open_log(world.settings, open_ledger(world.settings))
    for log in (ours, other, ours, ours, other, ours):
        world.sent(recipients=(RECIPIENT, OTHER))
        assert log.catch_up() > 0
    cp = ours.issue_checkpoint(force=True)
    leaves = leaves_of(world)
    assert cp is not None and cp.size == len(leaves)
    assert cp.root == merkle.root_of(leaves)
    for size in range(1, cp.size + 1):  # every stored subtree, through the roots it forms
        assert ours.root(size) == merkle.root_of(leaves[:size])
    for log in (ours, other):
        log.app.close()


def test_stored_rows_are_read_in_the_order_asked_and_a_missing_one_is_named(
        world: World) -> None:
    """A receipt's events are read in one query: each must still come back as
    stored, in the receipt's order, and one the store lacks is an error."""
    world.sent(recipients=(RECIPIENT, OTHER))
    stored = list(world.app.recorder.select_notifications(1, 1000))[::-1]
    pairs = [(str(n.originator_id), n.originator_version) for n in stored]
    got = LogStore(world.app).notifications_of(pairs)
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in got] == [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored]
    with pytest.raises(NotFoundError, match=" v999"):
        LogStore(world.app).notifications_of([pairs[0], (pairs[0][0], 999)])


def test_history_verifies_across_key_rotation(world: World) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    old = world.keys[RECIPIENT]
    new = Ed25519Signer.generate()
    world.act(RECIPIENT, "agency.add_key", {"code": RECIPIENT, "key": new.public_key.to_spec()})
    world.act(RECIPIENT, "agency.revoke_key", {"code": RECIPIENT, "keyid": old.keyid,
                                               "reason": "rotation"})
    world.app.clock.advance(seconds=1)
    world.keys[RECIPIENT] = new
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng Nội vụ"})
    signed_by = {e.event: e.keyid for e in document_history(world.app, UUID(doc))}
    assert signed_by["Accepted"] == old.keyid and signed_by["Assigned"] == new.keyid
