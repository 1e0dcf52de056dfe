"""The XML signature (XML-DSig) of an edXML message, checked and kept as evidence.

An edXML message may carry one ``Signature`` element, a child of
``edXMLHeader`` in every known sample, that signs the whole document minus
itself (one ``Reference URI=""`` with the enveloped-signature transform). The
ledger records what that signature says, whatever it says: ``valid`` under a
named certificate, ``invalid`` with the reason, or ``absent``. Whether an
invalid or absent signature is refused is a policy (edxml_signature_policy.py);
the check itself never refuses a message, only input that is not safe to read.

The signature is verified by signxml (lxml underneath); this module decides
what must hold and what is recorded (docs/edxml.md, "XML signatures"):

1. The message is parsed with entity expansion, DTD loading and network
   access off; a message that declares a DTD is refused (InvalidInputError):
   it is how XML bombs and external entities (XXE) arrive.
2. Exactly one ``Signature`` element, in the XML-DSig namespace or, as the
   axis delivers it, in the edXML namespace. The latter is put back in the
   XML-DSig namespace before verifying (``namespace_restored``), which
   rebuilds the element a signer wrote before the namespace was lost. No
   edXML content may sit inside it (signature wrapping).
3. The signer's certificate is the ``X509Certificate`` in ``KeyInfo`` that
   issued none of the others there; its key must verify ``SignatureValue`` over
   ``SignedInfo``, and each reference's digest must match (signxml).
4. The signature covers the whole document (``URI=""``, enveloped): a
   signature over parts leaves the rest of the message unsigned and is invalid.
5. The certificate is within its validity period at the time of the check.
6. Separately, when trust anchors are given, the certificate must chain to
   one of them (``chain_trusted``); revocation is not checked.

What a valid signature vouches for is ``signed_data``: the canonical bytes of
the document without its Signature element, and without comments (inclusive
C14N drops them). Content anywhere else, such as inside the Signature element,
is not signed; a reader must take the message from these bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from domain.errors import InvalidInputError

DSIG = "http://www.w3.org/2000/09/xmldsig#"
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
ENVELOPED = DSIG + "enveloped-signature"
XML = "http://www.w3.org/XML/1998/namespace"
# SHA-1 is what every known edXML signature uses; it is verified, and named
SHA1_BASED = frozenset({DSIG + "sha1", DSIG + "rsa-sha1", DSIG + "dsa-sha1",
                        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"})

# the element names of XML-DSig 1.0 (xmldsig-core, its schema); in the edXML
# namespace they are a Signature that lost its own, anything else is content
DSIG_ELEMENTS = frozenset("""
    Signature SignedInfo CanonicalizationMethod SignatureMethod HMACOutputLength Reference
    Transforms Transform XPath DigestMethod DigestValue SignatureValue KeyInfo KeyName
    KeyValue DSAKeyValue RSAKeyValue Modulus Exponent P Q G Y J Seed PgenCounter
    RetrievalMethod X509Data X509IssuerSerial X509IssuerName X509SerialNumber X509SKI
    X509SubjectName X509Certificate X509CRL PGPData PGPKeyID PGPKeyPacket SPKIData SPKISexp
    MgmtData Object Manifest SignatureProperties SignatureProperty""".split())

Status = Literal["valid", "invalid", "absent"]


@dataclass(frozen=True, kw_only=True)
class SigningCertificate:
    """The certificate whose key made the signature, as the evidence names it."""

    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    serial: str  # decimal
    sha256: str  # lowercase hex of SHA-256 over the certificate's DER
    not_before: str  # ISO 8601, UTC, to the second, "Z"
    not_after: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> SigningCertificate:
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                   serial=str(cert.serial_number), sha256=hashlib.sha256(der).hexdigest(),
                   not_before=_iso(cert.not_valid_before_utc, "seconds"),
                   not_after=_iso(cert.not_valid_after_utc, "seconds"))

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "issuer": self.issuer, "serial": self.serial,
                "sha256": self.sha256, "not_before": self.not_before,
                "not_after": self.not_after}


@dataclass(frozen=True, kw_only=True)
class SignedReference:
    """One ``Reference`` of SignedInfo: what it points to and how it is digested."""

    uri: str  # "" is the whole document
    transforms: tuple[str, ...]
    digest_method: str

    @property
    def whole_document(self) -> bool:
        return self.uri == "" and ENVELOPED in self.transforms

    def as_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "transforms": list(self.transforms),
                "digest_method": self.digest_method}


@dataclass(frozen=True, kw_only=True)
class SignatureEvidence:
    """What the XML signature of one message says, as recorded in its event."""

    status: Status
    reason: str | None = None  # why it is invalid
    checked_at: str  # ISO 8601, UTC, microseconds, "Z": when validity is judged
    namespace_restored: bool = False  # found in the edXML namespace, checked as XML-DSig
    certificate: SigningCertificate | None = None
    canonicalization: str | None = None
    signature_method: str | None = None
    references: tuple[SignedReference, ...] = ()
    chain_trusted: bool | None = None  # None: no trust anchors were given
    trust_reason: str | None = None  # why the chain is not trusted
    # valid only: the bytes signed (see the module's docstring), and their SHA-256
    signed_data: bytes | None = field(default=None, repr=False)

    @property
    def covers(self) -> str | None:
        if not self.references:
            return None
        return "document" if any(r.whole_document for r in self.references) else "parts"

    @property
    def sha1(self) -> bool:
        """Whether a SHA-1 based algorithm was used (collisions are practical)."""
        used = {self.signature_method} | {r.digest_method for r in self.references}
        return bool(used & SHA1_BASED)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, every key always present (docs/edxml.md, "XML signatures")."""
        return {
            "status": self.status,
            "reason": self.reason,
            "checked_at": self.checked_at,
            "namespace_restored": self.namespace_restored,
            "certificate": self.certificate.as_dict() if self.certificate else None,
            "canonicalization": self.canonicalization,
            "signature_method": self.signature_method,
            "references": [r.as_dict() for r in self.references],
            "covers": self.covers,
            "sha1": self.sha1,
            "chain_trusted": self.chain_trusted,
            "trust_reason": self.trust_reason,
            "signed_sha256": (hashlib.sha256(self.signed_data).hexdigest()
                              if self.signed_data is not None else None),
        }

    def recorded(self) -> dict[str, Any]:
        """``as_dict`` as the commands' ``source.signature`` holds it: texts from the
        message and its certificate with control and bidirectional characters
        written ``<U+XXXX>``, each cut at 1,000 characters (the last one ``…``), and
        at most 100 references of 16 transforms each."""
        found: dict[str, Any] = _recorded(self.as_dict())
        return found


