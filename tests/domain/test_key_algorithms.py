"""RSA (PKCS#1 v1.5 and PSS), ECDSA P-256 / P-384 and Ed25519 keys: each signs and
verifies under exactly its own scheme, in envelopes and in the signature digests."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from domain.errors import InvalidInputError, InvalidSignatureError
from domain.evidence.envelope import COMMAND_TYPE, Envelope, pae
from domain.evidence.keys import (
    ECDSA_P256_SHA256,
    ECDSA_P384_SHA384,
    ED25519,
    RSA_PKCS1_SHA256,
    RSA_PSS_SHA256,
    KeySigner,
    PublicKey,
    key_id_for,
    public_key_for,
    public_key_from_pem,
)
from domain.evidence.preverify import signature_digest
from tests.pki import KeyKind, _key

SCHEMES: list[tuple[KeyKind, str]] = [
    ("rsa", RSA_PKCS1_SHA256), ("rsa", RSA_PSS_SHA256), ("p256", ECDSA_P256_SHA256),
    ("p384", ECDSA_P384_SHA384), ("ed25519", ED25519)]
PAYLOAD = '{"type":"document.issue","x":"Hà Nội"}'.encode()


def signer(kind: KeyKind, algorithm: str, label: str = "algorithms") -> KeySigner:
    return KeySigner(_key(label, kind), algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "algorithm"), SCHEMES)
def test_each_algorithm_signs_and_verifies_through_json(kind: KeyKind, algorithm: str) -> None:
    s = signer(kind, algorithm)
    assert s.public_key.algorithm == algorithm
    back = Envelope.from_json(Envelope.sign(COMMAND_TYPE, PAYLOAD, s).to_json())
    back.verify_with(PublicKey.from_spec(s.public_key.to_spec()))
    tampered = Envelope(payload_type=COMMAND_TYPE, payload=PAYLOAD + b" ",
                        signatures=back.signatures)
    with pytest.raises(InvalidSignatureError):
        tampered.verify_with(s.public_key)


@pytest.mark.parametrize(("kind", "algorithm"), SCHEMES)
def test_signer_from_pem_keeps_key_and_scheme(kind: KeyKind, algorithm: str) -> None:
    key = _key("algorithms", kind)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    again = KeySigner.from_pem(pem, algorithm)
    assert again.public_key == signer(kind, algorithm).public_key
    again.public_key.verify(again.sign(b"m"), b"m")


def test_default_schemes_by_key_type() -> None:
    assert signer("rsa", "").algorithm == RSA_PKCS1_SHA256
    assert signer("p256", "").algorithm == ECDSA_P256_SHA256
    assert signer("p384", "").algorithm == ECDSA_P384_SHA384
    assert signer("ed25519", "").algorithm == ED25519


def test_rsa_1024_key_is_refused() -> None:
    weak = _key("algorithms", "rsa1024").public_key()
    with pytest.raises(InvalidInputError, match="1024 bits"):
        public_key_for(weak, RSA_PKCS1_SHA256)
    pem = weak.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InvalidInputError, match="1024 bits"):
        public_key_from_pem(pem)
    spec = signer("rsa", RSA_PKCS1_SHA256).public_key.to_spec()
    der = weak.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    spec |= {"public_key": base64.b64encode(der).decode(), "keyid": key_id_for(der)}
    with pytest.raises(InvalidInputError, match="1024 bits"):
        PublicKey.from_spec(spec)


def test_pkcs1_signature_presented_as_pss_is_refused() -> None:
    pkcs1, pss = signer("rsa", RSA_PKCS1_SHA256), signer("rsa", RSA_PSS_SHA256)
    assert pkcs1.keyid == pss.keyid  # one key, two schemes: the record says which
    env = Envelope.sign(COMMAND_TYPE, PAYLOAD, pkcs1)
    with pytest.raises(InvalidSignatureError):
        env.verify_with(pss.public_key)
    with pytest.raises(InvalidSignatureError):
        Envelope.sign(COMMAND_TYPE, PAYLOAD, pss).verify_with(pkcs1.public_key)


def test_pss_with_another_salt_length_is_refused() -> None:
    pss = signer("rsa", RSA_PSS_SHA256)
    key = _key("algorithms", "rsa")
    other = key.sign(pae(COMMAND_TYPE, PAYLOAD),  # type: ignore[union-attr,call-arg]
                     padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=0),
                     hashes.SHA256())
    with pytest.raises(InvalidSignatureError):
        pss.public_key.verify(other, pae(COMMAND_TYPE, PAYLOAD))


def test_ecdsa_signature_with_another_hash_is_refused() -> None:
    p384 = signer("p384", ECDSA_P384_SHA384)
    key = _key("algorithms", "p384")
    sha256 = key.sign(b"m", ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]
    with pytest.raises(InvalidSignatureError):
        p384.public_key.verify(sha256, b"m")


@pytest.mark.parametrize(("kind", "algorithm"), SCHEMES)
def test_signature_by_another_key_is_refused(kind: KeyKind, algorithm: str) -> None:
    mine, theirs = signer(kind, algorithm), signer(kind, algorithm, "someone else")
    env = Envelope.sign(COMMAND_TYPE, PAYLOAD, theirs)
    forged = Envelope(payload_type=COMMAND_TYPE, payload=PAYLOAD,
                      signatures=(type(env.signatures[0])(keyid=mine.keyid,
                                                          sig=env.signatures[0].sig),))
    with pytest.raises(InvalidSignatureError):
        forged.verify_with(mine.public_key)


@pytest.mark.parametrize(("kind", "algorithm"),
                         [("p256", ED25519), ("ed25519", RSA_PKCS1_SHA256),
                          ("p384", ECDSA_P256_SHA256), ("rsa", ECDSA_P256_SHA256)])
def test_key_labelled_with_another_algorithm_is_refused(kind: KeyKind, algorithm: str) -> None:
    with pytest.raises(InvalidInputError):
        public_key_for(_key("algorithms", kind).public_key(), algorithm)


def test_signature_digests_of_variable_length_signatures_differ() -> None:
    s = signer("p256", ECDSA_P256_SHA256)
    sig = s.sign(b"message")
    spki = s.public_key.spki_der
    # moving a byte between the signature and the message names another triple
    assert signature_digest(spki, b"message", sig) != signature_digest(
        spki, sig[-1:] + b"message", sig[:-1])
