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
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.client import LedgerClient
from domain.errors import (
    CertificateError,
    CertificateNameError,
    CertificateNotValidError,
    CertificateRevokedError,
    CertificateUsageError,
    DocLedgerError,
    DuplicateError,
    ForbiddenError,
    KeyExpiredError,
    NotFoundError,
    RevocationEvidenceError,
    UntrustedCertificateError,
)
from domain.evidence.certificates import fingerprint
from domain.evidence.envelope import Envelope
from domain.evidence.keys import Ed25519Signer
from domain.exchange.agency import Agency
from domain.exchange.ids import REVOCATION_ID, TRUST_ID, command_record_id
from domain.exchange.trust import TrustAnchors
from domain.verification.bundle import verify_bundle
from domain.verification.bundle_parse import BundleError
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from infrastructure.ledger import open_log, run_audit, trust_anchors
from infrastructure.revocation_fetch import gather, held_certificates
from tests.api.http_support import api_for
from tests.certs_support import add_cert_fields, b64, trust, use_certificate
from tests.factories import RECIPIENT, SENDER, ManualClock, World, header
from tests.pki import Issued, TestPKI, running_pki


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
    assert [n for n, _ in steps] == list(range(1, 11))


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


# ---- the HTTP API: the command through /v1/commands, the anchors and keys public ----


