"""verify_bundle on bundles of an in-memory ledger: each check fails at its step."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Notification

from domain.errors import VerificationError
from domain.evidence.envelope import Envelope
from domain.evidence.keys import Ed25519Signer
from domain.exchange.agency import Agency
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.root import ROOT_ID
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger
from domain.ledger.command_log import CommandRecord
from domain.verification import bundle as b
from infrastructure.bundle import build_bundle
from tests.bundle_support import (
    MemoryLog,
    find,
    padded_with_agency,
    state_of,
    story,
    with_state,
    without,
)
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, ManualClock, World

ORIGIN = "example.gov.vn/ledger"
Rewrite = Callable[[list[Notification]], list[Notification]]


class Ledger:
    """An in-memory ledger with the story played on it, and its bundle maker."""

    def __init__(self) -> None:
        self.start(SENDER, RECIPIENT, OTHER)
        self.story = story(self.world)
        self.document = UUID(self.story.document)
        self.vkey = MemoryLog(self.world.app, self.signer, ORIGIN).note_key.vkey()

    def start(self, *agencies: str) -> DocLedger:
        """A new ledger (its key ``signer``) with ``agencies`` registered, in ``world``."""
        self.signer = Ed25519Signer.generate()
        registrar = Ed25519Signer.generate()
        app = DocLedger(ledger_signer=self.signer, clock=ManualClock())
        app.execute(sign_command(registrar, "ledger.init", {
            "origin": ORIGIN, "registrar_key": registrar.public_key.to_spec(),
            "ledger_key": self.signer.public_key.to_spec(), "max_clock_skew_seconds": 300,
        }, agency="registrar", staff="init"))
        self.world = World(app=app, settings=None, registrar=registrar)  # type: ignore[arg-type]
        for code in agencies:
            self.world.register(code)
        return app

    def bundle(self, rewrite: Rewrite | None = None) -> dict[str, Any]:
        log = MemoryLog(self.world.app, self.signer, ORIGIN, rewrite)
        return build_bundle(self.world.app, log, self.document)  # type: ignore[arg-type]

    def delivery(self, code: str) -> UUID:
        return Delivery.id_for(self.document, code)


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


def fails_at(step: int, bundle: Any, vkey: str, match: str | None = None) -> b.BundleError:
    with pytest.raises(b.BundleError, match=match) as caught:
        b.verify_bundle(bundle, vkey)
    assert caught.value.step == step, str(caught.value)
    assert str(caught.value).startswith(f"step {step} ")
    return caught.value


def test_a_faithful_bundle_verifies_reporting_every_step_in_order(ledger: Ledger) -> None:
    steps: list[tuple[int, str]] = []
    summary = b.verify_bundle(ledger.bundle(), ledger.vkey, lambda n, t: steps.append((n, t)))
    assert [n for n, _ in steps] == list(range(1, 11))
    assert summary.document == ledger.document
    assert summary.reference == "1/QĐ-UBND"
    assert summary.sender == SENDER
    assert summary.statuses == {RECIPIENT: "06", OTHER: "02"}
    assert summary.origin == ORIGIN
    assert "inclusion proofs verified against checkpoint of size" in steps[2][1]
    assert f"{RECIPIENT} (2 keys, 1 revoked)" in steps[5][1]


def test_the_bundle_holds_exactly_what_the_story_wrote(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    have = {(e["aggregate_id"], e["version"]) for e in bundle["events"]}
    app = ledger.world.app
    for aggregate in (ROOT_ID, Agency.id_for(SENDER), Agency.id_for(RECIPIENT),
                      Agency.id_for(OTHER), ledger.document, ledger.delivery(RECIPIENT),
                      ledger.delivery(OTHER)):
        for event in app.events_of(aggregate):
            assert (str(aggregate), event.originator_version) in have
    registers = [e for e in bundle["events"] if "NumberRegister" in e["topic"]]
    assert registers == []
    assert [e["leaf_index"] for e in bundle["events"]] == sorted(
        e["leaf_index"] for e in bundle["events"])
    assert json.loads(json.dumps(bundle)) == bundle


def test_ids_and_state_decoding_match_the_ledgers_own(ledger: Ledger) -> None:
    assert b.ROOT_ID == ROOT_ID
    assert b.agency_id(SENDER) == Agency.id_for(SENDER)
    assert b.document_id(SENDER, "x,1") == Document.id_for(SENDER, "x,1")
    assert b.delivery_id(ledger.document, OTHER) == Delivery.id_for(ledger.document, OTHER)
    assert b.command_record_id("cmd-1") == CommandRecord.id_for("cmd-1")
    app = ledger.world.app
    stored = app.recorder.select_notifications(1, 50)
    for n in stored:
        domain_event = app.mapper.to_domain_event(n)
        assert b.decode_state(n.state)["timestamp"] == domain_event.timestamp


def test_bundle_error_is_a_verification_error_with_its_own_code() -> None:
    assert issubclass(b.BundleError, VerificationError)
    assert b.BundleError.code == "invalid-bundle"


# ---- step 1: format -------------------------------------------------------------------


@pytest.mark.parametrize("change, match", [
    (lambda x: x.update(format="docledger-audit-bundle/0"), "format is"),
    (lambda x: x.update(document="not-a-uuid"), "document is not a UUID"),
    (lambda x: x.update(events=[]), "events is not a non-empty list"),
    (lambda x: x["events"].reverse(), "not sorted"),
    (lambda x: x["events"][0].update(state="*not base64*"), r"events\[0\].state"),
    (lambda x: x["events"][0].update(proof=["zz"]), "proof"),
    (lambda x: x["events"][0].update(version=True), "version"),
    (lambda x: x["events"].append({**x["events"][-1], "leaf_index": 10**6}), "twice"),
])
def test_malformed_bundles_fail_at_step_1(ledger: Ledger, change: Any, match: str) -> None:
    bundle = copy.deepcopy(ledger.bundle())
    change(bundle)
    fails_at(1, bundle, ledger.vkey, match)


def test_a_bundle_that_is_not_an_object_fails_at_step_1(ledger: Ledger) -> None:
    fails_at(1, [1, 2], ledger.vkey)


# ---- a ledger that re-signs an altered log is caught by what agencies signed -------------


def rewrite_event(match: Callable[[Notification], bool],
                  change: Callable[[dict[str, Any]], None]) -> Rewrite:
    def rewrite(rows: list[Notification]) -> list[Notification]:
        out = []
        for n in rows:
            if match(n):
                state = json.loads(n.state)
                change(state)
                n = with_state(n, state)
            out.append(n)
        return out
    return rewrite


def test_colluding_ledger_forging_an_agency_signature_fails_at_step_7(ledger: Ledger) -> None:
    forger = Ed25519Signer.generate()
    target = ledger.delivery(OTHER)

    def forge(state: dict[str, Any]) -> None:
        envelope = Envelope.from_dict(state["envelope"])
        state["envelope"] = Envelope.sign(envelope.payload_type, envelope.payload,
                                          forger).to_dict()

    bundle = ledger.bundle(rewrite_event(
        lambda n: n.originator_id == target and n.topic.endswith("Refused"), forge))
    fails_at(7, bundle, ledger.vkey, f"signed with {forger.keyid}, not a key of agency {OTHER}")


def corrupt_signature(state: dict[str, Any]) -> None:
    envelope = Envelope.from_dict(state["envelope"])
    first = envelope.signatures[0]
    bad = replace(first, sig=bytes([first.sig[0] ^ 1]) + first.sig[1:])
    state["envelope"] = replace(envelope, signatures=(bad,)).to_dict()


@pytest.mark.parametrize("threads", [False, True], ids=["one-thread", "every-core"])
def test_colluding_ledger_corrupting_two_signatures_fails_at_the_first_in_step_7(
        ledger: Ledger, threads: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if threads:  # the bundle is small: make it take the thread pool anyway
        monkeypatch.setattr(b, "PARALLEL_SIGNATURES", 1)
    accepted, refused = ledger.delivery(RECIPIENT), ledger.delivery(OTHER)
    bundle = ledger.bundle(rewrite_event(
        lambda n: (n.originator_id, n.topic.rsplit(".", 1)[-1]) in (
            (accepted, "Accepted"), (refused, "Refused")), corrupt_signature))
    error = fails_at(7, bundle, ledger.vkey, "signature does not verify")
    first = min((e for e in bundle["events"] if e["aggregate_id"] in (str(accepted),
                 str(refused)) and e["topic"].endswith(("Accepted", "Refused"))),
                key=lambda e: e["leaf_index"])
    assert f"event {first['aggregate_id']} v{first['version']} " in str(error)


def test_verifying_on_every_core_finds_exactly_the_bad_signatures() -> None:
    signer = Ed25519Signer.generate()
    envelopes = [Envelope.sign("application/vnd.docledger.command+json", b"%d" % i, signer)
                 for i in range(200)]
    bad = {17, 150}
    for i in bad:
        sig = envelopes[i].signatures[0]
        envelopes[i] = replace(envelopes[i], signatures=(
            replace(sig, sig=bytes(64)),))
    checks = [(env, signer.public_key) for env in envelopes] * 2  # each twice
    assert len(checks) // 2 >= b.PARALLEL_SIGNATURES
    for workers in (1, 4):
        failures = b.verify_all(checks, workers=workers)
        assert {i % 200 for i, f in enumerate(failures) if f is not None} == bad
        assert all(isinstance(f, VerificationError) for f in failures if f is not None)


def test_revoked_key_used_after_revocation_fails_at_step_7(
        monkeypatch: pytest.MonkeyPatch) -> None:
    own = Ledger()
    # a faulty ledger that forgets to refuse revoked keys accepts the old key again
    monkeypatch.setattr(Agency, "key_for_signing",
                        lambda self, keyid, issued_at, **_: self.keys[keyid].key)
    own.world.app.clock.advance(seconds=60)  # type: ignore[attr-defined]
    own.world.act(RECIPIENT, "agency.add_key", {
        "code": RECIPIENT, "key": Ed25519Signer.generate().public_key.to_spec()},
        signer=own.story.old_key)
    monkeypatch.undo()
    error = fails_at(7, own.bundle(), own.vkey, "was not valid at")
    assert "revoked at" in str(error)
    assert f"event {Agency.id_for(RECIPIENT)} v4" in str(error)


def test_colluding_ledger_changing_an_event_time_fails_at_step_8(ledger: Ledger) -> None:
    target = ledger.delivery(RECIPIENT)

    def later(state: dict[str, Any]) -> None:
        at = datetime.fromisoformat(state["timestamp"]["_data_"]) + timedelta(seconds=1)
        state["timestamp"]["_data_"] = at.isoformat()

    bundle = ledger.bundle(rewrite_event(
        lambda n: n.originator_id == target and n.topic.endswith("Accepted"), later))
    fails_at(8, bundle, ledger.vkey, "is not the received_at")


def test_colluding_ledger_moving_a_status_to_the_other_recipient_fails_at_step_8(
        ledger: Ledger) -> None:
    """OTHER's refusal, re-signed by nobody, cannot be stored as the recipient's."""
    bundle = ledger.bundle()
    refused = state_of(find(bundle, ledger.delivery(OTHER), 3))
    target = ledger.delivery(RECIPIENT)

    def swap(state: dict[str, Any]) -> None:
        state["envelope"] = refused["envelope"]

    forged = ledger.bundle(rewrite_event(
        lambda n: n.originator_id == target and n.topic.endswith("Completed"), swap))
    fails_at(8, forged, ledger.vkey)


# ---- dropping records -------------------------------------------------------------------------


def test_dropping_the_last_event_of_a_delivery_fails_at_step_4(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    stream = [e for e in bundle["events"] if e["aggregate_id"] == str(ledger.delivery(OTHER))]
    fails_at(4, without(bundle, stream[-1]), ledger.vkey, "is missing from the bundle")


def test_dropping_a_whole_delivery_fails_at_step_4(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    stream = [e for e in bundle["events"] if e["aggregate_id"] == str(ledger.delivery(OTHER))]
    records = {CommandRecord.id_for(json.loads(base64.b64decode(
        state_of(e)["envelope"]["payload"])).get("command_id", "")) for e in stream}
    dropped = stream + [e for e in bundle["events"] if UUID(e["aggregate_id"]) in records]
    fails_at(4, without(bundle, *dropped), ledger.vkey,
             f"sent to {OTHER} but that delivery's events are missing")


def test_dropping_the_genesis_fails_at_step_5(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    fails_at(5, without(bundle, find(bundle, ROOT_ID, 1)), ledger.vkey, "genesis")


def test_dropping_an_agency_history_fails_at_step_6(ledger: Ledger) -> None:
    bundle = ledger.bundle()
    fails_at(6, without(bundle, find(bundle, Agency.id_for(OTHER), 1)), ledger.vkey,
             f"key history of agency {OTHER} is missing")


def test_a_checkpoint_of_another_ledger_fails_at_step_3() -> None:
    first, second = Ledger(), Ledger()
    bundle = first.bundle()
    bundle["checkpoint"] = second.bundle()["checkpoint"]
    fails_at(3, bundle, second.vkey)  # its proofs do not lead to the other root


# ---- strictness ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["top", "event"])
def test_bundle_with_an_unknown_field_is_refused_at_parsing(ledger: Ledger, where: str) -> None:
    bundle = copy.deepcopy(ledger.bundle())
    target = bundle if where == "top" else bundle["events"][-1]
    target["note"] = "checked by the ministry"
    error = fails_at(1, bundle, ledger.vkey, "unknown field")
    assert "'note'" in str(error)


def test_bundle_with_a_non_party_agency_key_history_is_refused() -> None:
    fresh = Ledger()
    fresh.world.register(THIRD)
    other_doc = UUID(fresh.world.sent(SENDER, (THIRD,)))
    donor = build_bundle(fresh.world.app, MemoryLog(fresh.world.app, fresh.signer, ORIGIN),
                         other_doc)  # type: ignore[arg-type]
    bundle = fresh.bundle()
    b.verify_bundle(bundle, fresh.vkey)
    error = fails_at(6, padded_with_agency(bundle, donor, THIRD), fresh.vkey, "not a party")
    assert THIRD in str(error)
