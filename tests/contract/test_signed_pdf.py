"""Signed PDF attachments on SQLite and PostgreSQL: the ledger's signed report on each,
the policy that refuses a document for it, the audit's replay, the views, the bundle.

The PDFs and their PKI come from tests/pdf_support.py (built once per process); the
ledger's clock stands at the time they were signed, when their certificates were
valid (they have expired since).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from domain.evidence.certificates import fingerprint
from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.evidence.pdf_report import PdfSignaturePolicy, PdfSignatureRefused
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.verification.bundle import BundleError, verify_bundle
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from infrastructure.ledger import DataFolder, open_log, run_audit, trust_anchors
from infrastructure.pdf_signatures import read_signatures, recheck
from infrastructure.settings import Settings
from infrastructure.views import queries
from tests import pdf_support as pdfs
from tests.api.http_support import client_for
from tests.api.test_http_reads import api
from tests.certs_support import trust
from tests.factories import RECIPIENT, SENDER, ManualClock, World, header
from tests.pki import TestPKI
from tests.views_support import caught_up

REQUIRE_VALID = PdfSignaturePolicy(by_type={"1": "require-valid"})


@pytest.fixture
def clock() -> ManualClock:
    clock = ManualClock()
    clock.now = pdfs.SIGNED_AT
    return clock


@pytest.fixture
def world(settings: Settings, clock: ManualClock, pki: TestPKI) -> Iterator[World]:
    """A ledger whose registrar put the test PKI's root in force as a trust anchor."""
    w = World.create(settings, clock=clock)
    trust(w, pki.root)
    yield w
    w.app.close()


def attachment(world: World, data: bytes, name: str = "qd.pdf",
               media_type: str = "application/pdf") -> dict[str, Any]:
    sha256 = DataFolder(world.settings.data).blobs.put(data)
    return {"name": name, "media_type": media_type, "size": len(data), "sha256": sha256}


def create(world: World, *files: dict[str, Any], type_: int = 1) -> str:
    outcome = world.act(SENDER, "document.create", {
        "document_id": f"{SENDER},2026/03/02,{uuid.uuid4().hex[:8]}",
        "header": header(document_type={"type": type_, "type_name": "Quyết định"}),
        "attachments": list(files)})
    return str(outcome.result["document"])


def reports(world: World, doc: str) -> list[dict[str, Any]]:
    """The ledger's reports on the document, each signature checked with the ledger key."""
    found = []
    for event in world.app.events_of(UUID(doc)):
        if isinstance(event, Document.AttachmentValidated):
            envelope = Envelope.from_dict(event.envelope)
            assert envelope.payload_type == STATEMENT_TYPE
            envelope.verify_with(world.app.root().ledger_key)
            found.append(json.loads(envelope.payload))
    return found


def only_signature(world: World, doc: str) -> dict[str, Any]:
    (report,) = reports(world, doc)
    (signature,) = report["signatures"]
    return signature


def test_a_valid_signed_pdf_is_reported_valid_by_the_ledger(
        world: World, pki: TestPKI) -> None:
    pdf = attachment(world, pdfs.signed_pdf(pki))
    doc = create(world, pdf)
    (report,) = reports(world, doc)
    assert report["type"] == "attachment.validated"
    assert report["document"] == doc and report["attachment"] == pdf
    assert report["verdict"] == "valid"
    assert report["anchors"] == [fingerprint(pki.root.der)]  # what the ledger trusted
    assert report["at"] == world.app.events_of(UUID(doc))[0].timestamp.isoformat()
    (signature,) = report["signatures"]
    assert "CN=UBND tỉnh — văn thư" in signature["signer"]["subject"]
    assert signature["signer"]["serial"] == str(pdfs.signers_of(pki).signer.cert.serial_number)
    assert (signature["intact"], signature["trusted"], signature["valid"]) == (True, True, True)
    assert signature["coverage"] == "entire-file" and signature["modification"] == "none"
    assert [r[0] for r in signature["byte_ranges"]][0] == 0
    chain = signature["evidence"]["certificates"]
    assert len(chain) == 3  # signer, intermediate, root: what a verifier needs years later


def test_pdf_tampered_after_signing_is_recorded_invalid(
        world: World, pki: TestPKI) -> None:
    signature = only_signature(world, create(world, attachment(world, pdfs.tampered_pdf(pki))))
    assert signature["intact"] is False and signature["valid"] is False


def test_pdf_tampered_after_signing_is_refused_by_policy(
        world: World, pki: TestPKI) -> None:
    world.app.pdf_policy = REQUIRE_VALID
    before = world.event_count()
    pdf = attachment(world, pdfs.tampered_pdf(pki))
    with pytest.raises(PdfSignatureRefused, match="not intact"):
        create(world, pdf)
    assert world.event_count() == before  # nothing written


