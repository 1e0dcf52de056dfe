"""Revocation evidence: CRLs and OCSP responses, read and checked against their issuer.

A piece of evidence says, for certificates its issuer issued (named by the issuer's
name and the certificate's serial number), which were revoked, when and why. The
ledger only records evidence whose signature verifies (``read_crl``,
``read_ocsp``): a CRL signed by the CA that issued the certificates it lists, an
OCSP response signed by that CA or by a responder it delegated OCSP signing to.
Parsing and signature checks are the ``cryptography`` package's; nothing here
reads ASN.1 by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from domain.errors import InvalidInputError, RevocationEvidenceError


def issuer_ref(name: x509.Name) -> str:
    """How evidence and certificates name an issuer: SHA-256 of its name's DER."""
    return hashlib.sha256(name.public_bytes()).hexdigest()


def certificate_ref(cert: x509.Certificate) -> tuple[str, str]:
    """(issuer ref, serial number in lowercase hex): what revocation evidence names."""
    return issuer_ref(cert.issuer), format(cert.serial_number, "x")


@dataclass(frozen=True, kw_only=True)
class Revoked:
    serial: str  # lowercase hex
    at: datetime
    reason: str


@dataclass(frozen=True, kw_only=True)
class EvidenceFacts:
    """What one CRL or OCSP response says, once checked."""

    kind: str  # "crl" or "ocsp"
    issuer: str  # issuer_ref
    this_update: datetime
    revoked: tuple[Revoked, ...]
    good: tuple[str, ...] = ()  # serials an OCSP response says are good


def read_crl(der: bytes, issuer: x509.Certificate) -> EvidenceFacts:
    try:
        crl = x509.load_der_x509_crl(der)
    except ValueError as exc:
        raise InvalidInputError(f"not a DER CRL: {exc}") from None
    if crl.issuer != issuer.subject:
        raise RevocationEvidenceError(f"the CRL is issued by {crl.issuer.rfc4514_string()}, "
                                      f"not by {issuer.subject.rfc4514_string()}")
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise RevocationEvidenceError("the CRL's signature does not verify with its issuer's "
                                      "key")
    revoked = tuple(Revoked(serial=format(entry.serial_number, "x"),
                            at=entry.revocation_date_utc, reason=_reason(entry.extensions))
                    for entry in crl)
    return EvidenceFacts(kind="crl", issuer=issuer_ref(issuer.subject),
                         this_update=crl.last_update_utc, revoked=revoked)


def read_ocsp(der: bytes, issuer: x509.Certificate) -> EvidenceFacts:
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise InvalidInputError(f"not a DER OCSP response: {exc}") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationEvidenceError(f"the OCSP response is {response.response_status.name}")
    signer = _responder(response, issuer)
    _verify(signer, response.signature, response.tbs_response_bytes,
            response.signature_hash_algorithm)
    revoked, good = [], []
    for single in response.responses:
        expected = hashes.Hash(single.hash_algorithm)
        expected.update(issuer.subject.public_bytes())
        if single.issuer_name_hash != expected.finalize():
            raise RevocationEvidenceError("the OCSP response speaks of another issuer's "
                                          "certificate")
        serial = format(single.serial_number, "x")
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            assert single.revocation_time_utc is not None
            reason = (single.revocation_reason.name if single.revocation_reason
                      else "unspecified")
            revoked.append(Revoked(serial=serial, at=single.revocation_time_utc,
                                   reason=reason))
        elif single.certificate_status == ocsp.OCSPCertStatus.GOOD:
            good.append(serial)
    return EvidenceFacts(kind="ocsp", issuer=issuer_ref(issuer.subject),
                         this_update=response.produced_at_utc, revoked=tuple(revoked),
                         good=tuple(good))


def _names(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    """Whether the response's ResponderID names ``cert`` (by name or key hash)."""
    if response.responder_name is not None:
        return bool(response.responder_name == cert.subject)
    digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == digest


def _responder(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    """The certificate whose key signed ``response``: the issuer itself, or a
    responder the issuer delegated OCSP signing to (RFC 6960 4.2.2.2: issued
    directly by it, with the id-kp-OCSPSigning extended key usage, valid when the
    response was produced)."""
    if _names(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _names(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise RevocationEvidenceError("the OCSP responder's certificate is not issued by "
                                          "the certificate's issuer") from None
        try:
            usage = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usage = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            raise RevocationEvidenceError("the OCSP responder's certificate lacks the "
                                          "OCSPSigning extended key usage")
        produced = response.produced_at_utc
        if not candidate.not_valid_before_utc <= produced <= candidate.not_valid_after_utc:
            raise RevocationEvidenceError("the OCSP responder's certificate was not valid when "
                                          "the response was produced")
        return candidate
    raise RevocationEvidenceError("the OCSP response is signed neither by the certificate's "
                                  "issuer nor by a responder it delegated to")


def _verify(issuer: x509.Certificate, signature: bytes, data: bytes,
            algorithm: hashes.HashAlgorithm | None) -> None:
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise RevocationEvidenceError(
                f"unsupported OCSP signature by a {type(key).__name__} key")
    except InvalidSignature:
        raise RevocationEvidenceError("the OCSP response's signature does not verify with "
                                      "its issuer's key") from None


def _reason(extensions: x509.Extensions) -> str:
    try:
        return extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return "unspecified"


def der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)
