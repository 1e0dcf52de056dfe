"""Audit bundles built from the real ledger and Merkle log, on SQLite and PostgreSQL.

Each attack on a bundle is named after what the attacker does, and must fail at
the step that catches it (domain/verification/bundle.py, docs/bundle.md).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any
from uuid import UUID

import pytest

from domain.evidence.checkpoint import Checkpoint, NoteKey, open_note, sign_note
from domain.evidence.envelope import Envelope
from domain.evidence.keys import Ed25519Signer
from domain.exchange.delivery import Delivery
from domain.verification.bundle import BundleError, verify_bundle
from infrastructure.bundle import build_bundle
from infrastructure.ledger import open_log
from infrastructure.transparency import LedgerLog
from tests.bundle_support import Story, find, padded_with_agency, state_of, story, without
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, World


@pytest.fixture
def log(world: World) -> LedgerLog:
    return open_log(world.settings, world.app)


@pytest.fixture
def told(world: World) -> Story:
    return story(world)


@pytest.fixture
def bundle(world: World, log: LedgerLog, told: Story) -> dict[str, Any]:
    return build_bundle(world.app, log, UUID(told.document))


@pytest.fixture
def vkey(log: LedgerLog) -> str:
    return log.note_key.vkey()


def fails_at(step: int, bundle: dict[str, Any], vkey: str, match: str | None = None) -> str:
    with pytest.raises(BundleError, match=match) as caught:
        verify_bundle(bundle, vkey)
    assert caught.value.step == step, str(caught.value)
    return str(caught.value)


def delivery(told: Story, code: str) -> UUID:
    return Delivery.id_for(UUID(told.document), code)


def test_bundle_of_a_document_with_a_key_rotation_verifies(
        bundle: dict[str, Any], vkey: str, told: Story, log: LedgerLog) -> None:
    steps: list[tuple[int, str]] = []
    summary = verify_bundle(json.loads(json.dumps(bundle)), vkey,
                            lambda n, text: steps.append((n, text)))
    assert [n for n, _ in steps] == list(range(1, 11))
    assert summary.statuses == {RECIPIENT: "06", OTHER: "02"}
    assert summary.sender == SENDER and summary.document == UUID(told.document)
    latest = log.store.latest_checkpoint()
    assert latest is not None and summary.checkpoint_size == latest.size
    assert bundle["checkpoint"] == latest.note
    assert steps[2][1] == (f"{len(bundle['events'])} inclusion proofs verified against "
                           f"checkpoint of size {latest.size}")


def test_building_twice_without_new_events_gives_the_same_bundle(
        world: World, log: LedgerLog, told: Story, bundle: dict[str, Any]) -> None:
    assert build_bundle(world.app, log, UUID(told.document)) == bundle


def test_tampered_state_byte_fails_at_step_3(
        bundle: dict[str, Any], vkey: str, told: Story) -> None:
    changed = copy.deepcopy(bundle)
    event = find(changed, delivery(told, RECIPIENT), 3)
    state = bytearray(base64.b64decode(event["state"]))
    state[len(state) // 2] ^= 0x01
    event["state"] = base64.b64encode(bytes(state)).decode()
    message = fails_at(3, changed, vkey)
    assert f"event {delivery(told, RECIPIENT)} v3 (leaf {event['leaf_index']})" in message


def test_event_dropped_from_the_bundle_fails_at_step_4(
        bundle: dict[str, Any], vkey: str, told: Story) -> None:
    accepted = find(bundle, delivery(told, RECIPIENT), 3)
    message = fails_at(4, without(bundle, accepted), vkey, "lacks version 3")
    assert str(delivery(told, RECIPIENT)) in message


def test_forged_signature_with_an_unregistered_key_fails_at_step_3(
        bundle: dict[str, Any], vkey: str, told: Story) -> None:
    changed = copy.deepcopy(bundle)
    event = find(changed, delivery(told, OTHER), 3)  # the refusal
    state = state_of(event)
    envelope = Envelope.from_dict(state["envelope"])
    state["envelope"] = Envelope.sign(envelope.payload_type, envelope.payload,
                                      Ed25519Signer.generate()).to_dict()
    event["state"] = base64.b64encode(json.dumps(state).encode()).decode()
    fails_at(3, changed, vkey, "not in the checkpointed log")


def test_checkpoint_re_signed_by_another_key_fails_at_step_2(
        bundle: dict[str, Any], vkey: str) -> None:
    key = NoteKey.parse(vkey)
    text = open_note(bundle["checkpoint"], key)
    impostor = Ed25519Signer.generate()
    impostor_key = NoteKey.from_public_key(key.name, impostor.public_key)
    changed = {**bundle, "checkpoint": sign_note(text, impostor_key, impostor)}
    fails_at(2, changed, vkey, f"0 signatures by {key.name}")
    # and the impostor's own key does not pass either: the genesis names the real one
    fails_at(5, changed, impostor_key.vkey(), "ledger key is not the verifier key")


def test_checkpoint_with_a_forged_root_fails_at_step_2(
        bundle: dict[str, Any], vkey: str) -> None:
    key = NoteKey.parse(vkey)
    real = Checkpoint.parse(open_note(bundle["checkpoint"], key))
    forged = Checkpoint(origin=real.origin, size=real.size, root=bytes(32)).body()
    note = bundle["checkpoint"].replace(real.body(), forged)
    fails_at(2, {**bundle, "checkpoint": note}, vkey, "does not verify")


def test_wrong_vkey_fails_at_step_2(bundle: dict[str, Any]) -> None:
    other = NoteKey.from_public_key("docledger.local/ledger",
                                    Ed25519Signer.generate().public_key).vkey()
    fails_at(2, bundle, other)
    fails_at(2, bundle, "not a verifier key", "verifier key")


def test_inclusion_proof_of_another_leaf_fails_at_step_3(
        bundle: dict[str, Any], vkey: str, told: Story) -> None:
    changed = copy.deepcopy(bundle)
    accepted = find(changed, delivery(told, RECIPIENT), 3)
    refused = find(changed, delivery(told, OTHER), 3)
    accepted["proof"] = refused["proof"]
    fails_at(3, changed, vkey, f"leaf {accepted['leaf_index']}")


def test_event_of_another_document_smuggled_in_fails_at_step_8(
        world: World, log: LedgerLog, bundle: dict[str, Any], vkey: str) -> None:
    other_doc = world.issued(SENDER)
    other = build_bundle(world.app, log, UUID(other_doc))
    mine = build_bundle(world.app, log, UUID(bundle["document"]))  # same checkpoint as other
    created = find(other, other_doc, 1)
    state = state_of(created)
    command_id = json.loads(base64.b64decode(state["envelope"]["payload"]))["command_id"]
    record = next(e for e in other["events"] if e["topic"].endswith("CommandRecord.Accepted")
                  and command_id in base64.b64decode(e["state"]).decode())
    smuggled = copy.deepcopy(mine)
    smuggled["events"] = sorted([*mine["events"], created, record],
                                key=lambda e: e["leaf_index"])
    verify_bundle(mine, vkey)
    message = fails_at(8, smuggled, vkey, f"targets document {other_doc}")
    assert f"event {other_doc} v1" in message


def test_swapping_two_deliveries_aggregate_ids_fails_at_step_3(
        bundle: dict[str, Any], vkey: str, told: Story) -> None:
    """Statuses of one delivery cannot be passed off as another recipient's."""
    changed = copy.deepcopy(bundle)
    mine, theirs = (find(changed, delivery(told, code), 1) for code in (RECIPIENT, OTHER))
    mine["aggregate_id"], theirs["aggregate_id"] = theirs["aggregate_id"], mine["aggregate_id"]
    fails_at(3, changed, vkey)  # the leaf binds the aggregate id


# ---- strictness ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["top", "event"])
def test_bundle_with_an_unknown_field_is_refused_at_parsing(
        bundle: dict[str, Any], vkey: str, where: str) -> None:
    changed = copy.deepcopy(bundle)
    target = changed if where == "top" else changed["events"][3]
    target["verified_by"] = "the ministry"  # text a reader might take for checked
    message = fails_at(1, changed, vkey, "unknown field")
    assert "'verified_by'" in message


def test_bundle_with_a_non_party_agency_key_history_is_refused(
        world: World, log: LedgerLog, told: Story, vkey: str) -> None:
    world.register(THIRD)
    other_doc = world.sent(SENDER, (THIRD,))
    donor = build_bundle(world.app, log, UUID(other_doc))
    bundle = build_bundle(world.app, log, UUID(told.document))
    verify_bundle(bundle, vkey)
    padded = padded_with_agency(bundle, donor, THIRD)
    message = fails_at(6, padded, vkey, "not a party")
    assert THIRD in message
