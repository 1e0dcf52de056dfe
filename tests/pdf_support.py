"""Signed PDFs for the tests, made in memory with pyHanko from the test PKI
(infrastructure/pdf_signing.py writes and signs them, as for the demo).

The signers are certificates of tests/pki.py's intermediate (its root stands in
for the state CA): an agency signer with RSA-2048, valid around ``SIGNED_AT``
and expired a month later, long before the tests run; one whose certificate
had expired before ``SIGNED_AT``; a self-signed stranger; and a TSA. The PDFs:
valid, valid with an RFC 3161 time-stamp, tampered after signing (a byte inside
the signed range), changed by an incremental update after signing, signed with
the expired certificate, and unsigned. Each is built once per test process.
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
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from infrastructure.pdf_signing import one_page_pdf, sign_pdf
from tests.factories import SENDER
from tests.pki import Issued, TestPKI

# When the test documents were signed and sent: four months ago, so that their
# certificates (valid for a month after) have expired by the time the tests run.
SIGNED_AT = (datetime.now(UTC) - timedelta(days=120)).replace(microsecond=0)
VALID_FROM = SIGNED_AT - timedelta(days=60)
VALID_UNTIL = SIGNED_AT + timedelta(days=30)


def asn1_cert(issued: Issued) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(issued.der)


def asn1_key(issued: Issued) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(issued.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


@dataclass(frozen=True)
class Signers:
    signer: Issued  # RSA-2048, valid around SIGNED_AT
    expired: Issued  # expired before SIGNED_AT
    stranger: Issued  # self-signed: chains to no anchor
    tsa: Issued


@cache
def signers_of(pki: TestPKI) -> Signers:
    signer = pki.issue("UBND tỉnh — văn thư", code=SENDER, kind="rsa", key_label="pdf-signer",
                       not_before=VALID_FROM, not_after=VALID_UNTIL)
    expired = pki.issue("Sở cũ — văn thư", code=SENDER, kind="rsa", key_label="pdf-expired",
                        not_before=SIGNED_AT - timedelta(days=400),
                        not_after=SIGNED_AT - timedelta(days=1))
    return Signers(signer=signer, expired=expired, stranger=pki.self_signed("Người lạ"),
                   tsa=_tsa(pki))


def _tsa(pki: TestPKI) -> Issued:
    """A time-stamping authority under the intermediate (critical timeStamping EKU)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = pki.intermediate
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
            .issuer_name(issuer.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(VALID_FROM).not_valid_after(SIGNED_AT + timedelta(days=3650))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(issuer.key, hashes.SHA256()))  # type: ignore[arg-type]
    return Issued(cert=cert, key=key)


@cache
def unsigned_pdf() -> bytes:
    """A one-page PDF with a line of text, written by pyHanko."""
    return one_page_pdf(["Quyet dinh so 12"])


def sign(pki: TestPKI, data: bytes, signer: Issued, *, timestamped: bool = False) -> bytes:
    tsa = signers_of(pki).tsa
    stamper = (DummyTimeStamper(
        tsa_cert=asn1_cert(tsa), tsa_key=asn1_key(tsa), fixed_dt=SIGNED_AT,
        certs_to_embed=SimpleCertificateStore.from_certs([asn1_cert(pki.intermediate)]))
               if timestamped else None)
    return sign_pdf(data, signer, chain=[pki.intermediate], timestamper=stamper)


@cache
def signed_pdf(pki: TestPKI) -> bytes:
    return sign(pki, unsigned_pdf(), signers_of(pki).signer)


@cache
def timestamped_pdf(pki: TestPKI) -> bytes:
    return sign(pki, unsigned_pdf(), signers_of(pki).signer, timestamped=True)


@cache
def expired_signer_pdf(pki: TestPKI) -> bytes:
    return sign(pki, unsigned_pdf(), signers_of(pki).expired)


@cache
def stranger_pdf(pki: TestPKI) -> bytes:
    return sign(pki, unsigned_pdf(), signers_of(pki).stranger)


@cache
def tampered_pdf(pki: TestPKI) -> bytes:
    """The signed PDF with one byte inside the signed range changed (the text shown)."""
    data = signed_pdf(pki)
    at = data.index(b"Quyet dinh so 12")
    assert at < _first_range_end(data)
    return data[:at] + b"Quyet dinh so 13" + data[at + 16:]


@cache
def updated_after_signing_pdf(pki: TestPKI) -> bytes:
    """The signed PDF with an incremental update appended that replaces the page's
    content: the signed revision is intact, the document shown is not it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed_pdf(pki)))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page[generic.NameObject("/Contents")] = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 12 Tf 20 100 Td (Quyet dinh so 99) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _first_range_end(data: bytes) -> int:
    start = data.index(b"/ByteRange")
    numbers = data[data.index(b"[", start) + 1:data.index(b"]", start)].split()
    return int(numbers[1])
