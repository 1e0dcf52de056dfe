"""The XML signature of edXML messages: what is valid, invalid or absent, and why."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from lxml import etree

from domain.errors import InvalidInputError
from domain.exchange.edxml_signature import DSIG, EDXML, check_xml_signature
from domain.exchange.edxml_signature_policy import EdxmlSignatureRefused, check_policy
from tests.edxml_signing import NOW, SAMPLES, pki, sample, sign

DOCUMENT = "document-new-with-attachment.edxml"
DOCUMENTS = sorted(p.name for p in SAMPLES.glob("document-*.edxml"))
ALL_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.edxml"))
SUBJECT = f"{{{EDXML}}}Subject"


@pytest.fixture(scope="module")
def signed() -> bytes:
    return sign(sample(DOCUMENT), pki().rsa)


def subject_of(data: bytes) -> str:
    """What a naive reader takes for the subject: the first Subject in the document."""
    element = etree.fromstring(data).find(f".//{SUBJECT}")
    assert element is not None
    return str(element.text)


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa"])
def test_signed_message_is_valid_under_its_certificate(algorithm: str) -> None:
    signer = getattr(pki(), algorithm)
    evidence = check_xml_signature(sign(sample(DOCUMENT), signer), [pki().root.pem])
    assert evidence.status == "valid" and evidence.reason is None
    assert evidence.certificate is not None
    assert evidence.certificate.subject == signer.cert.subject.rfc4514_string()
    assert evidence.certificate.issuer == "CN=Test Root CA,C=VN"
    assert evidence.certificate.serial == str(signer.cert.serial_number)
    assert evidence.chain_trusted is True and evidence.trust_reason is None
    assert evidence.covers == "document" and not evidence.sha1
    assert evidence.signature_method.endswith(f"{algorithm}-sha256")  # type: ignore[union-attr]
    assert evidence.references[0].uri == ""
    # what the signature vouches for: the message without its Signature
    assert evidence.signed_data is not None
    assert subject_of(evidence.signed_data) == subject_of(sample(DOCUMENT))
    assert etree.fromstring(evidence.signed_data).find(f".//{{{DSIG}}}Signature") is None


def test_sha1_signature_as_in_the_samples_verifies_and_is_flagged() -> None:
    evidence = check_xml_signature(sign(sample(DOCUMENT), pki().rsa, sha1=True))
    assert evidence.status == "valid" and evidence.sha1
    assert evidence.signature_method == f"{DSIG}rsa-sha1"
    assert evidence.references[0].digest_method == f"{DSIG}sha1"


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_every_sample_signed_afresh_verifies(name: str) -> None:
    assert check_xml_signature(sign(sample(name), pki().ecdsa)).status == "valid"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_public_samples_own_signatures_are_invalid(name: str) -> None:
    evidence = check_xml_signature(sample(name))
    assert evidence.status == "invalid"
    assert evidence.reason and "X509Certificate" in evidence.reason  # truncated in the SDK
    assert evidence.namespace_restored  # their Signature lost its namespace
    assert evidence.signature_method == f"{DSIG}rsa-sha1" and evidence.sha1
    assert evidence.signed_data is None


def test_message_without_signature_is_absent() -> None:
    evidence = check_xml_signature(sample("status-01-arrived.edxml"), [pki().root.pem])
    assert evidence.status == "absent"
    assert evidence.as_dict() | {"checked_at": None} == {
        "status": "absent", "reason": None, "checked_at": None, "namespace_restored": False,
        "certificate": None, "canonicalization": None, "signature_method": None,
        "references": [], "covers": None, "sha1": False, "chain_trusted": None,
        "trust_reason": None, "signed_sha256": None}


def test_subject_changed_after_signing_is_invalid(signed: bytes) -> None:
    original = subject_of(signed).encode()
    tampered = signed.replace(original, "Công văn giả mạo".encode())
    assert tampered != signed
    evidence = check_xml_signature(tampered)
    assert evidence.status == "invalid"
    assert "digest does not match" in (evidence.reason or "")
    assert evidence.certificate is not None  # the claimed signer is still named
    assert evidence.signed_data is None


def test_trace_header_appended_in_transit_invalidates_the_signature(signed: bytes) -> None:
    # what the axis did to the 2019 download: the signature covers TraceHeaderList
    root = etree.fromstring(signed)
    trace = root.find(f".//{{{EDXML}}}TraceHeader")
    assert trace is not None
    trace.addnext(etree.fromstring(etree.tostring(trace)))
    assert check_xml_signature(etree.tostring(root)).status == "invalid"


def test_signature_wrapping_is_not_accepted_as_valid_content(signed: bytes) -> None:
    # The enveloped transform drops the Signature element before digesting, so
    # content hidden inside it leaves the digest intact. The attacker moves the
    # Signature first in edXMLHeader and puts a forged MessageHeader in an Object.
    root = etree.fromstring(signed)
    signature = root.find(f".//{{{DSIG}}}Signature")
    assert signature is not None
    header = signature.getparent()
    signature.tail = None
    header.insert(0, signature)
    forged = etree.fromstring(etree.tostring(root.find(f".//{{{EDXML}}}MessageHeader")))
    forged.find(f".//{SUBJECT}").text = "Công văn giả mạo"
    etree.SubElement(signature, f"{{{DSIG}}}Object").append(forged)
    wrapped = etree.tostring(root)
    assert subject_of(wrapped) == "Công văn giả mạo"  # the naive reader is fooled

    evidence = check_xml_signature(wrapped)
    assert evidence.status == "invalid"
    assert "wrapping" in (evidence.reason or "")
    assert evidence.signed_data is None


def test_signature_over_part_of_the_message_is_not_valid() -> None:
    root = etree.fromstring(sample("status-01-arrived.edxml"))
    header = root.find(f".//{{{EDXML}}}MessageHeader")
    assert header is not None
    header.set("Id", "header")  # only this is signed; the rest could say anything
    from signxml import XMLSigner
    from signxml.algorithms import SignatureMethod

    signer = XMLSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256)
    data = etree.tostring(signer.sign(root, key=pki().ecdsa.key, cert=[pki().ecdsa.cert],
                                      reference_uri="#header"))
    evidence = check_xml_signature(data)
    assert evidence.status == "invalid" and evidence.covers == "parts"
    assert "does not cover the whole message" in (evidence.reason or "")


def test_reference_with_the_enveloped_transform_alone_verifies() -> None:
    # as the 2019 download: no canonicalization transform after enveloped-signature
    from signxml import XMLSigner
    from signxml.algorithms import SignatureMethod

    signer = XMLSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256,
                       c14n_algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
    root = etree.fromstring(sample(DOCUMENT))
    old = root.find(f".//{{{EDXML}}}Signature")
    old.getparent().remove(old)
    data = etree.tostring(signer.sign(root, key=pki().ecdsa.key, cert=[pki().ecdsa.cert],
                                      exclude_c14n_transform_element=True))
    evidence = check_xml_signature(data)
    assert evidence.references[0].transforms == (f"{DSIG}enveloped-signature",)
    assert evidence.status == "valid"


def test_signature_by_untrusted_certificate_is_valid_but_not_trusted() -> None:
    data = sign(sample(DOCUMENT), pki().stranger)
    evidence = check_xml_signature(data, [pki().root.pem])
    assert evidence.status == "valid"
    assert evidence.chain_trusted is False and evidence.trust_reason
    assert evidence.certificate and evidence.certificate.subject == "CN=Stranger,C=VN"
    assert check_xml_signature(data).chain_trusted is None  # no anchors: not judged
    pinned = check_xml_signature(data, [pki().stranger.pem])  # its own certificate trusted
    assert pinned.chain_trusted is True


def test_expired_certificate_is_reported() -> None:
    evidence = check_xml_signature(sign(sample(DOCUMENT), pki().expired), [pki().root.pem])
    assert evidence.status == "invalid"
    assert "not valid at" in (evidence.reason or "")
    assert "the signature itself verifies" in (evidence.reason or "")
    assert evidence.certificate and evidence.certificate.not_after < evidence.checked_at
    # judged at a time within its validity, the same signature is valid
    earlier = check_xml_signature(sign(sample(DOCUMENT), pki().expired),
                                  at=NOW - timedelta(days=400))
    assert earlier.status == "valid"


def test_signature_that_lost_its_namespace_in_transit_is_restored_and_checked() -> None:
    # VNPT's signer writes <Signature xmlns="…xmldsig#">; the axis drops the xmlns
    data = sign(sample(DOCUMENT), pki().rsa, default_namespace=True)
    assert check_xml_signature(data).status == "valid"  # C14N of a default-namespace subtree
    stripped = data.replace(f' xmlns="{DSIG}"'.encode(), b"")
    assert stripped.count(DSIG.encode()) == data.count(DSIG.encode()) - 1
    evidence = check_xml_signature(stripped)
    assert evidence.status == "valid" and evidence.namespace_restored
    assert evidence.signed_data == check_xml_signature(data).signed_data


def test_restored_signature_keeps_the_prefixes_it_declares() -> None:
    # an exclusive-C14N InclusiveNamespaces, declared on the element itself, is
    # signed as written: a prefix of lxml's invention would change SignedInfo
    from domain.exchange.edxml_signature import _in_dsig_namespace

    ec = "http://www.w3.org/2001/10/xml-exc-c14n#"
    root = etree.fromstring(
        f'<edXML xmlns="{EDXML}"><Signature><SignedInfo><CanonicalizationMethod '
        f'Algorithm="{ec}"><ec:InclusiveNamespaces xmlns:ec="{ec}" PrefixList="edXML"/>'
        f'</CanonicalizationMethod></SignedInfo></Signature></edXML>'.encode())
    signature, restored = _in_dsig_namespace(root[0])
    assert restored and signature is root[0]
    assert etree.tostring(signature).decode() == (
        f'<Signature xmlns="{DSIG}"><SignedInfo><CanonicalizationMethod Algorithm="{ec}">'
        f'<ec:InclusiveNamespaces xmlns:ec="{ec}" PrefixList="edXML"/>'
        f'</CanonicalizationMethod></SignedInfo></Signature>')


def test_two_signatures_are_invalid(signed: bytes) -> None:
    root = etree.fromstring(signed)
    signature = root.find(f".//{{{DSIG}}}Signature")
    assert signature is not None
    signature.addnext(etree.fromstring(etree.tostring(signature)))
    evidence = check_xml_signature(etree.tostring(root))
    assert evidence.status == "invalid" and "2 Signature elements" in (evidence.reason or "")


def test_signature_alone_is_not_a_signed_message() -> None:
    evidence = check_xml_signature(f'<Signature xmlns="{DSIG}"/>'.encode())
    assert evidence.status == "invalid" and "whole document" in (evidence.reason or "")


def test_external_entity_in_signed_message_is_not_read(signed: bytes, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = signed.split(b"?>", 1)[1].replace(
        b"<edXML:Description>", b"<edXML:Description>&xxe;", 1)
    hostile = (f'<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY xxe SYSTEM '
               f'"file://{secret}">]>').encode() + body
    with pytest.raises(InvalidInputError, match="DTD") as refused:
        check_xml_signature(hostile)
    assert "TOP-SECRET" not in str(refused.value)


def test_entity_expansion_bomb_is_refused() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'.encode()
                       for p, c in zip("abcdefgh", "bcdefghi", strict=True))
            + b']><edXML xmlns="' + EDXML.encode() + b'">&i;</edXML>')
    # libxml2 stops the amplification itself; a smaller one would meet the DTD refusal
    with pytest.raises(InvalidInputError, match="DTD|amplification"):
        check_xml_signature(bomb)


def test_not_well_formed_xml_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not well-formed"):
        check_xml_signature(b"<edXML><unclosed></edXML>")


def test_evidence_is_json_with_stable_keys(signed: bytes) -> None:
    evidence = check_xml_signature(signed, [pki().root.pem])
    recorded = json.loads(json.dumps(evidence.as_dict()))
    assert list(recorded) == [
        "status", "reason", "checked_at", "namespace_restored", "certificate",
        "canonicalization", "signature_method", "references", "covers", "sha1",
        "chain_trusted", "trust_reason", "signed_sha256"]
    assert list(recorded["certificate"]) == ["subject", "issuer", "serial", "sha256",
                                             "not_before", "not_after"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", recorded["checked_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                        recorded["certificate"]["not_after"])
    assert len(recorded["signed_sha256"]) == 64


@pytest.mark.parametrize(("policy", "status", "refused"), [
    ("record", "invalid", False), ("record", "absent", False),
    ("refuse-invalid", "invalid", True), ("refuse-invalid", "absent", False),
    ("require-valid", "invalid", True), ("require-valid", "absent", True),
    ("require-valid", "valid", False), ("refuse-invalid", "valid", False),
])
def test_signature_policy(policy, status, refused, signed: bytes) -> None:
    data = {"valid": signed, "absent": sample("status-01-arrived.edxml"),
            "invalid": sample(DOCUMENT)}[status]
    evidence = check_xml_signature(data)
    assert evidence.status == status
    if refused:
        with pytest.raises(EdxmlSignatureRefused):
            check_policy(evidence, policy)
    else:
        check_policy(evidence, policy)
