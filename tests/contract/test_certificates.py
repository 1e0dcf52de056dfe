"""Agency keys backed by X.509 certificates, on SQLite and PostgreSQL: trust anchors
as history, path validation at the command's time, and the attacks on both."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.errors import (
    CertificateError,
    CertificateNameError,
    CertificateNotValidError,
    CertificateUsageError,
    DocLedgerError,
    DuplicateError,
    ForbiddenError,
    KeyExpiredError,
    NotFoundError,
    UntrustedCertificateError,
)
from domain.evidence.certificates import fingerprint
from domain.evidence.envelope import Envelope
from domain.exchange.agency import Agency
from domain.exchange.ids import TRUST_ID, command_record_id
from domain.exchange.trust import TrustAnchors
from domain.verification.bundle import verify_bundle
from domain.verification.bundle_parse import BundleError
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from infrastructure.ledger import open_log, run_audit, trust_anchors
from tests.certs_support import add_cert_fields, b64, trust, use_certificate
from tests.factories import RECIPIENT, SENDER, ManualClock, World, header
from tests.pki import TestPKI, running_pki


@pytest.fixture(scope="module")
def other_pki() -> Iterator[TestPKI]:
    """Another CA hierarchy, which the ledger does not trust."""
    with running_pki("Other PKI") as started:
        yield started


def refused(world: World, error: type[DocLedgerError], agency: str, type_: str,
            fields: dict[str, Any]) -> DocLedgerError:
    before = world.event_count()
    with pytest.raises(DocLedgerError) as info:
        world.act(agency, type_, fields)
    assert type(info.value) is error, f"expected {error.__name__}, got {info.value!r}"
    assert world.event_count() == before, "a refused command wrote events"
    return info.value


def audit(world: World) -> None:
    registrar_key, ledger_key = trust_anchors(world.settings)
    report = run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key)
    assert report.events == world.event_count()


@pytest.mark.parametrize(("which", "algorithm"), [
    ("rsa", None), ("rsa", "rsa-pss-sha256"), ("p256", None), ("p384", None)])
def test_certificate_backed_key_signs_commands_that_verify_everywhere(
        world: World, pki: TestPKI, which: str, algorithm: str | None) -> None:
    trust(world, pki.root)
    leaf = getattr(pki, which)
    signer = use_certificate(world, leaf, (pki.intermediate,), algorithm=algorithm)
    doc = world.sent()
    history = document_history(world.app, UUID(doc))
    assert {e.keyid for e in history if e.signed_by == SENDER} == {signer.keyid}
    entry = world.app.find(Agency, Agency.id_for(SENDER)).keys[signer.keyid]  # type: ignore[union-attr]
    assert entry.not_after == leaf.cert.not_valid_after_utc
    assert entry.key.algorithm == (algorithm or signer.algorithm)
    audit(world)


def test_trust_anchors_are_history(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    refused(world, DuplicateError, "registrar", "trust.add_anchor",
            {"certificate": b64(pki.root), "code_attribute": "UID"})
    anchors = world.app.find(TrustAnchors, TrustAnchors.id_for())
    assert anchors is not None and list(anchors.anchors) == [fingerprint(pki.root.der)]
    world.act("registrar", "trust.remove_anchor",
              {"sha256": fingerprint(pki.root.der), "reason": "CA retired"})
    refused(world, UntrustedCertificateError, SENDER, "agency.add_cert",
            add_cert_fields(pki.p256, (pki.intermediate,)))
    audit(world)


def test_agency_may_not_add_a_trust_anchor(world: World, pki: TestPKI) -> None:
    refused(world, ForbiddenError, SENDER, "trust.add_anchor",
            {"certificate": b64(pki.root), "code_attribute": "UID"})


def test_end_entity_certificate_as_trust_anchor_is_refused(world: World, pki: TestPKI) -> None:
    refused(world, CertificateError, "registrar", "trust.add_anchor",
            {"certificate": b64(pki.p256), "code_attribute": "UID"})


def test_removing_an_unknown_anchor_is_refused(world: World) -> None:
    refused(world, NotFoundError, "registrar", "trust.remove_anchor",
            {"sha256": "0" * 64, "reason": "none"})


def test_certificate_before_any_anchor_is_refused(world: World, pki: TestPKI) -> None:
    refused(world, UntrustedCertificateError, SENDER, "agency.add_cert",
            add_cert_fields(pki.p256, (pki.intermediate,)))


def test_certificate_chaining_to_an_unknown_root_is_refused(
        world: World, pki: TestPKI, other_pki: TestPKI) -> None:
    trust(world, pki.root)
    refused(world, UntrustedCertificateError, SENDER, "agency.add_cert",
            add_cert_fields(other_pki.p256, (other_pki.intermediate,)))


def test_self_signed_certificate_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    refused(world, UntrustedCertificateError, SENDER, "agency.add_cert",
            add_cert_fields(pki.self_signed()))


def test_certificate_without_its_intermediate_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    refused(world, UntrustedCertificateError, SENDER, "agency.add_cert",
            add_cert_fields(pki.p256))


def test_expired_certificate_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    refused(world, CertificateNotValidError, SENDER, "agency.add_cert",
            add_cert_fields(pki.expired, (pki.intermediate,)))


def test_certificate_lacking_digital_signature_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    leaf = pki.issue("No digitalSignature", digital_signature=False)
    refused(world, CertificateUsageError, SENDER, "agency.add_cert",
            add_cert_fields(leaf, (pki.intermediate,)))


def test_certificate_of_another_agency_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    theirs = pki.issue("Agency H41", code=RECIPIENT)
    for actor in (SENDER, "registrar"):
        refused(world, CertificateNameError, actor, "agency.add_cert",
                add_cert_fields(theirs, (pki.intermediate,)))


def test_certificate_naming_the_code_in_another_attribute_is_refused(
        world: World, pki: TestPKI) -> None:
    trust(world, pki.root)  # codes in UID
    leaf = pki.issue("Code in serialNumber", attribute="serialNumber")
    refused(world, CertificateNameError, SENDER, "agency.add_cert",
            add_cert_fields(leaf, (pki.intermediate,)))


def test_anchor_may_name_another_code_attribute(world: World, pki: TestPKI) -> None:
    trust(world, pki.root, code_attribute="serialNumber")
    leaf = pki.issue("Code in serialNumber", attribute="serialNumber")
    use_certificate(world, leaf, (pki.intermediate,))
    world.sent()
    audit(world)


def test_registrar_binding_registers_a_certificate_not_naming_the_agency(
        world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    leaf = pki.issue("Văn thư UBND", code=None)
    refused(world, CertificateNameError, SENDER, "agency.add_cert",
            add_cert_fields(leaf, (pki.intermediate,)))
    outcome = world.act("registrar", "agency.add_cert",
                        add_cert_fields(leaf, (pki.intermediate,), registrar_binding=True))
    assert outcome.result["binding"] == "registrar"
    audit(world)


def test_agency_binding_a_certificate_to_itself_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    leaf = pki.issue("Văn thư UBND", code=None)
    refused(world, ForbiddenError, SENDER, "agency.add_cert",
            add_cert_fields(leaf, (pki.intermediate,), registrar_binding=True))


def test_another_agency_adding_a_certificate_for_the_sender_is_refused(
        world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    refused(world, ForbiddenError, RECIPIENT, "agency.add_cert",
            add_cert_fields(pki.p256, (pki.intermediate,)))


def test_command_signed_after_the_certificate_expired_is_refused(
        world: World, pki: TestPKI, clock: ManualClock) -> None:
    trust(world, pki.root)
    leaf = pki.issue("Short-lived", not_before=clock.now - timedelta(days=1),
                     not_after=clock.now + timedelta(days=1))
    use_certificate(world, leaf, (pki.intermediate,))
    early = world.sent()
    clock.advance(days=2)
    refused(world, KeyExpiredError, SENDER, "document.create",
            {"document_id": "late", "header": header()})
    # what it signed while the certificate was valid stays valid
    assert document_history(world.app, UUID(early))
    audit(world)


# ---- the audit bundle: offline, the certificate and its anchors travel with it ----


def _bundle(world: World, doc: str) -> tuple[dict[str, Any], str]:
    log = open_log(world.settings, world.app)
    return build_bundle(world.app, log, UUID(doc)), log.note_key.vkey()


def test_bundle_of_a_certificate_signed_document_verifies_offline(
        world: World, pki: TestPKI, clock: ManualClock) -> None:
    trust(world, pki.root)
    leaf = pki.issue("Bundle", not_after=clock.now + timedelta(days=1))
    use_certificate(world, leaf, (pki.intermediate,))
    doc = world.sent()
    clock.advance(days=3)  # the certificate has expired since: the bundle still holds
    bundle, vkey = _bundle(world, doc)
    assert any(e["aggregate_id"] == str(TRUST_ID) for e in bundle["events"])
    steps: list[tuple[int, str]] = []
    verify_bundle(json.loads(json.dumps(bundle)), vkey, lambda n, t: steps.append((n, t)))
    assert [n for n, _ in steps] == list(range(1, 10))


def test_bundle_without_the_trust_anchors_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    use_certificate(world, pki.p256, (pki.intermediate,))
    bundle, vkey = _bundle(world, world.sent())
    trust_commands = set()
    for e in bundle["events"]:
        if e["aggregate_id"] == str(TRUST_ID):
            state = json.loads(base64.b64decode(e["state"]))
            envelope = Envelope.from_dict(state["envelope"])
            trust_commands.add(str(command_record_id(json.loads(envelope.payload)["command_id"])))
    bundle["events"] = [e for e in bundle["events"]
                        if e["aggregate_id"] not in {str(TRUST_ID), *trust_commands}]
    with pytest.raises(BundleError, match="no trust anchor is in force") as caught:
        verify_bundle(bundle, vkey)
    assert caught.value.step == 6


def test_ed25519_only_bundle_carries_no_trust_anchors(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    bundle, vkey = _bundle(world, world.sent())
    assert not any(e["aggregate_id"] == str(TRUST_ID) for e in bundle["events"])
    verify_bundle(bundle, vkey)
