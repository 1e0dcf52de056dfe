"""X.509 certificates backing agency keys: trust anchors and path validation.

A trust anchor is a CA certificate the registrar added (``trust.add_anchor``)
with the subject attribute the agency code is read from in the certificates it
vouches for (``UID`` unless the registrar said otherwise). An agency
certificate is accepted at instant ``T`` (the ledger's time of the command that
registers it) when, in this order (docs/trust.md):

1. it is within its validity period at ``T`` (``CertificateNotValidError``);
2. its keyUsage extension is present and allows digitalSignature, and it is not a
   CA certificate (``CertificateUsageError``);
3. its key is one the ledger verifies (``keys.public_key_for``: RSA ≥ 2048,
   P-256, P-384, Ed25519);
4. a path leads from it, through the chain given, to an anchor in force at
   ``T``, every certificate valid at ``T`` (``cryptography.x509.verification``:
   signatures, validity, CA basic constraints and key usage, path length,
   name chaining; ``UntrustedCertificateError``);
5. its subject holds the agency code in the anchor's code attribute, unless the
   registrar binds it to the agency explicitly (``CertificateNameError``).

Everything here is a pure function of the bytes and ``T``: the audit re-executes
the command years later and reaches the same decision.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from domain.errors import (
    CertificateError,
    CertificateNameError,
    CertificateNotValidError,
    CertificateUsageError,
    InvalidInputError,
    UntrustedCertificateError,
)
from domain.evidence.keys import PublicKey, public_key_for

# the subject attributes an agency code may be read from (docs/trust.md)
CODE_ATTRIBUTES: dict[str, x509.ObjectIdentifier] = {
    "UID": NameOID.USER_ID,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
}
DEFAULT_CODE_ATTRIBUTE = "UID"
REGISTRAR_BINDING = "registrar"
MAX_CHAIN = 8


def fingerprint(der: bytes) -> str:
    """A certificate's name in the ledger: lowercase hex SHA-256 of its DER."""
    return hashlib.sha256(der).hexdigest()


def b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def certificate_from_b64(text: str, what: str = "certificate") -> x509.Certificate:
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not base64") from None
    return certificate_from_der(der, what)


def certificate_from_der(der: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise InvalidInputError(f"{what} is not a DER X.509 certificate: {exc}") from None
    if cert.public_bytes(serialization.Encoding.DER) != der:
        raise InvalidInputError(f"{what} is not in canonical DER")
    return cert


def certificates_from_file(data: bytes) -> list[bytes]:
    """The DER of each certificate in a PEM file (one or more) or a DER file."""
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InvalidInputError(f"not an X.509 certificate (PEM or DER): {exc}") from None
    return [c.public_bytes(serialization.Encoding.DER) for c in certs]


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """A trust anchor in force: its certificate and where it puts agency codes."""

    certificate: x509.Certificate
    sha256: str
    code_attribute: str


def check_anchor(cert: x509.Certificate, code_attribute: str) -> None:
    """Refuse as an anchor anything but a CA certificate, or an unknown attribute."""
    if code_attribute not in CODE_ATTRIBUTES:
        raise InvalidInputError(
            f"code attribute {code_attribute!r} is not one of {', '.join(CODE_ATTRIBUTES)}")
    if not _is_ca(cert):
        raise CertificateError("a trust anchor must be a CA certificate (basicConstraints "
                               "cA true)")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True, kw_only=True)
class CertifiedKey:
    """An agency key a certificate vouches for, as accepted at a time."""

    key: PublicKey
    anchor: str  # the fingerprint of the anchor the path ended at
    binding: str  # the code attribute that named the agency, or "registrar"
    not_before: datetime
    not_after: datetime


def validate_agency_certificate(
    cert: x509.Certificate, chain: Sequence[x509.Certificate], *, anchors: Sequence[Anchor],
    at: datetime, code: str, algorithm: str | None, registrar_binding: bool,
) -> CertifiedKey:
    """The key ``cert`` vouches for ``code`` at ``at``, or the first check it fails."""
    subject = cert.subject.rfc4514_string()
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not not_before <= at <= not_after:
        raise CertificateNotValidError(
            f"certificate {subject} is valid from {not_before.isoformat()} to "
            f"{not_after.isoformat()}, not at {at.isoformat()}")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateUsageError(f"certificate {subject} has no keyUsage extension") from None
    if not usage.digital_signature:
        raise CertificateUsageError(f"certificate {subject}'s keyUsage does not allow "
                                    "digitalSignature")
    if _is_ca(cert):
        raise CertificateUsageError(f"certificate {subject} is a CA certificate, not an "
                                    "agency's signing certificate")
    key = public_key_for(cert.public_key(), algorithm)
    anchor = _path(cert, chain, anchors, at)
    if registrar_binding:
        binding = REGISTRAR_BINDING
    else:
        binding = anchor.code_attribute
        held = [a.value for a in cert.subject.get_attributes_for_oid(CODE_ATTRIBUTES[binding])]
        if code not in held:
            raise CertificateNameError(
                f"certificate {subject} does not name agency {code} in its {binding} "
                f"attribute (it holds {', '.join(map(str, held)) or 'none'})")
    return CertifiedKey(key=key, anchor=anchor.sha256, binding=binding,
                        not_before=not_before, not_after=not_after)


def _path(cert: x509.Certificate, chain: Sequence[x509.Certificate],
          anchors: Sequence[Anchor], at: datetime) -> Anchor:
    if not anchors:
        raise UntrustedCertificateError("no trust anchor is in force: add one with "
                                        "`docledger trust add`")
    by_der = {a.certificate.public_bytes(serialization.Encoding.DER): a for a in anchors}
    builder = (verification.PolicyBuilder()
               .store(verification.Store([a.certificate for a in anchors]))
               .time(at)
               .max_chain_depth(MAX_CHAIN)
               .extension_policies(ee_policy=verification.ExtensionPolicy.permit_all(),
                                   ca_policy=verification.ExtensionPolicy.webpki_defaults_ca()))
    try:
        verified = builder.build_client_verifier().verify(cert, list(chain))
    except verification.VerificationError as exc:
        raise UntrustedCertificateError(
            f"certificate {cert.subject.rfc4514_string()} does not chain to a trust anchor "
            f"in force at {at.isoformat()}: {exc}") from None
    root = verified.chain[-1].public_bytes(serialization.Encoding.DER)
    return by_der[root]


def check_issuer(cert: x509.Certificate, anchors: Sequence[Anchor], at: datetime) -> None:
    """Refuse a CA certificate (the issuer of revocation evidence) that is not an
    anchor in force at ``at`` and does not chain directly to one."""
    der = cert.public_bytes(serialization.Encoding.DER)
    if any(a.sha256 == fingerprint(der) for a in anchors):
        return
    if not _is_ca(cert):
        raise CertificateError(f"{cert.subject.rfc4514_string()} is not a CA certificate")
    _path(cert, [], anchors, at)
