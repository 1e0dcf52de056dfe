"""Attacks on the command path: every one is refused with its exact error and writes nothing.

Each test runs on SQLite and PostgreSQL (the ``world`` fixture).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.errors import (
    CommandIdConflictError,
    DigestMismatchError,
    DocLedgerError,
    DuplicateError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidCommandError,
    InvalidEnvelopeError,
    InvalidSignatureError,
    KeyNotActiveError,
    KeyRevokedError,
    NotFoundError,
    StaleCommandError,
    UnknownKeyError,
)
from domain.evidence.envelope import COMMAND_TYPE, Envelope
from domain.evidence.keys import Ed25519Signer
from domain.exchange.agency import Agency
from domain.exchange.commands import command_payload
from domain.exchange.delivery import Delivery, DeliveryState
from infrastructure.blobs import BlobStore
from infrastructure.ledger import DataFolder, run_audit, trust_anchors
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, World, header

# ---- helpers ------------------------------------------------------------------


def assert_refused(world: World, raw: bytes, error: type[DocLedgerError]) -> DocLedgerError:
    """Execute ``raw``; require exactly ``error`` and that no event was written."""
    before = world.event_count()
    with pytest.raises(DocLedgerError) as info:
        world.app.execute(raw)
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
    assert world.event_count() == before, "a refused command wrote events"
    return info.value


def audit(world: World) -> None:
    registrar_key, ledger_key = trust_anchors(world.settings)
    report = run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key)
    assert report.events == world.event_count()


def blobs(world: World) -> BlobStore:
    return DataFolder(world.settings.data).blobs


def raw_envelope(payload_type: str, payload: bytes, signer: Ed25519Signer) -> bytes:
    return Envelope.sign(payload_type, payload, signer).to_json()


def edit_envelope(raw: bytes, **changes: Any) -> bytes:
    doc = json.loads(raw)
    doc.update(changes)
    return json.dumps(doc).encode()


def delivery_state(world: World, doc: str, code: str) -> DeliveryState | None:
    found = world.app.find(Delivery, Delivery.id_for(UUID(doc), code))
    return None if found is None else found.state


# ---- signatures and keys ------------------------------------------------------


def test_forged_signature_with_unregistered_key(world: World) -> None:
    doc = world.sent()
    forger = Ed25519Signer.generate()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc}, signer=forger)
    assert_refused(world, raw, UnknownKeyError)
    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.ARRIVED


def test_unregistered_agency_cannot_act(world: World) -> None:
    raw = world.signed(THIRD, "document.create", {
        "document_id": "x,2026/11/27,unregistered", "header": header()},
        signer=Ed25519Signer.generate())
    assert_refused(world, raw, UnknownKeyError)


def test_other_agencys_key(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                       signer=world.keys[OTHER])
    assert_refused(world, raw, UnknownKeyError)


def test_keyid_substitution_with_foreign_signature(world: World) -> None:
    """A signature made by another key but labelled with the agency's key id."""
    doc = world.sent()
    forged = json.loads(world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                                     signer=Ed25519Signer.generate()))
    forged["signatures"][0]["keyid"] = world.keys[RECIPIENT].keyid
    assert_refused(world, json.dumps(forged).encode(), InvalidSignatureError)


def test_agency_key_cannot_act_as_registrar(world: World) -> None:
    raw = world.signed("registrar", "agency.register", {
        "code": THIRD, "name": "Rogue", "keys": [Ed25519Signer.generate().public_key.to_spec()]},
        signer=world.keys[SENDER])
    assert_refused(world, raw, InvalidSignatureError)
    assert world.app.find(Agency, Agency.id_for(THIRD)) is None


