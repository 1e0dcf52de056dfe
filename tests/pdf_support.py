"""Signed PDFs for the tests, made in memory with pyHanko.

A small PKI (a root standing in for the state CA, an issuing intermediate, an
agency signer with RSA-2048, one whose certificate expired, and a TSA) and PDFs
signed by it: valid, valid with an RFC 3161 time-stamp, tampered after signing,
changed by an incremental update after signing, signed with the expired
certificate, and unsigned. Everything is built once per process (``cache``).
The certificates' validity is fixed around ``SIGNED_AT`` so a ledger clock set
there finds them valid, and a verifier checking "now" finds them expired.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

# The moment the test documents are signed and sent; their certificates expire a
# month later, long before the day the tests run.
SIGNED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VALID_FROM = SIGNED_AT - timedelta(days=60)
VALID_UNTIL = SIGNED_AT + timedelta(days=30)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.der)

    @property
    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        return asn1_keys.PrivateKeyInfo.load(self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))


def _issue(cn: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
           issuer: Issued | None, *, ca: bool, start: datetime, end: datetime,
           eku: x509.ObjectIdentifier | None = None) -> Issued:
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "docledger tests"),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=not ca,
                   key_encipherment=False, data_encipherment=False, key_agreement=False,
                   key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False),
                   critical=True))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    signing_key = issuer.key if issuer else key
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Pki:
    root: Issued
    intermediate: Issued
    signer: Issued  # RSA-2048, valid around SIGNED_AT
    expired: Issued  # expired before SIGNED_AT
    tsa: Issued
    stranger: Issued  # a self-signed root no ledger trusts


@cache
def pki() -> Pki:
    far = SIGNED_AT + timedelta(days=3650)
    root = _issue("Test Root CA (Ban Cơ yếu stand-in)", ec.generate_private_key(ec.SECP256R1()),
                  None, ca=True, start=VALID_FROM - timedelta(days=365), end=far)
    intermediate = _issue("Test Issuing CA", ec.generate_private_key(ec.SECP256R1()), root,
                          ca=True, start=VALID_FROM - timedelta(days=1), end=far)
    signer = _issue("UBND tỉnh — văn thư", _rsa(), intermediate, ca=False,
                    start=VALID_FROM, end=VALID_UNTIL)
    expired = _issue("Sở cũ — văn thư", _rsa(), intermediate, ca=False,
                     start=VALID_FROM - timedelta(days=400), end=VALID_FROM - timedelta(days=35))
    tsa = _issue("Test TSA", _rsa(), intermediate, ca=False, start=VALID_FROM - timedelta(1),
                 end=far, eku=ExtendedKeyUsageOID.TIME_STAMPING)
    stranger = _issue("Someone Else's Root", _rsa(), None, ca=False, start=VALID_FROM,
                      end=VALID_UNTIL)
    return Pki(root, intermediate, signer, expired, tsa, stranger)


@cache
def unsigned_pdf() -> bytes:
    """A one-page PDF with some text, written by pyHanko."""
    writer = PdfFileWriter()
    content = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 12 Tf 20 100 Td (Quyet dinh so 12) Tj ET"))
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 200, 200)]),
        generic.NameObject("/Contents"): content,
    })
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def sign(data: bytes, signer: Issued, *, timestamped: bool = False,
         field: str = "Signature1") -> bytes:
    p = pki()
    pdf_signer = signers.SimpleSigner(
        signing_cert=signer.asn1, signing_key=signer.asn1_key,
        cert_registry=SimpleCertificateStore.from_certs([p.intermediate.asn1]))
    stamper = (DummyTimeStamper(tsa_cert=p.tsa.asn1, tsa_key=p.tsa.asn1_key,
                                certs_to_embed=SimpleCertificateStore.from_certs(
                                    [p.intermediate.asn1]),
                                fixed_dt=SIGNED_AT)
               if timestamped else None)
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)),
                           signers.PdfSignatureMetadata(field_name=field),
                           signer=pdf_signer, timestamper=stamper)
    return out.getvalue()


@cache
def signed_pdf() -> bytes:
    return sign(unsigned_pdf(), pki().signer)


@cache
def timestamped_pdf() -> bytes:
    return sign(unsigned_pdf(), pki().signer, timestamped=True)


@cache
def expired_signer_pdf() -> bytes:
    return sign(unsigned_pdf(), pki().expired)


@cache
def stranger_pdf() -> bytes:
    return sign(unsigned_pdf(), pki().stranger)


@cache
def tampered_pdf() -> bytes:
    """The signed PDF with one byte inside the signed range changed (the text shown)."""
    data = signed_pdf()
    at = data.index(b"Quyet dinh so 12")
    assert at < _signed_range_end(data)
    return data[:at] + b"Quyet dinh so 13" + data[at + 16:]


@cache
def updated_after_signing_pdf() -> bytes:
    """The signed PDF with an incremental update appended that replaces the page's
    content: the signed revision is intact, the document shown is not it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf()))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    page[generic.NameObject("/Contents")] = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 12 Tf 20 100 Td (Quyet dinh so 99) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _signed_range_end(data: bytes) -> int:
    start = data.index(b"/ByteRange")
    numbers = data[data.index(b"[", start) + 1:data.index(b"]", start)].split()
    return int(numbers[2])


def anchors_pem() -> bytes:
    return pki().root.pem