def test_content_changed_by_an_update_after_signing_is_reported(
        world: World, pki: TestPKI) -> None:
    signature = only_signature(world, create(world, attachment(
        world, pdfs.updated_after_signing_pdf(pki))))
    assert signature["intact"] is True  # the signed revision is untouched …
    assert signature["coverage"] == "entire-revision"  # … but it is not the whole file
    assert signature["modification"] == "other" and signature["valid"] is False


def test_pdf_signed_with_an_expired_certificate_is_invalid(
        world: World, pki: TestPKI) -> None:
    signature = only_signature(world, create(world, attachment(
        world, pdfs.expired_signer_pdf(pki))))
    assert signature["intact"] is True and signature["trusted"] is False
    assert signature["trust_problem"] == "out-of-bounds-no-poe"


def test_pdf_signed_by_a_certificate_of_no_trusted_ca_is_untrusted(
        world: World, pki: TestPKI) -> None:
    signature = only_signature(world, create(world, attachment(world, pdfs.stranger_pdf(pki))))
    assert signature["intact"] is True and signature["trusted"] is False
    assert signature["valid"] is False


def test_unsigned_pdf_is_absent_and_refused_where_a_valid_one_is_required(
        world: World) -> None:
    (report,) = reports(world, create(world, attachment(world, pdfs.unsigned_pdf())))
    assert report["verdict"] == "absent" and report["signatures"] == []
    world.app.pdf_policy = REQUIRE_VALID
    with pytest.raises(PdfSignatureRefused, match="absent"):
        create(world, attachment(world, pdfs.unsigned_pdf()))
    create(world, attachment(world, pdfs.unsigned_pdf()), type_=2)  # type 2 only records


def test_a_file_that_is_not_a_pdf_is_not_read(world: World) -> None:
    world.app.pdf_policy = PdfSignaturePolicy(by_type={"*": "require-valid"})
    doc = create(world, attachment(world, b"PK\x03\x04 a DOCX", "qd.docx",
                                   "application/vnd.openxmlformats-officedocument"))
    assert reports(world, doc) == []


def test_a_revision_reports_on_its_new_pdf(
        world: World, pki: TestPKI) -> None:
    doc = world.sent()
    world.act(SENDER, "document.revise", {
        "document": doc, "business_type": 2, "reason": "bổ sung bản ký số",
        "attachments": [attachment(world, pdfs.signed_pdf(pki))],
        "add_recipients": [], "remove_recipients": []})
    assert [r["verdict"] for r in reports(world, doc)] == ["valid"]


def test_the_audit_replays_the_reports(
        world: World, pki: TestPKI) -> None:
    create(world, attachment(world, pdfs.signed_pdf(pki)), attachment(world, pdfs.unsigned_pdf()))
    registrar, ledger = trust_anchors(world.settings)
    report = run_audit(world.app, registrar_key=registrar, ledger_key=ledger, workers=1)
    assert report.events == world.event_count()


def test_status_and_history_show_a_line_per_signature(
        world: World, pki: TestPKI) -> None:
    doc = create(world, attachment(world, pdfs.signed_pdf(pki)),
                 attachment(world, pdfs.tampered_pdf(pki), "forged.pdf"))
    status = queries.status(caught_up(world), doc)
    assert status is not None
    lines = [line for r in status["attachment_reports"] for line in r["lines"]]
    assert lines[0].startswith("qd.pdf: signed by UID=000.00.00.G22,CN=UBND tỉnh")
    assert ", valid," in lines[0]
    assert "coverage entire-file" in lines[0]
    assert lines[1].startswith("forged.pdf:") and "invalid: not intact" in lines[1]
    details = [e.detail for e in document_history(world.app, UUID(doc)) if e.detail]
    assert details == [[lines[0]], [lines[1]]]


def test_bundle_rechecks_the_pdf_after_its_certificates_expired(
        world: World, pki: TestPKI) -> None:
    data = pdfs.timestamped_pdf(pki)
    doc = create(world, attachment(world, data))
    log = open_log(world.settings, world.app)
    bundle = build_bundle(world.app, log, UUID(doc))
    lines: list[str] = []
    summary = verify_bundle(bundle, log.note_key.vkey(), lambda n, t: lines.append(t),
                            attachments={DataFolder(world.settings.data).blobs.put(data): data},
                            pdf_recheck=lambda r, d: recheck(r, d, anchors=[pki.root.der]))
    # the certificates have expired since: checked as of now, the signature fails …
    assert pdfs.VALID_UNTIL < datetime.now(UTC)
    now = read_signatures(data, anchors=[pki.root.der], at=datetime.now(UTC))
    assert now.verdict == "invalid"
    # … and the bundle's re-check, as of the ledger's report, passes
    assert summary.attachments[0]["rechecked"] is True
    assert summary.attachments[0]["verdict"] == "valid"
    assert f"re-checked as of {pdfs.SIGNED_AT.date().isoformat()}" in lines[-1]


