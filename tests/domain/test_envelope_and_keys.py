"""DSSE envelopes, public keys and an agency's key history."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from domain.errors import (
    DuplicateError,
    InvalidEnvelopeError,
    InvalidInputError,
    InvalidSignatureError,
    KeyNotActiveError,
    KeyRevokedError,
    NotFoundError,
    UnknownKeyError,
    VerificationError,
)
from domain.evidence.envelope import COMMAND_TYPE, Envelope, Signature, pae
from domain.evidence.keys import Ed25519Signer, PublicKey, key_id_for
from domain.exchange.agency import Agency, KeyEntry
from tests.domain.helpers import T0, at, replay

# ---- PAE ---------------------------------------------------------------------


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("tÿpe", "đ".encode()) == "DSSEv1 5 tÿpe 2 đ".encode()
    assert pae("", b"") == b"DSSEv1 0  0 "


# ---- sign / verify -------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer.generate()


def test_sign_verify_round_trip_through_json(signer: Ed25519Signer) -> None:
    payload = '{"type":"document.issue","x":"Hà Nội"}'.encode()
    env = Envelope.sign(COMMAND_TYPE, payload, signer)
    raw = env.to_json()
    doc = json.loads(raw)
    assert doc["payloadType"] == COMMAND_TYPE
    assert base64.b64decode(doc["payload"]) == payload
    assert doc["signatures"][0]["keyid"] == signer.keyid
    back = Envelope.from_json(raw)
    assert back == env
    back.verify_with(signer.public_key)
    # the signature is over the PAE, not the bare payload
    signer.public_key.verify(env.signatures[0].sig, pae(COMMAND_TYPE, payload))
    with pytest.raises(InvalidSignatureError):
        signer.public_key.verify(env.signatures[0].sig, payload)


def test_tampered_payload_fails(signer: Ed25519Signer) -> None:
    env = Envelope.sign(COMMAND_TYPE, b'{"a":1}', signer)
    doc = env.to_dict()
    doc["payload"] = base64.b64encode(b'{"a":2}').decode()
    with pytest.raises(InvalidSignatureError):
        Envelope.from_dict(doc).verify_with(signer.public_key)


def test_changed_payload_type_fails(signer: Ed25519Signer) -> None:
    env = Envelope.sign(COMMAND_TYPE, b"{}", signer)
    forged = Envelope(payload_type="other", payload=env.payload, signatures=env.signatures)
    with pytest.raises(InvalidSignatureError):
        forged.verify_with(signer.public_key)


def test_signature_by_another_key_fails(signer: Ed25519Signer) -> None:
    other = Ed25519Signer.generate()
    env = Envelope.sign(COMMAND_TYPE, b"{}", other)
    with pytest.raises(InvalidSignatureError, match="no signature"):
        env.verify_with(signer.public_key)
    # a signature claiming signer's keyid but made by another key
    lying = Envelope(payload_type=COMMAND_TYPE, payload=b"{}",
                     signatures=(Signature(keyid=signer.keyid, sig=env.signatures[0].sig),))
    with pytest.raises(InvalidSignatureError):
        lying.verify_with(signer.public_key)
    assert issubclass(InvalidSignatureError, VerificationError)


def _good(signer: Ed25519Signer) -> dict:
    return Envelope.sign(COMMAND_TYPE, b"{}", signer).to_dict()


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"\xff\xfe", b"[1,2]", b'"text"', b"{}", b"",
     b'{"payloadType":"t","payload":"e30=","signatures":[]}',
     b'{"payloadType":"t","payload":"e30="}',
     b'{"payloadType":1,"payload":"e30=","signatures":[{"keyid":"k","sig":"AA=="}]}',
     b'{"payloadType":"t","payload":null,"signatures":[{"keyid":"k","sig":"AA=="}]}',
     b'{"payloadType":"t","payload":"e30=","signatures":{"keyid":"k"}}',
     b'{"payloadType":"t","payload":"e30=","signatures":["x"]}',
     b'{"payloadType":"t","payload":"e30=","signatures":[{"keyid":1,"sig":"AA=="}]}',
     b'{"payloadType":"t","payload":"e30=","signatures":[{"keyid":"k"}]}'],
)
def test_malformed_envelopes_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidEnvelopeError):
        Envelope.from_json(raw)


def test_bad_base64_is_refused(signer: Ed25519Signer) -> None:
    doc = _good(signer)
    doc["payload"] = "not base64!!"
    with pytest.raises(InvalidEnvelopeError, match="payload"):
        Envelope.from_dict(doc)
    doc = _good(signer)
    doc["signatures"][0]["sig"] = "@@@@"
    with pytest.raises(InvalidEnvelopeError, match="sig"):
        Envelope.from_dict(doc)
    doc = _good(signer)
    doc["payload"] = "e30"  # missing padding
    with pytest.raises(InvalidEnvelopeError):
        Envelope.from_dict(doc)


def test_too_many_signatures_are_refused(signer: Ed25519Signer) -> None:
    doc = _good(signer)
    doc["signatures"] = doc["signatures"] * 5
    with pytest.raises(InvalidEnvelopeError):
        Envelope.from_dict(doc)
    doc["signatures"] = doc["signatures"][:4]
    assert len(Envelope.from_dict(doc).signatures) == 4


def test_payload_digest_is_sha256_of_payload_bytes(signer: Ed25519Signer) -> None:
    env = Envelope.sign(COMMAND_TYPE, b"abc", signer)
    assert env.payload_digest == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# ---- public keys ---------------------------------------------------------------


def test_key_spec_round_trip(signer: Ed25519Signer) -> None:
    spec = signer.public_key.to_spec()
    assert spec["algorithm"] == "ed25519"
    assert len(spec["keyid"]) == 32 and spec["keyid"] == key_id_for(signer.public_key.spki_der)
    assert PublicKey.from_spec(spec) == signer.public_key


def test_from_spec_refuses_keyid_not_matching_bytes(signer: Ed25519Signer) -> None:
    spec = signer.public_key.to_spec()
    spec["keyid"] = Ed25519Signer.generate().keyid
    with pytest.raises(InvalidInputError, match="does not match"):
        PublicKey.from_spec(spec)


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa-p256", "ED25519", ""])
def test_from_spec_refuses_other_algorithms(signer: Ed25519Signer, algorithm: str) -> None:
    spec = signer.public_key.to_spec() | {"algorithm": algorithm}
    with pytest.raises(InvalidInputError, match="unsupported"):
        PublicKey.from_spec(spec)


def test_from_spec_refuses_non_ed25519_bytes_labelled_ed25519() -> None:
    der = generate_private_key(SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spec = {"keyid": key_id_for(der), "algorithm": "ed25519",
            "public_key": base64.b64encode(der).decode()}
    with pytest.raises(InvalidInputError):
        PublicKey.from_spec(spec)


@pytest.mark.parametrize(
    "spec",
    [{}, {"algorithm": "ed25519", "public_key": "AAAA"},
     {"keyid": "0" * 32, "algorithm": "ed25519", "public_key": "%%%"},
     {"keyid": "0" * 32, "algorithm": "ed25519", "public_key": "AAAA"}],
)
def test_from_spec_refuses_malformed_specs(spec: dict) -> None:
    with pytest.raises(InvalidInputError):
        PublicKey.from_spec(spec)


def test_signer_pem_round_trip(signer: Ed25519Signer) -> None:
    again = Ed25519Signer.from_pem(signer.private_pem())
    assert again.keyid == signer.keyid
    env = Envelope.sign(COMMAND_TYPE, b"x", again)
    env.verify_with(signer.public_key)


# ---- agency key history ----------------------------------------------------------


def agency_with(*signers: Ed25519Signer) -> Agency:
    a = Agency._create(
        Agency.Registered, id=Agency.id_for("000.00.00.G22"), envelope={}, timestamp=T0,
        code="000.00.00.G22", name="UBND",
        keys=[s.public_key.to_spec() for s in signers],
    )
    a.collect_events()
    return a


def test_key_for_signing_returns_registered_key(signer: Ed25519Signer) -> None:
    a = agency_with(signer)
    assert a.key_for_signing(signer.keyid, at(1)) == signer.public_key
    assert a.key_for_signing(signer.keyid, T0) == signer.public_key  # effective at T0


def test_unknown_key(signer: Ed25519Signer) -> None:
    a = agency_with(signer)
    with pytest.raises(UnknownKeyError):
        a.key_for_signing(Ed25519Signer.generate().keyid, at(1))


def test_issued_before_effective_is_not_active(signer: Ed25519Signer) -> None:
    a = agency_with(signer)
    with pytest.raises(KeyNotActiveError):
        a.key_for_signing(signer.keyid, T0 - timedelta(seconds=1))
    new = Ed25519Signer.generate()
    a.add_key(new.public_key, envelope={}, at=at(10))
    with pytest.raises(KeyNotActiveError):
        a.key_for_signing(new.keyid, at(9))
    assert a.key_for_signing(new.keyid, at(10)) == new.public_key


def test_revoked_key_is_refused_even_for_backdated_commands(signer: Ed25519Signer) -> None:
    a = agency_with(signer)
    a.revoke_key(signer.keyid, "lộ khóa", envelope={}, at=at(30))
    for issued in (at(1), at(29), at(30), at(60)):
        with pytest.raises(KeyRevokedError):
            a.key_for_signing(signer.keyid, issued)
    entry = a.keys[signer.keyid]
    assert entry.revoked_at == at(30)
    # the revocation instant itself is not covered; a microsecond before it is
    assert entry.valid_at(at(29)) and entry.valid_at(at(30) - timedelta(microseconds=1))
    assert not entry.valid_at(at(30)) and not entry.valid_at(at(31))


def test_add_and_revoke_refusals(signer: Ed25519Signer) -> None:
    a = agency_with(signer)
    with pytest.raises(DuplicateError):
        a.add_key(signer.public_key, envelope={}, at=at(1))
    with pytest.raises(NotFoundError):
        a.revoke_key("f" * 32, "x", envelope={}, at=at(1))
    a.revoke_key(signer.keyid, "x", envelope={}, at=at(2))
    with pytest.raises(DuplicateError):
        a.revoke_key(signer.keyid, "again", envelope={}, at=at(3))
    assert [type(e) for e in a.collect_events()] == [Agency.KeyRevoked]


def test_agency_key_history_replays(signer: Ed25519Signer) -> None:
    a = Agency._create(
        Agency.Registered, id=Agency.id_for("000.00.00.G22"), envelope={}, timestamp=T0,
        code="000.00.00.G22", name="UBND", keys=[signer.public_key.to_spec()],
    )
    new = Ed25519Signer.generate()
    a.add_key(new.public_key, envelope={}, at=at(5))
    a.revoke_key(signer.keyid, "rotated", envelope={}, at=at(6))
    copy = replay(a.collect_events())
    assert copy.keys == a.keys
    assert copy.keys[new.keyid] == KeyEntry(key=new.public_key, effective_from=at(5))
