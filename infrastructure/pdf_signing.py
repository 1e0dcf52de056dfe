"""Making small PDFs and signing them (PAdES, with pyHanko), in memory.

``one_page_pdf`` writes a one-page PDF showing lines of text in Helvetica (one of
the PDF standard fonts, which cannot show Vietnamese diacritics: they are dropped,
đ becomes d). ``sign_pdf`` signs a PDF with a certificate's key, embedding the
intermediates, as an agency's signing tool would. ``docledger demo`` makes its
documents with them, and the tests their signed PDFs. The ledger itself only reads
signatures (infrastructure/pdf_signatures.py); it never signs a PDF.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization

from infrastructure.certificate_authority import Issued

LINE_HEIGHT = 14


def plain_text(line: str) -> str:
    """``line`` in the characters a standard PDF font shows: no diacritics, ``đ`` as
    ``d``, anything else outside ASCII as ``?``."""
    line = line.replace("đ", "d").replace("Đ", "D")
    bare = "".join(c for c in unicodedata.normalize("NFD", line)
                   if not unicodedata.combining(c))
    return bare.encode("ascii", "replace").decode("ascii")


def _pdf_string(line: str) -> bytes:
    text = plain_text(line).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + text.encode("ascii") + b")"


def one_page_pdf(lines: Sequence[str], *, width: int = 200, height: int = 200) -> bytes:
    """A PDF of one ``width`` x ``height`` point page showing ``lines`` from its top
    left, 12-point Helvetica."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    top = max(height - 3 * LINE_HEIGHT, LINE_HEIGHT)
    shown = b" T* ".join(_pdf_string(line) + b" Tj" for line in lines)
    stream = b"BT /F1 12 Tf %d TL 20 %d Td %s ET" % (LINE_HEIGHT, top, shown)
    writer = PdfFileWriter()  # type: ignore[no-untyped-call]
    # pyHanko's generic objects and writer carry no annotations: the calls are untyped
    name: Any = generic.NameObject
    font = generic.DictionaryObject({  # type: ignore[no-untyped-call]
        name("/Type"): name("/Font"), name("/Subtype"): name("/Type1"),
        name("/BaseFont"): name("/Helvetica"), name("/Encoding"): name("/WinAnsiEncoding")})
    writer.insert_page(generic.DictionaryObject({  # type: ignore[no-untyped-call]
        name("/Type"): name("/Page"),
        name("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, width, height)]),  # type: ignore[no-untyped-call]
        name("/Resources"): generic.DictionaryObject({  # type: ignore[no-untyped-call]
            name("/Font"): generic.DictionaryObject({  # type: ignore[no-untyped-call]
                name("/F1"): writer.add_object(font)})}),
        name("/Contents"): writer.add_object(generic.StreamObject(stream_data=stream)),
    }))
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def sign_pdf(data: bytes, signer: Issued, *, chain: Sequence[Issued] = (),
             field_name: str = "Signature1", timestamper: Any = None) -> bytes:
    """``data`` with a PAdES signature by ``signer`` appended (an incremental update),
    carrying the ``chain`` certificates; ``timestamper`` (a pyHanko TimeStamper) adds
    an RFC 3161 signature time-stamp."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = asn1_keys.PrivateKeyInfo.load(signer.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    registry = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
        [asn1_x509.Certificate.load(c.der) for c in chain])
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)),
        signers.PdfSignatureMetadata(field_name=field_name),
        signer=signers.SimpleSigner(signing_cert=asn1_x509.Certificate.load(signer.der),
                                    signing_key=key, cert_registry=registry),
        timestamper=timestamper)
    return bytes(out.getvalue())
