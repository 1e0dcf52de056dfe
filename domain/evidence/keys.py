"""Public keys, key ids and signers.

A key is recorded as its algorithm name and its DER SubjectPublicKeyInfo; the key
id is derived from those bytes and checked. The algorithm names one signature
scheme exactly (docs/trust.md, "Algorithms"):

- ``ed25519``: Ed25519 (RFC 8032), 64-byte signatures;
- ``rsa-pkcs1-sha256``: RSASSA-PKCS1-v1_5 with SHA-256;
- ``rsa-pss-sha256``: RSASSA-PSS with SHA-256, MGF1-SHA-256, a 32-byte salt;
- ``ecdsa-p256-sha256``, ``ecdsa-p384-sha384``: ECDSA on that curve with that
  hash, the signature DER-encoded (``Ecdsa-Sig-Value``).

RSA keys have 2048 to 8192 bits. Only the ``ed25519`` signatures have a fixed
length; every verifier takes the signature's own length.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domain.errors import InvalidInputError, InvalidSignatureError

ED25519 = "ed25519"
RSA_PKCS1_SHA256 = "rsa-pkcs1-sha256"
RSA_PSS_SHA256 = "rsa-pss-sha256"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
ECDSA_P384_SHA384 = "ecdsa-p384-sha384"
SUPPORTED_ALGORITHMS = frozenset({ED25519, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
                                  ECDSA_P256_SHA256, ECDSA_P384_SHA384})
RSA_BITS = (2048, 8192)
PSS_SALT_LENGTH = 32  # the digest's length (RFC 8017 9.1 recommends it)
_CURVES: dict[str, tuple[type[ec.EllipticCurve], type[hashes.HashAlgorithm]]] = {
    ECDSA_P256_SHA256: (ec.SECP256R1, hashes.SHA256),
    ECDSA_P384_SHA384: (ec.SECP384R1, hashes.SHA384),
}

LoadedKey = Ed25519PublicKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


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

    def _load(self) -> LoadedKey:
        return _load_key(self.spki_der, self.algorithm)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise InvalidSignatureError unless ``signature`` signs ``message``
        under this key's algorithm (and no other scheme of the same key)."""
        key = self._load()
        try:
            if isinstance(key, Ed25519PublicKey):
                key.verify(signature, message)
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, message, _rsa_padding(self.algorithm), hashes.SHA256())
            else:
                key.verify(signature, message, ec.ECDSA(_CURVES[self.algorithm][1]()))
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


class KeySigner:
    """Signs with an RSA, ECDSA or Ed25519 private key under one algorithm."""

    def __init__(self, private_key: PrivateKey, algorithm: str | None = None) -> None:
        self._private = private_key
        self.algorithm = algorithm or default_algorithm(private_key.public_key())
        self.public_key = public_key_for(private_key.public_key(), self.algorithm)
        self.keyid = self.public_key.keyid

    @classmethod
    def from_pem(cls, pem: bytes, algorithm: str | None = None) -> KeySigner:
        """A signer from a PEM private key (PKCS#8 or traditional, unencrypted);
        ``algorithm`` chooses PSS over PKCS#1 v1.5 for an RSA key."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidInputError(f"not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey | rsa.RSAPrivateKey
                          | ec.EllipticCurvePrivateKey):
            raise InvalidInputError(f"unsupported private key type {type(key).__name__}")
        return cls(key, algorithm)

    def sign(self, message: bytes) -> bytes:
        key = self._private
        if isinstance(key, Ed25519PrivateKey):
            return key.sign(message)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, _rsa_padding(self.algorithm), hashes.SHA256())
        return key.sign(message, ec.ECDSA(_CURVES[self.algorithm][1]()))


def default_algorithm(key: object) -> str:
    """The scheme a key signs with unless told otherwise: RSA keys PKCS#1 v1.5
    (what the state CAs' tokens make), ECDSA keys their curve's."""
    if isinstance(key, Ed25519PublicKey):
        return ED25519
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_PKCS1_SHA256
    if isinstance(key, ec.EllipticCurvePublicKey):
        for name, (curve, _) in _CURVES.items():
            if isinstance(key.curve, curve):
                return name
        raise InvalidInputError(f"unsupported curve {key.curve.name}")
    raise InvalidInputError(f"unsupported key type {type(key).__name__}")


def public_key_for(key: object, algorithm: str | None = None) -> PublicKey:
    """The ledger's record of a ``cryptography`` public key, checked for ``algorithm``
    (by default the key type's ``default_algorithm``)."""
    algorithm = algorithm or default_algorithm(key)
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise InvalidInputError(f"unsupported key algorithm {algorithm!r}")
    try:
        der = key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except AttributeError:
        raise InvalidInputError(f"not a public key: {type(key).__name__}") from None
    _load_key(der, algorithm)  # size, curve and type checks
    return PublicKey(keyid=key_id_for(der), algorithm=algorithm, spki_der=der)


def public_key_of(private_key: Ed25519PrivateKey) -> PublicKey:
    return public_key_for(private_key.public_key(), ED25519)


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


def public_key_from_pem(pem: bytes, algorithm: str | None = None) -> PublicKey:
    """Load a PEM SubjectPublicKeyInfo file's key."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(f"not a PEM public key: {exc}") from None
    return public_key_for(key, algorithm)


def public_key_pem(key: PublicKey) -> bytes:
    loaded = serialization.load_der_public_key(key.spki_der)
    return loaded.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _rsa_padding(algorithm: str) -> padding.AsymmetricPadding:
    if algorithm == RSA_PSS_SHA256:
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)
    return padding.PKCS1v15()


@lru_cache(maxsize=4096)
def _load_key(spki_der: bytes, algorithm: str) -> LoadedKey:
    """Parse a key once: every command and statement verification needs one.
    Refuses a key that is not of ``algorithm``'s type, curve or size."""
    try:
        loaded = serialization.load_der_public_key(spki_der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInputError(f"not a public key: {exc}") from None
    if algorithm == ED25519:
        if isinstance(loaded, Ed25519PublicKey):
            return loaded
    elif algorithm in (RSA_PKCS1_SHA256, RSA_PSS_SHA256):
        if isinstance(loaded, rsa.RSAPublicKey):
            low, high = RSA_BITS
            if not low <= loaded.key_size <= high:
                raise InvalidInputError(
                    f"RSA key of {loaded.key_size} bits: {algorithm} needs {low} to {high}")
            return loaded
    elif algorithm in _CURVES:
        if (isinstance(loaded, ec.EllipticCurvePublicKey)
                and isinstance(loaded.curve, _CURVES[algorithm][0])):
            return loaded
    else:
        raise InvalidInputError(f"unsupported key algorithm {algorithm!r}")
    raise InvalidInputError(f"key is not {algorithm}")
