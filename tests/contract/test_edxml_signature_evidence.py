"""The XML signature of an imported edXML message, recorded in its commands'
``source`` on both backends: valid under the test certificate, invalid once tampered
(recorded, or refused with nothing written, as the policy says), absent; shown by
the document's history, its timeline and its bundle; and a command that records
anything else than what the bytes say is refused."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from domain.errors import InvalidCommandError
from domain.exchange.commands import XmlSignature
from domain.exchange.document import Document
from domain.exchange.edxml.mapping import plan_import
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from domain.exchange.edxml_signature import SignatureEvidence, check_xml_signature
from domain.exchange.edxml_signature_policy import (
    EdxmlSignatureRefused,
    SignatureEvidenceMismatch,
)
from infrastructure.bundle import build_bundle
from infrastructure.settings import Settings
from infrastructure.views import queries
from tests.contract.test_edxml_import import ALL, DOC_7816, G22, Ledger, base, sample
from tests.edxml_signing import _issue, pki, sign
from tests.views_support import caught_up

SOURCED = {"document.create", "document.send"}
RSA_SUBJECT = "CN=Nguyễn Văn B (RSA),C=VN"


@pytest.fixture
def ledger(settings: Settings, tmp_path: Path) -> Iterator[Ledger]:
    one = Ledger(tmp_path, settings)
    yield one
    one.close()


def strict(settings: Settings, tmp_path: Path, policy: str) -> Ledger:
    return Ledger(tmp_path, settings.model_copy(update={"edxml_signature": policy}))


def unsigned() -> bytes:
    """The document the recall and status samples act on, without the sample's
    Signature (which does not verify)."""
    m = parse_edxml(base(DOC_7816, *ALL))
    return write_edxml(dataclasses.replace(m, signature=None))


def signed_document() -> bytes:
    return sign(unsigned(), pki().rsa)


def tampered(data: bytes) -> bytes:
    """``data`` with its subject changed after it was signed."""
    m = parse_edxml(data)
    old = f"<edXML:Subject>{m.subject}</edXML:Subject>".encode()  # type: ignore[union-attr]
    assert data.count(old) == 1
    return data.replace(old, "<edXML:Subject>Một trích yếu khác</edXML:Subject>".encode())


def sources(ledger: Ledger, document: UUID) -> dict[str, Any]:
    """Each sourced command of the document's history: its source, as recorded."""
    return {e.command: e.source for e in ledger.session.history(None, document)
            if e.source is not None}


def test_signed_message_is_recorded_valid_under_its_certificate(ledger: Ledger) -> None:
    data = signed_document()
    done = ledger.load(data)
    assert done["signature"]["status"] == "valid"
    found = sources(ledger, UUID(done["document"]))
    assert set(found) == SOURCED
    for source in found.values():
        signature = source["signature"]
        assert (signature["status"], signature["certificate"]["subject"]) == (
            "valid", RSA_SUBJECT)
        assert signature["certificate"]["sha256"] == check_xml_signature(
            data).certificate.sha256  # type: ignore[union-attr]
        assert source["sha256"] == done["source_sha256"]


def test_message_tampered_after_signing_is_recorded_invalid(ledger: Ledger) -> None:
    done = ledger.load(tampered(signed_document()))
    for source in sources(ledger, UUID(done["document"])).values():
        assert source["signature"]["status"] == "invalid"
        assert "digest" in source["signature"]["reason"].lower()
        assert source["signature"]["certificate"]["subject"] == RSA_SUBJECT


@pytest.mark.parametrize("policy", ["refuse-invalid", "require-valid"])
def test_message_tampered_after_signing_is_refused_by_a_strict_policy_writing_nothing(
        settings: Settings, tmp_path: Path, policy: str) -> None:
    ledger = strict(settings, tmp_path, policy)
    try:
        data = tampered(signed_document())
        before = ledger.world.event_count()
        with pytest.raises(EdxmlSignatureRefused, match="invalid"):
            ledger.load(data)
        assert ledger.world.event_count() == before
        assert not list((ledger.folder.root / "blobs").rglob("*"))  # not even the bytes
        # a valid one passes the same policy
        assert ledger.load(signed_document())["signature"]["status"] == "valid"
    finally:
        ledger.close()


def test_message_without_signature_is_recorded_absent(ledger: Ledger) -> None:
    done = ledger.load(unsigned())
    for source in sources(ledger, UUID(done["document"])).values():
        assert source["signature"]["status"] == "absent"
        assert source["signature"]["certificate"] is None


def test_message_without_signature_is_refused_when_a_valid_one_is_required(
        settings: Settings, tmp_path: Path) -> None:
    ledger = strict(settings, tmp_path, "require-valid")
    try:
        before = ledger.world.event_count()
        with pytest.raises(EdxmlSignatureRefused, match="no XML signature"):
            ledger.load(unsigned())
        assert ledger.world.event_count() == before
    finally:
        ledger.close()


def test_signature_shows_in_the_timeline_and_in_the_bundle(ledger: Ledger) -> None:
    ledger.load(unsigned())
    ledger.load(sign(sample("document-revocation.edxml"), pki().rsa))
    document = Document.id_for(G22, DOC_7816)
    status = queries.status(caught_up(ledger.world), str(document))
    assert status is not None
    recalled = [t for t in status["timeline"] if t["event"] == "RecallRequested"]
    assert recalled and all(t["signature"] == f"valid: {RSA_SUBJECT}" for t in recalled)
    assert all(t["source"] is None for t in status["timeline"] if t["event"] == "Arrived")
    bundle = build_bundle(ledger.world.app, ledger.session.service.log, document)
    said = [payload["fields"]["source"]["signature"]["status"]
            for payload in map(payload_of, bundle["events"])
            if "source" in payload.get("fields", {})]
    assert "valid" in said and "absent" in said


