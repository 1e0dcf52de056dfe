"""Reading PDF signatures with pyHanko (infrastructure/pdf_signatures.py) and the
report's verdicts and policy (domain/evidence/pdf_report.py), without a ledger."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from domain.errors import VerificationError
from domain.evidence.pdf_report import (
    Findings,
    PdfSignaturePolicy,
    PdfSignatureRefused,
    report_lines,
)
from infrastructure.pdf_attachments import is_pdf
from infrastructure.pdf_signatures import read_signatures, recheck
from tests import pdf_support as pdfs
from tests.pki import TestPKI

ATTACHMENT = {"name": "qd.pdf", "media_type": "application/pdf", "size": 1, "sha256": "ab"}


def report_of(findings: Findings, at: datetime = pdfs.SIGNED_AT,
              anchors: tuple[bytes, ...] = ()) -> dict[str, object]:
    return {"type": "attachment.validated", "attachment": ATTACHMENT, "at": at.isoformat(),
            "anchors": [hashlib.sha256(a).hexdigest() for a in anchors],
            "verdict": findings.verdict, "problem": findings.problem,
            "signatures": findings.signatures}


def test_a_pdf_is_known_by_its_first_bytes_not_its_name() -> None:
    assert is_pdf(b"%PDF-1.7 ...") and not is_pdf(b"PK\x03\x04%PDF-") and not is_pdf(b"")


def test_a_file_that_only_claims_to_be_a_pdf_is_invalid() -> None:
    findings = read_signatures(b"%PDF-1.4\n%%EOF\n", anchors=[], at=pdfs.SIGNED_AT)
    assert findings.verdict == "invalid" and findings.problem is not None
    assert "not a readable PDF" in report_lines(report_of(findings))[0]


def test_the_embedded_time_stamp_and_its_token_are_kept(pki: TestPKI) -> None:
    findings = read_signatures(pdfs.timestamped_pdf(pki), anchors=[pki.root.der],
                               at=pdfs.SIGNED_AT)
    (signature,) = findings.signatures
    assert signature["valid"] is True
    assert signature["timestamp"]["time"] == pdfs.SIGNED_AT.isoformat()
    assert signature["timestamp"]["tsa"]["subject"] == "CN=Test TSA"
    assert base64.b64decode(signature["evidence"]["timestamp_token"])[:1] == b"\x30"


def test_no_anchor_no_trust(pki: TestPKI) -> None:
    (signature,) = read_signatures(pdfs.signed_pdf(pki), anchors=[],
                                   at=pdfs.SIGNED_AT).signatures
    assert signature["intact"] is True and signature["trusted"] is False


def test_recheck_with_another_verifiers_anchor_is_refused(pki: TestPKI) -> None:
    data = pdfs.signed_pdf(pki)
    report = report_of(read_signatures(data, anchors=[pki.root.der], at=pdfs.SIGNED_AT),
                       anchors=(pki.root.der,))
    chain = report["signatures"][0]["evidence"]["certificates"]  # type: ignore[index]
    assert base64.b64decode(chain[0]) == pdfs.signers_of(pki).signer.der
    assert base64.b64decode(chain[-1]) == pki.root.der  # from the signer to the anchor
    stranger = pdfs.signers_of(pki).stranger.der
    with pytest.raises(VerificationError, match="trusted False"):
        recheck(report, data, anchors=[stranger])
    assert "against the trust anchors given" in recheck(report, data, anchors=[pki.root.der])
    assert "the ledger recorded" in recheck(report, data)
    # a report naming no anchor trusts nothing on re-check, not the signer itself
    with pytest.raises(VerificationError, match="trusted False"):
        recheck({**report, "anchors": []}, data)


def test_recheck_of_a_report_made_at_another_time_is_refused(pki: TestPKI) -> None:
    """A report moved to a time after the certificate expired no longer re-checks."""
    data = pdfs.signed_pdf(pki)
    report = report_of(read_signatures(data, anchors=[pki.root.der], at=pdfs.SIGNED_AT))
    report["at"] = datetime.now(UTC).isoformat()
    with pytest.raises(VerificationError):
        recheck(report, data, anchors=[pki.root.der])


def test_the_policy_names_types_and_a_default() -> None:
    policy = PdfSignaturePolicy(by_type={"1": "require-valid", "*": "record"})
    assert policy.requirement(1) == "require-valid" and policy.requirement(7) == "record"
    assert PdfSignaturePolicy().requirement(1) == "record"
    strict = PdfSignaturePolicy(by_type={"*": "require-valid"})
    with pytest.raises(PdfSignatureRefused, match="carries no signature"):
        strict.check(3, ATTACHMENT, Findings())
    strict.check(3, ATTACHMENT, Findings(signatures=[{"valid": True}]))
