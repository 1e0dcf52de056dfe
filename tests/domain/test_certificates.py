"""Path validation of agency certificates and the validity rule of their keys, at
the instants where they change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import (
    CertificateNameError,
    CertificateNotValidError,
    UntrustedCertificateError,
)
from domain.evidence.certificates import Anchor, fingerprint, validate_agency_certificate
from domain.evidence.key_validity import key_valid_at
from tests.factories import RECIPIENT, SENDER
from tests.pki import TestPKI


def anchors(pki: TestPKI, attribute: str = "UID") -> list[Anchor]:
    return [Anchor(certificate=pki.root.cert, sha256=fingerprint(pki.root.der),
                   code_attribute=attribute)]


def test_validity_period_is_inclusive_at_both_ends(pki: TestPKI) -> None:
    leaf = pki.p256.cert
    for at in (leaf.not_valid_before_utc, leaf.not_valid_after_utc):
        validate_agency_certificate(leaf, [pki.intermediate.cert], anchors=anchors(pki), at=at,
                                    code=SENDER, algorithm=None, registrar_binding=False)
    for at in (leaf.not_valid_before_utc - timedelta(microseconds=1),
               leaf.not_valid_after_utc + timedelta(microseconds=1)):
        with pytest.raises(CertificateNotValidError):
            validate_agency_certificate(leaf, [pki.intermediate.cert], anchors=anchors(pki),
                                        at=at, code=SENDER, algorithm=None,
                                        registrar_binding=False)


def test_key_validity_is_the_intersection_of_key_and_certificate_periods(pki: TestPKI) -> None:
    start = pki.made
    end = start + timedelta(days=1)
    rule = {"effective_from": start, "revoked_at": start + timedelta(days=2),
            "not_before": start - timedelta(days=1), "not_after": end}
    assert key_valid_at(start, **rule) and key_valid_at(end, **rule)
    assert not key_valid_at(end + timedelta(microseconds=1), **rule)
    assert not key_valid_at(start - timedelta(microseconds=1), **rule)


def test_code_is_read_only_from_the_anchor_attribute(pki: TestPKI) -> None:
    with pytest.raises(CertificateNameError):
        validate_agency_certificate(pki.p256.cert, [pki.intermediate.cert],
                                    anchors=anchors(pki, "serialNumber"), at=pki.made,
                                    code=SENDER, algorithm=None, registrar_binding=False)
    with pytest.raises(CertificateNameError):
        validate_agency_certificate(pki.p256.cert, [pki.intermediate.cert],
                                    anchors=anchors(pki), at=pki.made, code=RECIPIENT,
                                    algorithm=None, registrar_binding=False)


def test_intermediate_given_as_anchor_needs_no_root(pki: TestPKI) -> None:
    intermediate = [Anchor(certificate=pki.intermediate.cert,
                           sha256=fingerprint(pki.intermediate.der), code_attribute="UID")]
    certified = validate_agency_certificate(pki.rsa.cert, [], anchors=intermediate,
                                            at=pki.made, code=SENDER, algorithm=None,
                                            registrar_binding=False)
    assert certified.anchor == fingerprint(pki.intermediate.der)


def test_certificate_outliving_its_issuer_is_refused_once_the_issuer_expired(
        pki: TestPKI) -> None:
    leaf = pki.issue("Outlives its CA", not_after=pki.made + timedelta(days=2000))
    after = pki.intermediate.cert.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(UntrustedCertificateError):
        validate_agency_certificate(leaf.cert, [pki.intermediate.cert], anchors=anchors(pki),
                                    at=after, code=SENDER, algorithm=None,
                                    registrar_binding=False)