def test_revoked_key(world: World, clock: Any) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})  # signed before T
    clock.advance(minutes=1)
    old = world.keys[RECIPIENT]
    world.act("registrar", "agency.revoke_key",
              {"code": RECIPIENT, "keyid": old.keyid, "reason": "key compromised"})
    clock.advance(minutes=1)
    raw = world.signed(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng A"})
    assert_refused(world, raw, KeyRevokedError)
    # backdating to before the revocation (inside the skew window) does not help
    backdated = world.signed(RECIPIENT, "delivery.assign",
                             {"document": doc, "lead_unit": "Phòng A"},
                             issued_at=clock.now - timedelta(minutes=2))
    assert_refused(world, backdated, KeyRevokedError)
    # the history signed before T still audits
    audit(world)


def test_revoked_key_cannot_be_revoked_or_used_to_add_a_key(world: World) -> None:
    old = world.keys[RECIPIENT]
    world.act("registrar", "agency.revoke_key",
              {"code": RECIPIENT, "keyid": old.keyid, "reason": "lost"})
    fresh = Ed25519Signer.generate()
    raw = world.signed(RECIPIENT, "agency.add_key",
                       {"code": RECIPIENT, "key": fresh.public_key.to_spec()})
    assert_refused(world, raw, KeyRevokedError)


def test_key_rotation_old_events_still_verify(world: World, clock: Any) -> None:
    doc = world.sent()
    old = world.keys[RECIPIENT]
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    clock.advance(minutes=1)
    new = Ed25519Signer.generate()
    world.act(RECIPIENT, "agency.add_key", {"code": RECIPIENT, "key": new.public_key.to_spec()})
    clock.advance(minutes=1)
    world.keys[RECIPIENT] = new
    world.act(RECIPIENT, "agency.revoke_key",
              {"code": RECIPIENT, "keyid": old.keyid, "reason": "rotation"})
    clock.advance(minutes=1)
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng Tư pháp"})
    world.act(RECIPIENT, "delivery.complete", {"document": doc, "note": "xong"})
    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.COMPLETED
    # the old key is dead for new commands
    raw = world.signed(RECIPIENT, "delivery.progress", {"document": doc}, signer=old)
    assert_refused(world, raw, KeyRevokedError)
    audit(world)


def test_key_not_yet_effective_when_backdated(world: World, clock: Any) -> None:
    """A key added at T cannot sign a command dated before T (within the skew)."""
    clock.advance(minutes=1)
    new = Ed25519Signer.generate()
    world.act(SENDER, "agency.add_key", {"code": SENDER, "key": new.public_key.to_spec()})
    raw = world.signed(SENDER, "document.create", {
        "document_id": "x,2026/11/27,backdated", "header": header()},
        signer=new, issued_at=clock.now - timedelta(seconds=30))
    assert_refused(world, raw, KeyNotActiveError)


def test_agency_cannot_manage_another_agencys_keys(world: World) -> None:
    raw = world.signed(OTHER, "agency.add_key",
                       {"code": RECIPIENT, "key": Ed25519Signer.generate().public_key.to_spec()})
    assert_refused(world, raw, ForbiddenError)
    raw = world.signed(OTHER, "agency.revoke_key",
                       {"code": RECIPIENT, "keyid": world.keys[RECIPIENT].keyid,
                        "reason": "sabotage"})
    assert_refused(world, raw, ForbiddenError)


def test_tampered_payload(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    env = json.loads(raw)
    payload = bytearray(base64.b64decode(env["payload"]))
    # change one byte inside the staff name so the payload still parses
    at = payload.index(b'"staff":"') + len(b'"staff":"')
    payload[at] ^= 0x01
    json.loads(bytes(payload))  # still a valid command: only the signature can tell
    env["payload"] = base64.b64encode(bytes(payload)).decode()
    assert_refused(world, json.dumps(env).encode(), InvalidSignatureError)


def test_tampered_signature_bytes(world: World) -> None:
    doc = world.sent()
    env = json.loads(world.signed(RECIPIENT, "delivery.accept", {"document": doc}))
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 0x80
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    assert_refused(world, json.dumps(env).encode(), InvalidSignatureError)


def test_swapped_payload_type_breaks_signature(world: World) -> None:
    """The payload type is bound by PAE: relabelling it is detected."""
    doc = world.sent()
    payload = command_payload(type="delivery.accept", command_id="cmd-pt-000001",
                              issued_at=world.app.clock().isoformat(), agency=RECIPIENT,
                              staff="x", fields={"document": doc})
    signed = Envelope.sign("application/json", payload, world.keys[RECIPIENT]).to_json()
    relabelled = edit_envelope(signed, payloadType=COMMAND_TYPE)
    assert_refused(world, relabelled, InvalidSignatureError)


# ---- replay and time ----------------------------------------------------------


def test_replayed_command_id_with_other_bytes(world: World) -> None:
    first_doc, second_doc = world.sent(), world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": first_doc},
                       command_id="cmd-replay-0001")
    first = world.app.execute(raw)
    count = world.event_count()
    other = world.signed(RECIPIENT, "delivery.accept", {"document": second_doc},
                         command_id="cmd-replay-0001")
    assert_refused(world, other, CommandIdConflictError)
    assert delivery_state(world, second_doc, RECIPIENT) is DeliveryState.ARRIVED
    # another agency cannot reuse the id either
    stolen = world.signed(OTHER, "document.create",
                          {"document_id": "x,2026/11/27,stolen", "header": header()},
                          command_id="cmd-replay-0001")
    assert_refused(world, stolen, CommandIdConflictError)
    # the same bytes repeat the outcome and write nothing
    again = world.app.execute(raw)
    assert again.repeated
    assert again.result == first.result and again.events == first.events
    assert world.event_count() == count


def test_stale_issue_time(world: World, clock: Any) -> None:
    doc = world.sent()
    clock.advance(hours=1)  # keys took effect an hour ago: only the skew check is left
    past = world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                        issued_at=clock.now - timedelta(minutes=10))
    assert_refused(world, past, StaleCommandError)
    future = world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                          issued_at=clock.now + timedelta(minutes=10))
    assert_refused(world, future, StaleCommandError)
    # just inside the window is fine
    ok = world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                      issued_at=clock.now - timedelta(seconds=299))
    world.app.execute(ok)
    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.ACCEPTED