def payload_of(event: dict[str, Any]) -> dict[str, Any]:
    state = json.loads(base64.b64decode(event["state"]))
    found: dict[str, Any] = json.loads(base64.b64decode(state["envelope"]["payload"]))
    return found


# ---- the ledger does not take the importer's word for it ----------------------------------


def command_with(ledger: Ledger, data: bytes, signature: dict[str, Any] | None) -> None:
    """document.create of ``data`` signed by its sender, its source saying ``signature``."""
    plan = plan_import(parse_edxml(data), G22)
    for blob in plan.blobs:
        ledger.folder.blobs.put(blob)
    source: dict[str, Any] = {"name": "message.edxml", "media_type": "application/xml",
                              "size": len(data), "sha256": ledger.folder.blobs.put(data)}
    if signature is not None:
        source["signature"] = signature
    create = plan.commands[0]
    ledger.session.act(G22, create.type, {**create.fields, "source": source},
                       staff=create.staff, command_id=create.command_id)


def test_forged_valid_signature_evidence_is_refused(ledger: Ledger) -> None:
    data = tampered(signed_document())
    forged = check_xml_signature(signed_document()).recorded()  # what the untouched said
    before = ledger.world.event_count()
    with pytest.raises(SignatureEvidenceMismatch, match="finds it invalid"):
        command_with(ledger, data, forged)
    assert ledger.world.event_count() == before


def test_signature_claimed_for_an_unsigned_message_is_refused(ledger: Ledger) -> None:
    claimed = check_xml_signature(signed_document()).recorded()
    with pytest.raises(SignatureEvidenceMismatch, match="finds it absent"):
        command_with(ledger, unsigned(), claimed)


def test_backdated_signature_check_of_an_expired_certificate_is_refused(
        ledger: Ledger) -> None:
    data = sign(unsigned(), pki().expired)
    then = datetime.now(UTC) - timedelta(days=500)  # while the certificate was valid
    backdated = check_xml_signature(data, at=then).recorded()
    assert backdated["status"] == "valid"
    with pytest.raises(InvalidCommandError, match="checked_at"):
        command_with(ledger, data, backdated)


def test_source_without_a_signature_result_is_accepted_under_the_record_policy(
        ledger: Ledger) -> None:
    command_with(ledger, unsigned(), None)  # as commands signed before it


def test_source_without_a_signature_result_is_refused_under_a_strict_policy(
        settings: Settings, tmp_path: Path) -> None:
    ledger = strict(settings, tmp_path, "refuse-invalid")
    try:
        with pytest.raises(EdxmlSignatureRefused, match="records no result"):
            command_with(ledger, unsigned(), None)
    finally:
        ledger.close()


# ---- status messages are signed in the wild too ---------------------------------------


def test_signed_status_message_is_recorded_valid_and_shown_in_the_timeline(
        ledger: Ledger) -> None:
    ledger.load(unsigned())
    done = ledger.load(sign(sample("status-03-accepted.edxml"), pki().ecdsa))
    assert [c["type"] for c in done["commands"]] == ["delivery.accept"]
    document = Document.id_for(G22, DOC_7816)
    (accepted,) = [e.source for e in ledger.session.history(None, document)
                   if e.command == "delivery.accept"]
    assert accepted is not None
    assert accepted["signature"]["status"] == "valid"
    assert accepted["signature"]["certificate"]["subject"] == "CN=Nguyễn Văn B (ECDSA),C=VN"
    status = queries.status(caught_up(ledger.world), str(document))
    assert status is not None
    (row,) = [t for t in status["timeline"] if t["event"] == "Accepted"]
    assert (row["source"], row["signature"]) == (
        done["source_sha256"], "valid: CN=Nguyễn Văn B (ECDSA),C=VN")


def test_status_message_tampered_after_signing_is_recorded_invalid(ledger: Ledger) -> None:
    ledger.load(unsigned())
    signed = sign(sample("status-02-rejected.edxml"), pki().rsa)
    m = parse_edxml(signed)
    old = f"<edXML:Description>{m.description}</edXML:Description>".encode()  # type: ignore[union-attr]
    assert signed.count(old) == 1
    done = ledger.load(signed.replace(old, b"<edXML:Description>Sai</edXML:Description>"))
    assert done["signature"]["status"] == "invalid"
    (refused,) = [e.source for e in ledger.session.history(
        None, Document.id_for(G22, DOC_7816)) if e.command == "delivery.refuse"]
    assert refused is not None and refused["signature"]["status"] == "invalid"


def test_certificate_named_with_control_and_bidi_characters_is_recorded_escaped(
        ledger: Ledger) -> None:
    # a name the ledger could not sign into a command would leave the signature unrecorded
    hostile = _issue("Văn thư\n\u202eexe.pdf", ec.generate_private_key(ec.SECP256R1()),
                     pki().root)
    done = ledger.load(sign(unsigned(), hostile))
    assert done["signature"]["status"] == "valid"
    assert done["signature"]["certificate"]["subject"] == (
        "CN=Văn thư<U+000A><U+202E>exe.pdf,C=VN")


def test_overlong_reason_is_recorded_cut() -> None:
    evidence = SignatureEvidence(status="invalid", reason="lý do " * 400,
                                 checked_at="2026-12-01T00:00:00.000000Z")
    reason = evidence.recorded()["reason"]
    assert len(reason) == 1000 and reason.endswith("…")
    assert XmlSignature.model_validate(evidence.recorded())  # signable as it is
