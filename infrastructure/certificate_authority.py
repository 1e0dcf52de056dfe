"""Making X.509 certificates: a root CA, the CAs and signing certificates it issues.

What a certification authority would hand out, made with the ``cryptography``
package: a self-signed root, intermediates under it (basicConstraints cA, keyUsage
keyCertSign + cRLSign) and agency signing certificates (keyUsage
digitalSignature + nonRepudiation, the agency code in a subject attribute, ``UID``
by default, as docs/trust.md expects). ``docledger demo`` makes its demo CA with it,
and the tests their PKI. Real certificates come from the state's CAs, never from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

# the subject attributes a certificate can hold the agency code in
CODE_ATTRIBUTES = {
    "UID": NameOID.USER_ID,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
}


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        """The private key, PKCS#8 PEM, unencrypted."""
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def serial(self) -> int:
        return self.cert.serial_number

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> Issued:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                          | ed25519.Ed25519PrivateKey):
            raise ValueError(f"unsupported private key type {type(key).__name__}")
        return cls(cert=x509.load_pem_x509_certificate(cert_pem), key=key)


def subject_name(common: str, *, organization: str, code: str | None = None,
                 attribute: str = "UID") -> x509.Name:
    """``C=VN, O=organization, CN=common`` and, when given, the agency code in
    ``attribute``."""
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
             x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if code is not None:
        attrs.append(x509.NameAttribute(CODE_ATTRIBUTES[attribute], code))
    return x509.Name(attrs)


def ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)


def signing_usage(digital_signature: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=True,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)


def hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The digest a key signs certificates with (none for Ed25519)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == 384:
        return hashes.SHA384()
    return hashes.SHA256()


def root_ca(key: PrivateKey, name: x509.Name, *, not_before: datetime,
            not_after: datetime) -> Issued:
    """A self-signed root CA certificate."""
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(ca_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hash_for(key)))
    return Issued(cert=cert, key=key)


def builder_under(issuer: Issued, key: PrivateKey, name: x509.Name, *, not_before: datetime,
                  not_after: datetime, ca: bool = False,
                  digital_signature: bool = True) -> x509.CertificateBuilder:
    """A certificate for ``key`` issued by ``issuer``: a CA (path length 0) or a
    signing certificate, to which a caller may add extensions before ``sign_by``."""
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                           critical=True)
            .add_extension(ca_usage() if ca else signing_usage(digital_signature),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.key.public_key()), critical=False))


def sign_by(builder: x509.CertificateBuilder, issuer: Issued, key: PrivateKey) -> Issued:
    """The certificate ``builder`` describes, signed by ``issuer``, with ``key``."""
    cert = builder.sign(issuer.key, hash_for(issuer.key))
    return Issued(cert=cert, key=key)