# ---- attachments --------------------------------------------------------------


def _create_with(world: World, attachment: dict[str, Any], name: str) -> bytes:
    return world.signed(SENDER, "document.create", {
        "document_id": f"{SENDER},2026/11/27,{name}", "header": header(),
        "attachments": [attachment]})


def test_attachment_digest_mismatch(world: World) -> None:
    data = b"%PDF-1.7 official decision"
    digest = hashlib.sha256(data).hexdigest()
    missing = {"name": "qd.pdf", "media_type": "application/pdf", "size": len(data),
               "sha256": digest}
    assert_refused(world, _create_with(world, missing, "att-missing"), NotFoundError)

    assert blobs(world).put(data) == digest
    wrong_size = dict(missing, size=len(data) + 1)
    assert_refused(world, _create_with(world, wrong_size, "att-size"), DigestMismatchError)

    wrong = hashlib.sha256(b"something else").hexdigest()
    other = b"other bytes entirely"
    with pytest.raises(DigestMismatchError):
        blobs(world).put(other, sha256=wrong)
    assert not blobs(world).path_for(hashlib.sha256(other).hexdigest()).exists()
    assert not blobs(world).path_for(wrong).exists()

    # a corrupted blob on disk is detected when a command refers to it
    corrupt = b"bytes that will rot"
    corrupt_digest = blobs(world).put(corrupt)
    blobs(world).path_for(corrupt_digest).write_bytes(b"bytes that will ROT")
    rotted = {"name": "a.pdf", "media_type": "application/pdf", "size": len(corrupt),
              "sha256": corrupt_digest}
    assert_refused(world, _create_with(world, rotted, "att-rot"), DigestMismatchError)

    # with the right size the same blob is accepted
    world.app.execute(_create_with(world, missing, "att-ok"))


def test_revision_with_unknown_attachment(world: World) -> None:
    doc = world.sent()
    raw = world.signed(SENDER, "document.revise", {
        "document": doc, "business_type": 2, "reason": "đính chính",
        "attachments": [{"name": "x.pdf", "media_type": "application/pdf", "size": 1,
                         "sha256": "0" * 64}]})
    assert_refused(world, raw, NotFoundError)