# What may be recorded of texts taken from the message and its certificate
# (domain/exchange/commands.py ``XmlSignature``): no control or bidirectional
# character as such, at most this many characters, references and transforms
RECORDED_TEXT = 1000
RECORDED_REFERENCES = 100
RECORDED_TRANSFORMS = 16
_UNRECORDABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _recorded(value: Any) -> Any:
    """``value`` (from ``as_dict``) as the ledger can hold it in a signed command."""
    if isinstance(value, str):
        shown = _UNRECORDABLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", value)
        return shown if len(shown) <= RECORDED_TEXT else shown[:RECORDED_TEXT - 1] + "…"
    if isinstance(value, dict):
        found = {k: _recorded(v) for k, v in value.items()}
        if "transforms" in found:
            found["transforms"] = found["transforms"][:RECORDED_TRANSFORMS]
        if "references" in found:
            found["references"] = found["references"][:RECORDED_REFERENCES]
        return found
    if isinstance(value, list):
        return [_recorded(v) for v in value]
    return value


def check_xml_signature(data: bytes, trusted: Sequence[bytes] = (), *,
                        at: datetime | None = None) -> SignatureEvidence:
    """Check the XML signature of the edXML message ``data`` (its bytes as received).

    ``trusted`` are PEM or DER certificates of the roots the signer's
    certificate should chain to; ``at`` is when to judge certificate validity
    (now). Returns the evidence; raises InvalidInputError only for input that is
    not safe to read (not well-formed, or declaring a DTD).
    """
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    root = _parse(data)
    found = [e for e in root.iter() if isinstance(e.tag, str) and _is_signature(e)]
    if not found:
        return SignatureEvidence(status="absent", checked_at=_iso(moment))
    if len(found) > 1:
        return SignatureEvidence(status="invalid", checked_at=_iso(moment),
                                 reason=f"{len(found)} Signature elements; one is expected")
    if found[0] is root:
        return SignatureEvidence(status="invalid", checked_at=_iso(moment),
                                 reason="the Signature element is the whole document, not "
                                        "an edXML message signed (enveloped)")
    wrapped = _edxml_inside(found[0])
    signature, restored = _in_dsig_namespace(found[0])
    return _Check(root, signature, restored, moment).run(trusted, wrapped)