def test_pdf_swapped_beside_the_bundle_is_refused(
        world: World, pki: TestPKI) -> None:
    doc = create(world, attachment(world, pdfs.signed_pdf(pki)))
    log = open_log(world.settings, world.app)
    bundle = build_bundle(world.app, log, UUID(doc))
    sha = DataFolder(world.settings.data).blobs.put(pdfs.signed_pdf(pki))
    with pytest.raises(BundleError, match="does not re-check") as caught:
        verify_bundle(bundle, log.note_key.vkey(), attachments={sha: pdfs.tampered_pdf(pki)},
                      pdf_recheck=lambda r, d: recheck(r, d))
    assert caught.value.step == 11


def test_report_rewritten_in_a_bundle_is_refused(
        world: World, pki: TestPKI) -> None:
    """An invalid report turned into a valid one: the bytes are no longer the log's."""
    doc = create(world, attachment(world, pdfs.tampered_pdf(pki)))
    log = open_log(world.settings, world.app)
    bundle = build_bundle(world.app, log, UUID(doc))
    (event,) = [e for e in bundle["events"] if e["topic"].endswith("AttachmentValidated")]
    state = json.loads(base64.b64decode(event["state"]))
    assert state["verdict"] == "invalid"
    state["verdict"] = "valid"
    event["state"] = base64.b64encode(json.dumps(state).encode()).decode()
    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle, log.note_key.vkey())
    assert caught.value.step == 3


# ---- the incoming registration stamp ("dấu đến") -------------------------------------


def sent_with(world: World, *files: dict[str, Any]) -> str:
    doc = create(world, *files)
    world.act(SENDER, "document.sign", {"document": doc, "signer": {"full_name": "Nguyễn Văn B"}})
    world.act(SENDER, "document.issue", {"document": doc})
    world.act(SENDER, "document.send", {"document": doc, "recipients": [RECIPIENT]})
    return doc


def stamps(world: World, doc: str) -> list[dict[str, Any]]:
    found = []
    for event in world.app.events_of(Delivery.id_for(UUID(doc), RECIPIENT)):
        if isinstance(event, Delivery.IncomingStamped):
            envelope = Envelope.from_dict(event.envelope)
            envelope.verify_with(world.app.root().ledger_key)
            found.append(json.loads(envelope.payload))
    return found


def test_acceptance_stamps_a_copy_and_leaves_the_signed_original(
        world: World, pki: TestPKI) -> None:
    original = pdfs.signed_pdf(pki)
    pdf = attachment(world, original)
    doc = sent_with(world, pdf)
    number = world.act(RECIPIENT, "delivery.accept", {"document": doc}).result["incoming_number"]
    (stamp,) = stamps(world, doc)
    assert stamp["type"] == "delivery.stamped" and stamp["original"] == pdf
    assert stamp["incoming_number"] == number and stamp["recipient"] == RECIPIENT
    assert stamp["copy"]["name"] == f"qd-den-{number}.pdf"
    blobs = DataFolder(world.settings.data).blobs
    copy = blobs.verified_path(stamp["copy"]["sha256"]).read_bytes()
    assert copy.startswith(original)  # an update appended: the signed bytes as they were
    assert blobs.verified_path(pdf["sha256"]).read_bytes() == original
    page = PdfFileReader(io.BytesIO(copy)).root["/Pages"]["/Kids"][0].get_object()
    (annotation,) = [a.get_object() for a in page["/Annots"]
                     if a.get_object()["/Subtype"] == "/Stamp"]
    assert f"So: {number}\nNgay: " in str(annotation["/Contents"])
    (signature,) = read_signatures(copy, anchors=[pki.root.der], at=pdfs.SIGNED_AT).signatures
    assert signature["intact"] is True and signature["coverage"] == "entire-revision"
    # the stamp is history: the audit replays it, the bundle carries it, history shows it
    registrar, ledger = trust_anchors(world.settings)
    run_audit(world.app, registrar_key=registrar, ledger_key=ledger, workers=1)
    log = open_log(world.settings, world.app)
    verify_bundle(build_bundle(world.app, log, UUID(doc)), log.note_key.vkey())
    details = [line for e in document_history(world.app, UUID(doc)) for line in e.detail or []]
    assert f"qd-den-{number}.pdf: copy of qd.pdf stamped with incoming no. {number}" in \
        details[-1]


