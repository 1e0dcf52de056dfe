"""Public keys, key ids and signers.

A key is recorded as its algorithm name and its DER SubjectPublicKeyInfo, so
RSA or ECDSA keys from X.509 certificates can join later without changing how
history is recorded. The key id is derived from those bytes and checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domain.errors import InvalidInputError, InvalidSignatureError

ED25519 = "ed25519"
SUPPORTED_ALGORITHMS = frozenset({ED25519})


def key_id_for(spki_der: bytes) -> str:
    """Key id: lowercase hex of the first 16 bytes of SHA-256(SPKI DER)."""
    return hashlib.sha256(spki_der).hexdigest()[:32]


@dataclass(frozen=True, kw_only=True)
class PublicKey:
    """A verification key as recorded in the ledger."""

    keyid: str
    algorithm: str
    spki_der: bytes

    @classmethod
    def from_spec(cls, spec: dict[str, str]) -> PublicKey:
        """Parse ``{"keyid", "algorithm", "public_key" (base64 SPKI DER)}``."""
        try:
            algorithm = spec["algorithm"]
            der = base64.b64decode(spec["public_key"], validate=True)
            keyid = spec["keyid"]
        except (KeyError, TypeError, binascii.Error) as exc:
            raise InvalidInputError(f"malformed key spec: {exc}") from None
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise InvalidInputError(f"unsupported key algorithm {algorithm!r}")
        key = cls(keyid=keyid, algorithm=algorithm, spki_der=der)
        key._load()  # refuse bytes that are not a key of that algorithm
        if key_id_for(der) != keyid:
            raise InvalidInputError(f"key id {keyid!r} does not match the key bytes")
        return key

    def to_spec(self) -> dict[str, str]:
        return {
            "keyid": self.keyid,
            "algorithm": self.algorithm,
            "public_key": base64.b64encode(self.spki_der).decode(),
        }

    def _load(self) -> Ed25519PublicKey:
        return _load_ed25519(self.spki_der, self.algorithm)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise InvalidSignatureError unless ``signature`` signs ``message``."""
        try:
            self._load().verify(signature, message)
        except InvalidSignature:
            raise InvalidSignatureError(
                f"signature does not verify with key {self.keyid}"
            ) from None


class Signer(Protocol):
    """Anything that can sign bytes under a key id."""

    @property
    def keyid(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class Ed25519Signer:
    """Signs with an Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key = public_key_of(private_key)
        self.keyid = self.public_key.keyid

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> Ed25519Signer:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInputError("private key is not Ed25519")
        return cls(key)

    def private_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def public_key_of(private_key: Ed25519PrivateKey) -> PublicKey:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(keyid=key_id_for(der), algorithm=ED25519, spki_der=der)


def public_key_from_raw(raw: bytes) -> PublicKey:
    """An Ed25519 key from its 32 raw bytes (as a C2SP verifier key holds it)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InvalidInputError(f"not an Ed25519 public key: {exc}") from None
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(keyid=key_id_for(der), algorithm=ED25519, spki_der=der)


def public_key_from_pem(pem: bytes) -> PublicKey:
    """Load a PEM SubjectPublicKeyInfo file's key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise InvalidInputError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError("public key is not Ed25519")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(keyid=key_id_for(der), algorithm=ED25519, spki_der=der)


def public_key_pem(key: PublicKey) -> bytes:
    loaded = serialization.load_der_public_key(key.spki_der)
    return loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@lru_cache(maxsize=4096)
def _load_ed25519(spki_der: bytes, algorithm: str) -> Ed25519PublicKey:
    """Parse a key once: every command and statement verification needs one."""
    try:
        loaded = serialization.load_der_public_key(spki_der)
    except ValueError as exc:
        raise InvalidInputError(f"not a public key: {exc}") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise InvalidInputError(f"key is not {algorithm}")
    return loaded