@dataclass
class _Check:
    """One check, collecting what the evidence names as it goes."""

    root: Any
    signature: Any
    restored: bool
    moment: datetime
    facts: dict[str, Any] = field(default_factory=dict)

    def run(self, trusted: Sequence[bytes], wrapped: str | None) -> SignatureEvidence:
        self._describe()
        try:
            leaf, others = _certificates(self.signature)
        except ValueError as exc:
            return self._invalid(str(exc))
        self.facts["certificate"] = SigningCertificate.of(leaf)
        # 2. no message content inside the Signature, which no digest covers
        if wrapped is not None:
            return self._invalid(wrapped)
        # 3. the signature and every digest, with the certificate's key; its
        #    validity is judged below, at the moment of the check, not by signxml
        try:
            results = _verify(self.root, leaf)
        except ValueError as exc:
            return self._invalid(str(exc))
        # 4. the whole document is signed
        whole = [signed for reference, signed in results if reference.whole_document]
        if not whole:
            return self._invalid("the signature does not cover the whole message "
                                 '(no Reference URI="" with the enveloped-signature transform)')
        # 5. the certificate is valid now
        if not leaf.not_valid_before_utc <= self.moment <= leaf.not_valid_after_utc:
            period = (f"{_iso(leaf.not_valid_before_utc, 'seconds')} to "
                      f"{_iso(leaf.not_valid_after_utc, 'seconds')}")
            return self._invalid(f"the signing certificate is not valid at {_iso(self.moment)} "
                                 f"(valid from {period}); the signature itself verifies")
        chain_trusted, trust_reason = _chain(leaf, others, trusted, self.moment)
        return SignatureEvidence(status="valid", checked_at=_iso(self.moment),
                                 namespace_restored=self.restored, chain_trusted=chain_trusted,
                                 trust_reason=trust_reason, signed_data=whole[0],
                                 **self.facts)

    def _invalid(self, reason: str) -> SignatureEvidence:
        return SignatureEvidence(status="invalid", reason=reason, checked_at=_iso(self.moment),
                                 namespace_restored=self.restored, **self.facts)

    def _describe(self) -> None:
        """What SignedInfo claims: algorithms and references (signed once verified)."""
        info = self.signature.find(f"{{{DSIG}}}SignedInfo")
        if info is None:
            return
        method = info.find(f"{{{DSIG}}}CanonicalizationMethod")
        self.facts["canonicalization"] = None if method is None else method.get("Algorithm")
        method = info.find(f"{{{DSIG}}}SignatureMethod")
        self.facts["signature_method"] = None if method is None else method.get("Algorithm")
        self.facts["references"] = tuple(_reference(r) for r in
                                         info.findall(f"{{{DSIG}}}Reference"))


def _parse(data: bytes) -> Any:
    # 1. no entity expansion, no DTD, no network; a DTD is refused outright
    parser = _safe_parser()
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidInputError(f"not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise InvalidInputError("the message declares a DTD (<!DOCTYPE …>): refused, as XML "
                                "bombs and external entities come that way")
    return root


def _safe_parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False)


def _is_signature(element: Any) -> bool:
    name = etree.QName(element)
    return name.localname == "Signature" and name.namespace in (DSIG, EDXML, None)


