"""The test PKI itself: its paths validate, its CRL and OCSP responder tell the truth."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathValidationError, RevokedError

from tests.factories import SENDER
from tests.pki import Issued, TestPKI


def _validate(pki: TestPKI, leaf: Issued, *, mode: str = "require",
              at: datetime | None = None) -> None:
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(pki.root.der)],
        other_certs=[asn1_x509.Certificate.load(pki.intermediate.der)],
        allow_fetching=True, revocation_mode=mode,
        moment=at, best_signature_time=at)
    validator = CertificateValidator(asn1_x509.Certificate.load(leaf.der),
                                     validation_context=context)
    asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))


@pytest.mark.parametrize("which", ["rsa", "p256", "p384"])
def test_agency_certificates_validate_with_revocation_checked(pki: TestPKI, which: str) -> None:
    leaf: Issued = getattr(pki, which)
    assert leaf.cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == SENDER
    _validate(pki, leaf)


def test_revoked_certificate_is_reported_revoked_by_crl_and_ocsp(pki: TestPKI) -> None:
    with pytest.raises(RevokedError):
        _validate(pki, pki.revoked)
    crl = x509.load_der_x509_crl(urllib.request.urlopen(pki.crl_url, timeout=5).read())
    entry = crl.get_revoked_certificate_by_serial_number(pki.revoked.serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason \
        == x509.ReasonFlags.key_compromise
    assert entry.revocation_date_utc == pki.made - timedelta(hours=1)
    request = urllib.request.Request(pki.ocsp_url, data=pki.ocsp_request(pki.revoked),
                                     headers={"Content-Type": "application/ocsp-request"})
    answer = ocsp.load_der_ocsp_response(urllib.request.urlopen(request, timeout=5).read())
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_time_utc == pki.made - timedelta(hours=1)


def test_expired_certificate_fails_path_validation(pki: TestPKI) -> None:
    assert pki.expired.cert.not_valid_after_utc < datetime.now(UTC)
    with pytest.raises(PathValidationError):
        _validate(pki, pki.expired, mode="soft-fail")