# ---- who may act --------------------------------------------------------------


def test_third_agency_cannot_act_on_delivery(world: World) -> None:
    doc = world.sent(recipients=(RECIPIENT,))
    for type_, fields in [
        ("delivery.accept", {"document": doc}),
        ("delivery.refuse", {"document": doc, "reason": "không"}),
        ("delivery.complete", {"document": doc}),
        ("delivery.answer_recall", {"document": doc, "agree": True, "reason": "ok"}),
    ]:
        assert_refused(world, world.signed(OTHER, type_, fields), NotFoundError)
    # nor can it act on the sender's side of someone else's document
    assert_refused(world, world.signed(OTHER, "delivery.recall",
                                       {"document": doc, "reason": "x"}), NotFoundError)
    assert_refused(world, world.signed(OTHER, "document.revise", {
        "document": doc, "business_type": 2, "reason": "x",
        "attachments": [{"name": "a", "media_type": "a/b", "size": 1, "sha256": "0" * 64}]}),
        NotFoundError)


def test_sender_cannot_accept_own_delivery(world: World) -> None:
    doc = world.sent()
    assert_refused(world, world.signed(SENDER, "delivery.accept", {"document": doc}),
                   ForbiddenError)


def test_recipient_cannot_recall(world: World) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    raw = world.signed(RECIPIENT, "delivery.recall", {"document": doc, "reason": "x"})
    assert_refused(world, raw, ForbiddenError)
    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.ACCEPTED


def test_recipient_cannot_issue_or_send_senders_document(world: World) -> None:
    doc = world.sent()
    assert_refused(world, world.signed(RECIPIENT, "document.send",
                                       {"document": doc, "recipients": [OTHER]}),
                   ForbiddenError)


def test_agency_cannot_register_agencies(world: World) -> None:
    raw = world.signed(SENDER, "agency.register", {
        "code": THIRD, "name": "Rogue", "keys": [Ed25519Signer.generate().public_key.to_spec()]})
    assert_refused(world, raw, ForbiddenError)
    assert world.app.find(Agency, Agency.id_for(THIRD)) is None


def test_registrar_cannot_send_documents(world: World) -> None:
    raw = world.signed("registrar", "document.create", {
        "document_id": "r,2026/11/27,1", "header": header()})
    assert_refused(world, raw, ForbiddenError)


def test_illegal_transition_writes_nothing(world: World) -> None:
    doc = world.sent()
    assert_refused(world, world.signed(RECIPIENT, "delivery.complete", {"document": doc}),
                   IllegalTransitionError)
    draft = world.draft()
    assert_refused(world, world.signed(SENDER, "document.issue", {"document": draft}),
                   IllegalTransitionError)
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    assert_refused(world, world.signed(RECIPIENT, "delivery.accept", {"document": doc}),
                   IllegalTransitionError)
    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.ACCEPTED


def test_duplicate_document_id_refused(world: World) -> None:
    fields = {"document_id": f"{SENDER},2026/11/27,dup-1", "header": header()}
    world.act(SENDER, "document.create", fields)
    assert_refused(world, world.signed(SENDER, "document.create", fields), DuplicateError)


def test_duplicate_agency_refused(world: World) -> None:
    raw = world.signed("registrar", "agency.register", {
        "code": SENDER, "name": "Again", "keys": [Ed25519Signer.generate().public_key.to_spec()]})
    assert_refused(world, raw, DuplicateError)


def test_second_genesis_refused(world: World) -> None:
    registrar_key, ledger_key = trust_anchors(world.settings)
    raw = world.signed("registrar", "ledger.init", {
        "origin": "evil/ledger", "registrar_key": registrar_key.to_spec(),
        "ledger_key": ledger_key.to_spec(), "max_clock_skew_seconds": 3600})
    assert_refused(world, raw, DuplicateError)


# ---- malformed input -----------------------------------------------------------