def _edxml_inside(signature: Any) -> str | None:
    """Why the Signature element holds message content, if it does: edXML
    elements there are outside what is signed, where a reader looking for the
    first ``Subject`` may still find them (signature wrapping)."""
    for element in signature.iterdescendants():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element)
        if name.namespace in (EDXML, None) and name.localname not in DSIG_ELEMENTS:
            return (f"the Signature element holds message content ({name.localname}, line "
                    f"{element.sourceline}), which no signature covers: a signature "
                    f"wrapping attempt")
    return None


def _in_dsig_namespace(signature: Any) -> tuple[Any, bool]:
    """2. The Signature in the XML-DSig namespace: as found, or rebuilt in place
    with that namespace as the default one, as a signer writes it."""
    namespace = etree.QName(signature).namespace
    if namespace == DSIG:
        return signature, False
    # every prefix in scope is declared again, so that no descendant made
    # apart from the tree gets a prefix of lxml's invention (ns0:)
    prefixed = {p: uri for p, uri in signature.nsmap.items() if p is not None}
    rebuilt = etree.Element(f"{{{DSIG}}}Signature", nsmap={**prefixed, None: DSIG})
    _copy_into(signature, rebuilt, namespace)
    rebuilt.tail = signature.tail
    signature.getparent().replace(signature, rebuilt)
    return rebuilt, True


def _copy_into(source: Any, target: Any, namespace: str | None) -> None:
    for name, value in source.attrib.items():
        target.set(name, value)
    target.text = source.text
    for child in source:
        if not isinstance(child.tag, str):  # a comment or processing instruction
            copied = etree.Comment(child.text) if isinstance(child, etree._Comment) \
                else etree.ProcessingInstruction(child.target, child.text)
            target.append(copied)
        else:
            name = etree.QName(child)
            tag = f"{{{DSIG}}}{name.localname}" if name.namespace == namespace else child.tag
            declared = {p: uri for p, uri in child.nsmap.items()
                        if p is not None and source.nsmap.get(p) != uri}
            copied = etree.SubElement(target, tag, nsmap=declared)
            _copy_into(child, copied, namespace)
        copied.tail = child.tail


def _reference(element: Any) -> SignedReference:
    transforms = tuple(t.get("Algorithm") or "" for t in
                       element.findall(f"{{{DSIG}}}Transforms/{{{DSIG}}}Transform"))
    method = element.find(f"{{{DSIG}}}DigestMethod")
    return SignedReference(uri=element.get("URI", ""), transforms=transforms,
                           digest_method="" if method is None else method.get("Algorithm", ""))


def _certificates(signature: Any) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The signer's certificate (the one that issued none of the others) and the rest."""
    texts = [e.text or "" for e in
             signature.findall(f"{{{DSIG}}}KeyInfo/{{{DSIG}}}X509Data/{{{DSIG}}}X509Certificate")]
    if not texts:
        raise ValueError("the signature carries no X509Certificate: its signer cannot be named")
    certs = []
    for text in texts:
        try:
            certs.append(x509.load_der_x509_certificate(_base64(text)))
        except ValueError as exc:
            raise ValueError(f"an X509Certificate of the signature cannot be read: {exc}") from None
    leaves = [c for c in certs if not any(o is not c and o.issuer == c.subject for o in certs)]
    leaf = leaves[0] if len(leaves) == 1 else certs[0]
    return leaf, [c for c in certs if c is not leaf]


