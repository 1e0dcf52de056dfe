"""Audit-bundle vectors for the browser's verifier: bundles Python makes, each
valid or tampered one way, with the verdict ``verify_bundle`` gives on them.

The browser must give the same verdict, failing at the same step and naming the
same event (tests/desk/test_verify_vectors.py, tests/desk/test_audit_page.py).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from domain.evidence.checkpoint import NoteKey, sign_note, split_note
from domain.evidence.cosignature import CosignerKey, cosign
from domain.evidence.envelope import Envelope
from domain.evidence.keys import RSA_PSS_SHA256, Ed25519Signer, KeySigner, PublicKey
from domain.evidence.policy import Policy
from domain.exchange.agency import Agency
from domain.exchange.root import ROOT_ID
from domain.verification.bundle import BundleError, verify_bundle
from tests.bundle_support import find, state_of, without
from tests.domain.test_bundle_verify import (
    ORIGIN,
    Ledger,
    MemoryLog,
    corrupt_signature,
    rewrite_event,
)
from tests.factories import OTHER, RECIPIENT, SENDER, ManualClock, World

ASSETS = Path(__file__).resolve().parents[1] / "assets"
WHERE = re.compile(r"event [0-9a-f-]{36} v\d+ \(leaf \d+\)")


@dataclass
class Vector:
    name: str
    bundle: Any
    vkey: str
    policy: str | None = None  # a witness policy file's text

    def verdict(self) -> dict[str, Any]:
        """What ``verify_bundle`` says: ok, or the failing step and the event it names."""
        policy = None if self.policy is None else Policy.parse(self.policy)
        try:
            verify_bundle(self.bundle, self.vkey, policy=policy)
        except BundleError as exc:
            where = WHERE.search(str(exc))
            return {"ok": False, "step": exc.step, "where": where.group(0) if where else None,
                    "error": str(exc)}
        return {"ok": True, "step": None, "where": None, "error": None}

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "bundle": self.bundle, "vkey": self.vkey,
                "policy": self.policy}


def golden(name: str) -> Vector:
    bundle = json.loads((ASSETS / name / "bundle.json").read_text())
    genesis = state_of(find(bundle, ROOT_ID, 1))
    vkey = NoteKey.from_public_key(genesis["origin"],
                                   PublicKey.from_spec(genesis["ledger_key"])).vkey()
    return Vector(name, bundle, vkey)


def _state(bundle: dict[str, Any], event: dict[str, Any], state: dict[str, Any]) -> None:
    event["state"] = base64.b64encode(
        json.dumps(state, separators=(",", ":")).encode()).decode()


def flipped_payload_byte(ledger: Ledger) -> dict[str, Any]:
    """One byte of a command's signed payload changed in the bundle."""
    bundle = ledger.bundle()
    event = find(bundle, ledger.delivery(RECIPIENT), 2)
    state = state_of(event)
    payload = bytearray(base64.b64decode(state["envelope"]["payload"]))
    payload[len(payload) // 2] ^= 0x01
    state["envelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    _state(bundle, event, state)
    return bundle


def swapped_signature(ledger: Ledger) -> dict[str, Any]:
    """Two events' signatures swapped in the bundle."""
    bundle = ledger.bundle()
    first, second = find(bundle, ledger.delivery(RECIPIENT), 2), find(
        bundle, ledger.delivery(OTHER), 2)
    a, b = state_of(first), state_of(second)
    a["envelope"]["signatures"], b["envelope"]["signatures"] = (
        b["envelope"]["signatures"], a["envelope"]["signatures"])
    _state(bundle, first, a)
    _state(bundle, second, b)
    return bundle


def altered_proof_hash(ledger: Ledger) -> dict[str, Any]:
    bundle = copy.deepcopy(ledger.bundle())
    event = next(e for e in bundle["events"] if e["proof"])
    digest = bytearray(bytes.fromhex(event["proof"][0]))
    digest[0] ^= 0x80
    event["proof"][0] = digest.hex()
    return bundle


def checkpoint_signed_by_another_key(ledger: Ledger) -> dict[str, Any]:
    """The same checkpoint, signed under the ledger's name by a key that is not its."""
    bundle = ledger.bundle()
    body, _ = split_note(bundle["checkpoint"])
    other = Ed25519Signer.generate()
    origin = body.split("\n")[0]
    bundle["checkpoint"] = sign_note(body, NoteKey.from_public_key(origin, other.public_key),
                                     other)
    return bundle


def altered_checkpoint_signature(ledger: Ledger) -> dict[str, Any]:
    """The ledger's own signature line, one bit of the signature changed."""
    bundle = ledger.bundle()
    head, _, line = bundle["checkpoint"][:-1].rpartition(" ")
    blob = bytearray(base64.b64decode(line))
    blob[-1] ^= 0x01
    bundle["checkpoint"] = f"{head} {base64.b64encode(bytes(blob)).decode()}\n"
    return bundle


def forged_by_the_ledger(ledger: Ledger) -> dict[str, Any]:
    """A ledger re-signs its tree over an event whose command it re-signed itself."""
    forger = Ed25519Signer.generate()

    def forge(state: dict[str, Any]) -> None:
        envelope = Envelope.from_dict(state["envelope"])
        state["envelope"] = Envelope.sign(envelope.payload_type, envelope.payload,
                                          forger).to_dict()

    target = ledger.delivery(OTHER)
    return ledger.bundle(rewrite_event(
        lambda n: n.originator_id == target and n.topic.endswith("Refused"), forge))


class AlgorithmsLedger(Ledger):
    """The recipient adds an ECDSA P-256, an ECDSA P-384, an RSA PKCS#1 v1.5 and an
    RSA-PSS key, and signs one act with each."""

    def __init__(self) -> None:  # the parent's story is not played: this one is
        app = self.start(SENDER, RECIPIENT)
        doc = self.world.sent(SENDER, (RECIPIENT,))
        self.document = UUID(doc)
        signers = [KeySigner(ec.generate_private_key(ec.SECP256R1())),
                   KeySigner(ec.generate_private_key(ec.SECP384R1())),
                   KeySigner(rsa.generate_private_key(65537, 2048)),
                   KeySigner(rsa.generate_private_key(65537, 2048), RSA_PSS_SHA256)]
        for signer in signers:
            self.world.act(RECIPIENT, "agency.add_key", {
                "code": RECIPIENT, "key": signer.public_key.to_spec()})
            app.clock.advance(seconds=1)  # type: ignore[attr-defined]
        acts: list[tuple[str, dict[str, Any]]] = [
            ("delivery.accept", {}),
            ("delivery.assign", {"lead_unit": "Phòng Tư pháp", "officer": "Lê Văn D",
                                 "co_units": [], "instructions": "xử lý", "due_date": None}),
            ("delivery.progress", {"note": "đang xử lý"}),
            ("delivery.complete", {"note": "đã xong"}),
        ]
        for signer, (kind, fields) in zip(signers, acts, strict=True):
            self.world.act(RECIPIENT, kind, {"document": doc, **fields},
                           signer=signer)  # type: ignore[arg-type]
            app.clock.advance(seconds=1)  # type: ignore[attr-defined]
        self.vkey = MemoryLog(app, self.signer, ORIGIN).note_key.vkey()


def algorithm_vectors() -> list[Vector]:
    """Every signature scheme verified in the browser, and each one's forgery refused."""
    ledger = AlgorithmsLedger()
    target = ledger.delivery(RECIPIENT)
    out = [Vector("every algorithm", ledger.bundle(), ledger.vkey)]
    for act in ("Accepted", "Assigned", "ProgressReported", "Completed"):
        out.append(Vector(f"ledger-corrupted signature ({act})", ledger.bundle(rewrite_event(
            lambda n, act=act: n.originator_id == target and n.topic.endswith(act),  # type: ignore[misc]
            corrupt_signature)), ledger.vkey))
    return out


def vectors() -> list[Vector]:
    ledger = Ledger()
    other_ledger = Ledger()
    valid = ledger.bundle()
    unknown = copy.deepcopy(valid)
    unknown["events"][0]["verified"] = True
    accepted = ledger.delivery(RECIPIENT)
    delivery = [e for e in valid["events"] if e["aggregate_id"] == str(ledger.delivery(OTHER))]

    def later(state: dict[str, Any]) -> None:
        at = datetime.fromisoformat(state["timestamp"]["_data_"]) + timedelta(seconds=1)
        state["timestamp"]["_data_"] = at.isoformat()

    return [
        Vector("valid", valid, ledger.vkey),
        golden("golden"),
        golden("golden-v2"),
        Vector("unknown field", unknown, ledger.vkey),
        Vector("flipped payload byte", flipped_payload_byte(ledger), ledger.vkey),
        Vector("swapped signatures", swapped_signature(ledger), ledger.vkey),
        Vector("altered inclusion proof hash", altered_proof_hash(ledger), ledger.vkey),
        Vector("checkpoint signed by another key", checkpoint_signed_by_another_key(ledger),
               ledger.vkey),
        Vector("altered checkpoint signature", altered_checkpoint_signature(ledger),
               ledger.vkey),
        Vector("wrong pinned key", valid, other_ledger.vkey),
        Vector("dropped last event of a delivery", without(valid, delivery[-1]), ledger.vkey),
        Vector("dropped genesis", without(valid, find(valid, ROOT_ID, 1)), ledger.vkey),
        Vector("dropped agency history",
               without(valid, find(valid, Agency.id_for(OTHER), 1)), ledger.vkey),
        Vector("ledger-forged signature", forged_by_the_ledger(ledger), ledger.vkey),
        Vector("ledger-corrupted signature", ledger.bundle(rewrite_event(
            lambda n: n.originator_id == accepted and n.topic.endswith("Accepted"),
            corrupt_signature)), ledger.vkey),
        Vector("ledger-moved event time", ledger.bundle(rewrite_event(
            lambda n: n.originator_id == accepted and n.topic.endswith("Accepted"), later)),
            ledger.vkey),
    ]


def gateway_vectors(exchange: Any) -> list[Vector]:
    """Bundles with gateway receipts (tests/contract/test_gateway_bundle.py's
    exchange): with and without the messages' bytes, and each refused at step 9."""
    from tests.contract.test_gateway_bundle import entry_of, sha

    with_bytes = exchange.bundle()
    without_bytes = copy.deepcopy(with_bytes)
    for entry in without_bytes["gateway"]:
        del entry["data"]
    altered = copy.deepcopy(with_bytes)
    entry = entry_of(altered, sha(exchange.delivered))
    entry["data"] = base64.b64encode(exchange.delivered.replace(b"TT2", b"TT9")).decode()
    moved = copy.deepcopy(with_bytes)
    moved["gateway"][0]["proof"] = moved["gateway"][1]["proof"]
    return [Vector("gateway receipts with their bytes", with_bytes, exchange.vkey),
            Vector("gateway receipts without bytes", without_bytes, exchange.vkey),
            Vector("gateway receipt with altered bytes", altered, exchange.vkey),
            Vector("gateway receipt with another's proof", moved, exchange.vkey)]


def certificate_vectors(settings: Any, pki: Any) -> list[Vector]:
    """A sender whose key a certificate vouches for (tests/pki.py): the browser checks
    its signatures and recorded validity and leaves the certificate to verify-bundle."""
    from domain.exchange.ids import TRUST_ID, command_record_id
    from infrastructure.bundle import build_bundle
    from infrastructure.ledger import open_log
    from tests.certs_support import trust, use_certificate

    world = World.create(settings, clock=ManualClock())
    trust(world, pki.root)
    use_certificate(world, pki.p256, (pki.intermediate,))
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    log = open_log(world.settings, world.app)
    bundle, vkey = build_bundle(world.app, log, UUID(doc)), log.note_key.vkey()
    anchorless = copy.deepcopy(bundle)
    trust_commands = {str(command_record_id(json.loads(base64.b64decode(
        state_of(e)["envelope"]["payload"]))["command_id"]))
        for e in bundle["events"] if e["aggregate_id"] == str(TRUST_ID)}
    anchorless["events"] = [e for e in bundle["events"]
                            if e["aggregate_id"] not in {str(TRUST_ID), *trust_commands}]
    return [Vector("certificate-backed key", bundle, vkey),
            Vector("certificate without its trust anchors", anchorless, vkey)]


def witnessed_vectors(ledger: Ledger | None = None) -> list[Vector]:
    """A checkpoint cosigned by one witness of two, judged by witness policies."""
    ledger = ledger or Ledger()
    bundle = ledger.bundle()
    body, _ = split_note(bundle["checkpoint"])
    keys = {}
    for name in ("w1", "w2"):
        signer = Ed25519Signer.generate()
        keys[name] = CosignerKey.from_public_key(f"witness.example/{name}", signer.public_key)
        if name == "w1":
            bundle["checkpoint"] += cosign(body, keys[name], signer, 1_790_000_000)
    witnesses = "".join(f"witness {n} {k.vkey()}\n" for n, k in keys.items())
    altered = copy.deepcopy(bundle)
    head, _, line = altered["checkpoint"][:-1].rpartition(" ")
    blob = bytearray(base64.b64decode(line))
    blob[-1] ^= 0x01
    altered["checkpoint"] = f"{head} {base64.b64encode(bytes(blob)).decode()}\n"
    return [
        Vector("quorum of one witness met", bundle, ledger.vkey, witnesses + "quorum w1\n"),
        Vector("quorum of any witness met", bundle, ledger.vkey,
               witnesses + "group g any w1 w2\nquorum g\n"),
        Vector("quorum of all witnesses not met", bundle, ledger.vkey,
               witnesses + "group g all w1 w2\nquorum g\n"),
        Vector("altered cosignature", altered, ledger.vkey, witnesses + "quorum w2\n"),
    ]


def pdf_vectors(settings: Any, pki: Any) -> list[Vector]:
    """A document carrying a signed PDF (tests/pdf_support.py): the ledger's report on
    it, and, the recipient having accepted, its stamped copy; then a ledger that
    re-signs its tree over the report's verdict altered, over a report about a file
    the command did not bring, and over another stamped copy."""
    from domain.evidence.envelope import STATEMENT_TYPE
    from domain.evidence.statements import statement_bytes
    from infrastructure.bundle import build_bundle
    from infrastructure.keyfiles import load_signer
    from infrastructure.ledger import DataFolder, open_log
    from tests import pdf_support as pdfs
    from tests.certs_support import trust
    from tests.contract.test_signed_pdf import attachment, sent_with

    clock = ManualClock()
    clock.now = pdfs.SIGNED_AT
    world = World.create(settings, clock=clock)
    try:
        trust(world, pki.root)
        doc = sent_with(world, attachment(world, pdfs.signed_pdf(pki)))
        world.act(RECIPIENT, "delivery.accept", {"document": doc})
        log = open_log(world.settings, world.app)
        bundle, vkey = build_bundle(world.app, log, UUID(doc)), log.note_key.vkey()
        signer = load_signer(DataFolder(world.settings.data).ledger_key)

        def forged(topic: str, change: Any) -> dict[str, Any]:
            memory = MemoryLog(world.app, signer, log.note_key.name, rewrite_event(
                lambda n: n.topic.endswith(topic), change))
            return build_bundle(world.app, memory, UUID(doc))  # type: ignore[arg-type]

        def verdict_altered(state: dict[str, Any]) -> None:
            state["verdict"] = "invalid"

        def about_another_file(state: dict[str, Any]) -> None:
            envelope = Envelope.from_dict(state["envelope"])
            report = json.loads(envelope.payload)
            report["attachment"]["sha256"] = state["sha256"] = "ab" * 32
            state["envelope"] = Envelope.sign(STATEMENT_TYPE, statement_bytes(report),
                                              signer).to_dict()

        def copy_swapped(state: dict[str, Any]) -> None:
            state["copy"] = {**state["copy"], "sha256": "cd" * 32}

        return [
            Vector("signed PDF reported and stamped", bundle, vkey),
            Vector("PDF report's verdict altered in its event",
                   forged("Document.AttachmentValidated", verdict_altered), vkey),
            Vector("PDF report about a file its command did not bring",
                   forged("Document.AttachmentValidated", about_another_file), vkey),
            Vector("stamped copy swapped", forged("Delivery.IncomingStamped", copy_swapped),
                   vkey),
        ]
    finally:
        world.app.close()


def demo_vector(settings: Any) -> Vector:
    """The bundle of the document `docledger demo` sends, with its PDF report (the
    demo's attachment is no readable PDF), a recall and a gateway round beside it."""
    from api.demo import run_demo
    from infrastructure.bundle import build_bundle
    from infrastructure.ledger import open_ledger, open_log

    run_demo(settings)
    app = open_ledger(settings)
    try:
        reported = {n.originator_id for n in app.recorder.select_notifications(1, 1_000_000)
                    if n.topic.endswith("Document.AttachmentValidated")}
        log = open_log(settings, app)
        return Vector("docledger demo's document", build_bundle(app, log, min(reported)),
                      log.note_key.vkey())
    finally:
        app.close()