def test_http_add_cert_refusal_is_a_typed_problem_and_the_anchors_are_public(
        world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    with api_for(world) as http:
        refused_answer = http.post("/v1/commands", content=world.signed(
            SENDER, "agency.add_cert", add_cert_fields(pki.expired, (pki.intermediate,))),
            headers={"content-type": "application/json"})
        assert refused_answer.status_code == 422
        assert refused_answer.json()["type"] == "urn:docledger:problem:certificate-not-valid"
        accepted = http.post("/v1/commands", content=world.signed(
            SENDER, "agency.add_cert", add_cert_fields(pki.p384, (pki.intermediate,))),
            headers={"content-type": "application/json"})
        assert accepted.status_code == 201, accepted.text
        keyid = accepted.json()["result"]["keyid"]
        anchors = http.get("/v1/trust/anchors").json()["anchors"]
        assert [a["sha256"] for a in anchors] == [fingerprint(pki.root.der)]
        keys = {k["keyid"]: k for k in http.get(f"/v1/agencies/{SENDER}").json()["keys"]}
        assert keys[keyid]["algorithm"] == "ecdsa-p384-sha384"
        assert keys[keyid]["certificate"] == b64(pki.p384)
        assert keys[keyid]["not_after"] == pki.p384.cert.not_valid_after_utc.isoformat()


# ---- revocation: CRLs and OCSP responses from the loopback servers, as history ----


def record_revocation(world: World, **kw: Any) -> Any:
    items = gather(held_certificates(world.app, [SENDER]), **kw)
    return world.act("registrar", "revocation.record", {"evidence": items})


@pytest.mark.parametrize("source", ["crl", "ocsp", "crl-file"])
def test_signature_after_the_revocation_is_refused_and_before_stays_valid(
        world: World, pki: TestPKI, clock: ManualClock, tmp_path: Any, source: str) -> None:
    trust(world, pki.root)
    leaf = pki.issue(f"Revoked later {source}", key_label=f"revoked later {source}")
    use_certificate(world, leaf, (pki.intermediate,))
    before = world.sent()
    clock.advance(minutes=5)
    pki.revoke(leaf, at=clock.now, reason=x509.ReasonFlags.key_compromise)
    clock.advance(minutes=1)
    unknown_yet = world.sent()  # signed after the revocation, which the ledger did not hold
    if source == "crl-file":
        crl = tmp_path / "intermediate.crl"
        crl.write_bytes(pki.crl())
        outcome = record_revocation(world, sources=[str(crl)], ocsp_on=False)
    else:
        outcome = record_revocation(world, ocsp_on=source == "ocsp", crl_on=source == "crl")
    assert outcome.result["revocations"] >= 1
    refused(world, CertificateRevokedError, SENDER, "document.create",
            {"document_id": "after", "header": header()})
    # judged against the evidence held at their time: both stay valid
    for doc in (before, unknown_yet):
        assert document_history(world.app, UUID(doc))
    audit(world)


def test_crl_not_signed_by_the_issuer_it_names_is_refused(
        world: World, pki: TestPKI, other_pki: TestPKI) -> None:
    trust(world, pki.root)
    forged = {"kind": "crl", "data": base64.b64encode(other_pki.crl()).decode(),
              "issuer": b64(pki.intermediate)}
    refused(world, RevocationEvidenceError, "registrar", "revocation.record",
            {"evidence": [forged]})


def test_evidence_from_an_untrusted_issuer_is_refused(
        world: World, pki: TestPKI, other_pki: TestPKI) -> None:
    trust(world, pki.root)
    theirs = {"kind": "crl", "data": base64.b64encode(other_pki.crl()).decode(),
              "issuer": b64(other_pki.intermediate)}
    refused(world, UntrustedCertificateError, "registrar", "revocation.record",
            {"evidence": [theirs]})


def test_agency_recording_revocation_evidence_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    item = {"kind": "crl", "data": base64.b64encode(pki.crl()).decode(),
            "issuer": b64(pki.intermediate)}
    refused(world, ForbiddenError, SENDER, "revocation.record", {"evidence": [item]})


def test_bundle_carries_the_revocation_evidence_and_judges_by_it(
        world: World, pki: TestPKI, clock: ManualClock) -> None:
    trust(world, pki.root)
    leaf = pki.issue("Revoked in a bundle", key_label="revoked in a bundle")
    use_certificate(world, leaf, (pki.intermediate,))
    doc = world.sent()
    clock.advance(minutes=5)
    pki.revoke(leaf, at=clock.now)
    clock.advance(minutes=1)
    unknown_yet = world.sent()
    record_revocation(world)
    for signed in (doc, unknown_yet):  # before the revocation; before the ledger knew of it
        bundle, vkey = _bundle(world, signed)
        assert any(e["aggregate_id"] == str(REVOCATION_ID) for e in bundle["events"])
        verify_bundle(json.loads(json.dumps(bundle)), vkey)


def test_bundle_with_altered_revocation_findings_is_refused(
        world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    use_certificate(world, pki.p256, (pki.intermediate,))
    record_revocation(world, ocsp_on=False)
    bundle, vkey = _bundle(world, world.sent())
    # the verifier recomputes what each CRL says: dropping a listed revocation from
    # the recorded findings (re-encoding the state) breaks the inclusion proof first
    for e in bundle["events"]:
        if e["aggregate_id"] == str(REVOCATION_ID) and e["version"] == 2:
            state = json.loads(base64.b64decode(e["state"]))
            state["revoked"] = []
            e["state"] = base64.b64encode(json.dumps(state).encode()).decode()
    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle, vkey)
    assert caught.value.step == 3


def test_http_request_signed_in_the_name_of_a_certificate_rsa_key_is_refused(
        world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    rsa_key = use_certificate(world, pki.rsa, (pki.intermediate,))
    with api_for(world) as http:
        client = LedgerClient("http://testserver", SENDER, Ed25519Signer.generate(), http=http)
        client.auth.keyid = f"{SENDER}:{rsa_key.keyid}"
        answer = http.get(f"/v1/agencies/{SENDER}/inbox", auth=client.auth)
        assert answer.status_code == 401
        assert "Ed25519" in answer.json()["detail"]


def test_ca_certificate_as_an_agency_key_is_refused(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    # a CA certificate whose subject names the agency and whose key may sign
    leaf = pki.p256
    key = leaf.key
    cert = (x509.CertificateBuilder().subject_name(leaf.cert.subject)
            .issuer_name(pki.intermediate.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(leaf.cert.not_valid_before_utc)
            .not_valid_after(leaf.cert.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(pki.intermediate.key, hashes.SHA256()))  # type: ignore[arg-type]
    sub_ca = Issued(cert=cert, key=key)
    error = refused(world, CertificateUsageError, SENDER, "agency.add_cert",
                    add_cert_fields(sub_ca, (pki.intermediate,)))
    assert "CA certificate" in str(error)


def _responder(pki: TestPKI, issuer: Issued, *, eku: bool = True) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OCSP")]))
               .issuer_name(issuer.cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(pki.made - timedelta(days=1))
               .not_valid_after(pki.made + timedelta(days=30)))
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    return Issued(cert=builder.sign(issuer.key, hashes.SHA256()),  # type: ignore[arg-type]
                  key=key)


def _delegated_answer(pki: TestPKI, leaf: Issued, responder: Issued) -> bytes:
    response = (ocsp.OCSPResponseBuilder()
                .add_response(cert=leaf.cert, issuer=pki.intermediate.cert,
                              algorithm=hashes.SHA256(), cert_status=ocsp.OCSPCertStatus.REVOKED,
                              this_update=pki.made, next_update=pki.made + timedelta(days=1),
                              revocation_time=pki.made - timedelta(hours=1),
                              revocation_reason=x509.ReasonFlags.key_compromise)
                .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
                .certificates([responder.cert])
                .sign(responder.key, hashes.SHA256()))  # type: ignore[arg-type]
    return response.public_bytes(serialization.Encoding.DER)


def test_ocsp_answer_of_a_delegated_responder_is_recorded(world: World, pki: TestPKI) -> None:
    trust(world, pki.root)
    answer = _delegated_answer(pki, pki.revoked, _responder(pki, pki.intermediate))
    outcome = world.act("registrar", "revocation.record", {"evidence": [
        {"kind": "ocsp", "data": base64.b64encode(answer).decode(),
         "issuer": b64(pki.intermediate)}]})
    assert outcome.result["revocations"] == 1


@pytest.mark.parametrize("attack", ["no-ocsp-signing-eku", "responder-of-another-ca"])
def test_ocsp_answer_of_an_unauthorised_responder_is_refused(
        world: World, pki: TestPKI, other_pki: TestPKI, attack: str) -> None:
    trust(world, pki.root)
    responder = (_responder(pki, pki.intermediate, eku=False) if attack == "no-ocsp-signing-eku"
                 else _responder(other_pki, other_pki.intermediate))
    answer = _delegated_answer(pki, pki.revoked, responder)
    refused(world, RevocationEvidenceError, "registrar", "revocation.record", {"evidence": [
        {"kind": "ocsp", "data": base64.b64encode(answer).decode(),
         "issuer": b64(pki.intermediate)}]})