def test_acceptance_of_a_file_that_is_no_readable_pdf_stamps_nothing(world: World) -> None:
    doc = sent_with(world, attachment(world, b"%PDF-1.4\n%%EOF\n"),
                    attachment(world, b"PK\x03\x04", "qd.docx", "application/msword"))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    assert stamps(world, doc) == []


def test_http_reads_of_a_document_show_its_pdf_reports(world: World, pki: TestPKI) -> None:
    doc = sent_with(world, attachment(world, pdfs.tampered_pdf(pki)))
    with api(world) as http:
        sender = client_for(http, world, SENDER)
        status = sender.get(f"/v1/documents/{doc}/status")
        history = client_for(http, world, RECIPIENT).get(f"/v1/documents/{doc}/history")
    (report,) = status["attachment_reports"]
    assert report["verdict"] == "invalid" and "evidence" not in report["signatures"][0]
    assert "invalid: not intact" in report["lines"][0]
    assert [e["detail"] for e in history["entries"] if e["detail"]] == [report["lines"]]


def test_pdf_signed_by_a_revoked_certificate_is_invalid_from_the_revocation_on(
        world: World, pki: TestPKI, clock: ManualClock) -> None:
    """Signed and sent before the revocation: valid, and stays so; sent again once the
    ledger holds the CRL that says the signer was revoked: invalid, refused by policy."""
    leaf = pki.issue("Văn thư bị thu hồi", kind="rsa", key_label="pdf-revoked",
                     not_before=pdfs.VALID_FROM, not_after=pdfs.VALID_UNTIL)
    data = pdfs.sign(pki, pdfs.unsigned_pdf(), leaf)
    before = create(world, attachment(world, data))
    clock.advance(minutes=5)
    pki.revoke(leaf, at=clock.now)
    clock.advance(minutes=1)
    world.act("registrar", "revocation.record", {"evidence": [
        {"kind": "crl", "data": base64.b64encode(pki.crl(this_update=clock.now)).decode(),
         "issuer": base64.b64encode(pki.intermediate.der).decode()}]})
    after = create(world, attachment(world, data, "again.pdf"))
    assert only_signature(world, before)["valid"] is True
    assert only_signature(world, before)["revoked"] is None
    revoked = only_signature(world, after)
    assert revoked["valid"] is False and revoked["revoked"]["reason"] == "key_compromise"
    world.app.pdf_policy = REQUIRE_VALID
    with pytest.raises(PdfSignatureRefused, match="revoked at"):
        create(world, attachment(world, data, "third.pdf"))
    # the audit replays both judgements; the bundle re-checks the later one as reported
    registrar, ledger = trust_anchors(world.settings)
    run_audit(world.app, registrar_key=registrar, ledger_key=ledger, workers=1)
    log = open_log(world.settings, world.app)
    lines: list[str] = []
    verify_bundle(build_bundle(world.app, log, UUID(after)), log.note_key.vkey(),
                  lambda n, t: lines.append(t), attachments={pdfs_sha(data): data},
                  pdf_recheck=lambda r, d: recheck(r, d, anchors=[pki.root.der]))
    assert "invalid: revoked at" in lines[-1]


def pdfs_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_colluding_ledger_signing_a_malformed_pdf_report_fails_at_step_8_not_the_tool(
        world: World, pki: TestPKI) -> None:
    """A report whose ``attachment`` is no object, re-signed with the real ledger key
    over a new tree: the verifier names step 8; it does not fail on the shape."""
    from domain.evidence.statements import statement_bytes
    from infrastructure.keyfiles import load_signer
    from tests.bundle_support import MemoryLog
    from tests.domain.test_bundle_verify import rewrite_event

    doc = create(world, attachment(world, pdfs.signed_pdf(pki)))
    log = open_log(world.settings, world.app)
    signer = load_signer(DataFolder(world.settings.data).ledger_key)

    def malformed(state: dict[str, Any]) -> None:
        report = json.loads(Envelope.from_dict(state["envelope"]).payload)
        report["attachment"] = "qd.pdf"
        state["envelope"] = Envelope.sign(STATEMENT_TYPE, statement_bytes(report),
                                          signer).to_dict()

    memory = MemoryLog(world.app, signer, log.note_key.name, rewrite_event(
        lambda n: n.topic.endswith("Document.AttachmentValidated"), malformed))
    bundle = build_bundle(world.app, memory, UUID(doc))  # type: ignore[arg-type]
    with pytest.raises(BundleError) as caught:
        verify_bundle(bundle, log.note_key.vkey())
    assert caught.value.step == 8