def test_wrong_payload_type(world: World) -> None:
    doc = world.sent()
    payload = command_payload(type="delivery.accept", command_id="cmd-wrongtype-1",
                              issued_at=world.app.clock().isoformat(), agency=RECIPIENT,
                              staff="x", fields={"document": doc})
    for payload_type in ("application/json", "application/vnd.docledger.statement+json", ""):
        assert_refused(world, raw_envelope(payload_type, payload, world.keys[RECIPIENT]),
                       InvalidEnvelopeError)


def test_malformed_envelope(world: World) -> None:
    doc = world.sent()
    good = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    sig = json.loads(good)["signatures"][0]
    cases = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"a string"',
        b"{}",
        edit_envelope(good, payload=None),
        edit_envelope(good, payloadType=7),
        edit_envelope(good, payload="!!not base64!!"),
        edit_envelope(good, signatures=[]),
        edit_envelope(good, signatures="x"),
        edit_envelope(good, signatures=[sig] * 5),
        edit_envelope(good, signatures=["x"]),
        edit_envelope(good, signatures=[{"keyid": sig["keyid"]}]),
        edit_envelope(good, signatures=[{"keyid": 1, "sig": sig["sig"]}]),
        edit_envelope(good, signatures=[{"keyid": sig["keyid"], "sig": "%%%"}]),
    ]
    for raw in cases:
        assert_refused(world, raw, InvalidEnvelopeError)


def test_invalid_command_fields(world: World) -> None:
    doc = world.sent()
    key = world.keys[RECIPIENT]
    now = world.app.clock().isoformat()

    def env(**overrides: Any) -> bytes:
        base: dict[str, Any] = {
            "type": "delivery.accept", "command_id": "cmd-invalid-0001", "issued_at": now,
            "actor": {"agency": RECIPIENT, "staff": "x"}, "fields": {"document": doc}}
        base.update(overrides)
        return raw_envelope(COMMAND_TYPE, json.dumps(base).encode(), key)

    cases = [
        raw_envelope(COMMAND_TYPE, b"not json", key),
        raw_envelope(COMMAND_TYPE, b"\xff\xfe", key),
        raw_envelope(COMMAND_TYPE, b"[]", key),
        env(type="delivery.teleport"),
        env(command_id="short"),
        env(command_id="has spaces in it"),
        env(issued_at="yesterday"),
        env(issued_at="2026-11-27T10:00:00"),  # naive time
        env(actor={"agency": "not-a-code", "staff": "x"}),
        env(actor={"agency": RECIPIENT, "staff": ""}),
        env(actor={"agency": RECIPIENT, "staff": "x", "role": "admin"}),
        env(fields={"document": "not-a-uuid"}),
        env(fields={"document": doc, "extra": 1}),
        env(fields={}),
        env(extra="field"),
        env(type="delivery.refuse", fields={"document": doc, "reason": ""}),
        env(type="document.send", fields={"document": doc, "recipients": [OTHER, OTHER]}),
        env(type="document.send", fields={"document": doc, "recipients": []}),
        env(type="document.create", fields={"document_id": "d", "header": header(priority=9)}),
        env(type="document.create", fields={
            "document_id": "d", "header": header(),
            "attachments": [{"name": "a", "media_type": "a/b", "size": -1,
                             "sha256": "0" * 64}]}),
        env(type="document.create", fields={
            "document_id": "d", "header": header(),
            "attachments": [{"name": "a", "media_type": "a/b", "size": 1,
                             "sha256": "../../etc/passwd"}]}),
    ]
    for raw in cases:
        assert_refused(world, raw, InvalidCommandError)
    # a document cannot be sent to its own sender
    draft = world.issued()
    assert_refused(world, world.signed(SENDER, "document.send",
                                       {"document": draft, "recipients": [SENDER]}),
                   InvalidCommandError)


def test_refusals_leave_an_auditable_ledger(world: World) -> None:
    doc = world.sent()
    assert_refused(world, world.signed(SENDER, "delivery.accept", {"document": doc}),
                   ForbiddenError)
    assert_refused(world, world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                                       signer=Ed25519Signer.generate()), UnknownKeyError)
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    audit(world)