def _base64(text: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


def _verify(root: Any, leaf: x509.Certificate) -> list[tuple[SignedReference, bytes]]:
    """signxml's verification of SignatureValue and every Reference with ``leaf``'s
    key: each Reference of the verified SignedInfo, with the bytes it signs."""
    from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
    from signxml.exceptions import SignXMLException
    from signxml.verifier import SignatureConfiguration

    config = SignatureConfiguration(
        expect_references=True,
        signature_methods=frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC")),
        digest_algorithms=frozenset(DigestAlgorithm),
        # a Reference whose last transform leaves a node-set (the 2019 download:
        # enveloped-signature alone) is made octets with C14N 1.0, as XML-DSig
        # says; signxml would use 1.1
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
        # signxml would refuse an expired certificate before verifying; the
        # validity period is judged by the caller, so it is judged here within it
        verification_time=leaf.not_valid_before_utc)
    try:
        results = _verifier()().verify(root, x509_cert=leaf, parser=_safe_parser(),
                                       expect_config=config)
    except (SignXMLException, etree.LxmlError) as exc:
        raise ValueError(_reason(exc)) from None
    results = results if isinstance(results, list) else [results]
    if not results:
        raise ValueError("SignedInfo has no Reference: the signature signs nothing")
    # the results come in the order of SignedInfo's References, which they do not name
    signed_info = results[0].signature_xml.find(f"{{{DSIG}}}SignedInfo")
    references = [_reference(r) for r in signed_info.findall(f"{{{DSIG}}}Reference")]
    return [(reference, result.signed_data) for reference, result in zip(references, results,
                                                                          strict=True)]


@cache
def _verifier() -> type[Any]:
    """signxml's XMLVerifier, canonicalising an element inside a document right.

    libxml2 (2.14 at least, under lxml 6) writes a spurious ``xmlns=""`` on
    the grandchildren of an element in a default namespace when it
    canonicalises (C14N 1.0) a subtree rather than a whole document: the
    SignedInfo of ``<Signature xmlns="…xmldsig#">``, as VNPT's signer writes it,
    comes out wrong and no such signature would verify. Made the root of a
    document of its own, with every namespace in scope declared on it (lxml's
    ``tostring`` of an element does that) and the xml:* attributes it inherits,
    the element canonicalises as C14N 1.0 says the subtree should.
    """
    from signxml.verifier import XMLVerifier

    class Verifier(XMLVerifier):
        def _c14n(self, nodes: Any, algorithm: Any,
                  inclusive_ns_prefixes: Any = None) -> bytes:
            exclusive = algorithm.value.startswith("http://www.w3.org/2001/10/xml-exc-c14n#")
            if not exclusive and not isinstance(nodes, list) and nodes.getparent() is not None:
                nodes = _rooted(nodes)
            c14n: bytes = super()._c14n(nodes, algorithm, inclusive_ns_prefixes)
            return c14n

    return Verifier


def _rooted(element: Any) -> Any:
    """A copy of ``element`` as the root of its own document (see ``_verifier``)."""
    copy = etree.fromstring(etree.tostring(element), parser=_safe_parser())
    for ancestor in element.iterancestors():
        for name, value in ancestor.attrib.items():
            if name.startswith(f"{{{XML}}}") and name not in copy.attrib:
                copy.set(name, value)
    return copy


def _reason(exc: Exception) -> str:
    from signxml.exceptions import InvalidDigest, InvalidSignature

    if isinstance(exc, InvalidDigest):
        return f"a digest does not match: the message was changed after signing ({exc})"
    if isinstance(exc, InvalidSignature):
        return f"the SignatureValue does not verify over SignedInfo ({exc})"
    if isinstance(exc, etree.DocumentInvalid):
        return f"not an XML-DSig Signature element: {exc}"
    return str(exc) or type(exc).__name__


def _chain(leaf: x509.Certificate, others: list[x509.Certificate], trusted: Sequence[bytes],
           moment: datetime) -> tuple[bool | None, str | None]:
    """6. Whether ``leaf`` chains, through ``others``, to a ``trusted`` certificate."""
    from cryptography.x509 import verification

    anchors = [c for data in trusted for c in _read_certificates(data)]
    if not anchors:
        return None, None
    builder = (verification.PolicyBuilder().store(verification.Store(anchors)).time(moment)
               .extension_policies(ee_policy=verification.ExtensionPolicy.permit_all(),
                                   ca_policy=verification.ExtensionPolicy.webpki_defaults_ca()))
    try:
        builder.build_client_verifier().verify(leaf, others)
    except verification.VerificationError as exc:
        return False, f"the signing certificate does not chain to a trusted one: {exc}"
    return True, None


def _read_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise InvalidInputError(f"not an X.509 certificate (PEM or DER): {exc}") from None


def _iso(moment: datetime, timespec: str = "microseconds") -> str:
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
