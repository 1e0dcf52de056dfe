"""Signed edXML test messages: a throwaway CA, its signers, and signxml to sign with.

The public samples' own signatures do not verify (their SignatureValue was
copied from another message), so the tests sign copies of them here: the
sample's Signature element is replaced by a new enveloped one at the same
place, over the whole document, with inclusive C14N 1.0 as in the samples.
Keys are made once per process (``pki()``): RSA-2048 and ECDSA P-256, the
algorithms of Vietnamese CAs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import SignatureMethod

from infrastructure.certificate_authority import Issued, PrivateKey
from tests.domain.edxml.support import SAMPLES

DSIG = "http://www.w3.org/2000/09/xmldsig#"
C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
NOW = datetime.now(UTC)

@dataclass(frozen=True)
class Pki:
    root: Issued  # the trust anchor
    rsa: Issued  # signers issued by root
    ecdsa: Issued
    expired: Issued  # issued by root, expired a year ago
    stranger: Issued  # a self-signed signer nobody trusts


@cache
def pki() -> Pki:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue("Test Root CA", root_key, None, ca=True)
    return Pki(root=root,
               rsa=_issue("Nguyễn Văn B (RSA)", rsa.generate_private_key(65537, 2048), root),
               ecdsa=_issue("Nguyễn Văn B (ECDSA)", ec.generate_private_key(ec.SECP256R1()), root),
               expired=_issue("Expired signer", ec.generate_private_key(ec.SECP256R1()), root,
                              not_after=NOW - timedelta(days=365)),
               stranger=_issue("Stranger", ec.generate_private_key(ec.SECP256R1()), None))


def _issue(name: str, key: PrivateKey, issuer: Issued | None, *, ca: bool = False,
           not_after: datetime | None = None) -> Issued:
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    not_after = not_after or NOW + timedelta(days=365)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_after - timedelta(days=730)).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                   crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    signing_key = issuer.key if issuer else key
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


class _Sha1Signer(XMLSigner):
    """signxml refuses to sign with SHA-1; every edXML signature seen uses it."""

    def check_deprecated_methods(self) -> None:
        pass


def sign(data: bytes, signer: Issued, *, default_namespace: bool = False,
         sha1: bool = False) -> bytes:
    """``data`` (an edXML message) signed by ``signer``, enveloped, whole document.

    The message's own Signature, if any, is replaced in place; otherwise the new
    one is the last child of edXMLHeader. ``default_namespace`` writes it as
    ``<Signature xmlns="…xmldsig#">``, as VNPT's test file does; ``sha1``
    signs with RSA-SHA1 and SHA-1 digests (an RSA signer), as the samples do.
    """
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    nsmap = {None: DSIG} if default_namespace else {"ds": DSIG}
    placeholder = etree.Element(f"{{{DSIG}}}Signature", nsmap=nsmap, Id="placeholder")
    old = [e for e in root.iter() if isinstance(e.tag, str)
           and etree.QName(e).localname == "Signature"]
    if old:
        placeholder.tail = old[0].tail
        old[0].getparent().replace(old[0], placeholder)
    else:
        header = next(e for e in root.iter() if isinstance(e.tag, str)
                      and etree.QName(e).localname == "edXMLHeader")
        header.append(placeholder)
    if sha1:  # as the samples: rsa-sha1 over sha1 digests
        xml_signer: XMLSigner = _Sha1Signer(signature_algorithm=SignatureMethod.RSA_SHA1,
                                            digest_algorithm="sha1", c14n_algorithm=C14N_10)
    else:
        algorithm = (SignatureMethod.RSA_SHA256 if isinstance(signer.key, rsa.RSAPrivateKey)
                     else SignatureMethod.ECDSA_SHA256)
        xml_signer = XMLSigner(signature_algorithm=algorithm, c14n_algorithm=C14N_10)
    xml_signer.namespaces = nsmap  # type: ignore[assignment]
    signed = etree.tostring(xml_signer.sign(root, key=signer.key, cert=[signer.cert]),
                            xml_declaration=True, encoding="UTF-8")
    return _resigned(signed, signer) if default_namespace else signed


def _resigned(data: bytes, signer: Issued) -> bytes:
    """``data`` with its SignatureValue made again over SignedInfo as serialised.

    signxml 5.2 canonicalises SignedInfo in place, where libxml2 writes a
    spurious ``xmlns=""`` into a default-namespace one, so its value is over
    other bytes than C14N 1.0 gives; the digests, over the whole document, are
    right.
    """
    root = etree.fromstring(data)
    signed_info = root.find(f".//{{{DSIG}}}SignedInfo")
    value = root.find(f".//{{{DSIG}}}SignatureValue")
    # canonicalised as the root of a document of its own: libxml2 gets a
    # subtree in a default namespace wrong (domain/exchange/edxml_signature.py)
    c14n = etree.tostring(etree.fromstring(etree.tostring(signed_info)), method="c14n")
    if isinstance(signer.key, rsa.RSAPrivateKey):
        raw = signer.key.sign(c14n, padding.PKCS1v15(), hashes.SHA256())
    else:  # XML-DSig's ECDSA value is r || s, not DER
        r, s = decode_dss_signature(signer.key.sign(c14n, ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    value.text = base64.b64encode(raw).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
