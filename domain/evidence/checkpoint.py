"""C2SP tlog-checkpoint bodies in C2SP signed notes, with Ed25519 keys.

Checkpoint body (c2sp.org/tlog-checkpoint)::

    <origin>\\n<tree size, decimal>\\n<root hash, base64>\\n

Signed note (c2sp.org/signed-note)::

    <body>\\n— <key name> <base64(key hash (4 bytes) || signature (64 bytes))>\\n

The key hash is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public
key); 0x01 names the Ed25519 algorithm. The verifier key is published as
``<name>+<key hash, 8 hex digits>+<base64(0x01 || 32-byte public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.errors import InvalidInputError, VerificationError
from domain.evidence.keys import PublicKey, Signer

ED25519_ALG = b"\x01"
SIG_PREFIX = "\u2014 "  # em dash and space
NAME = re.compile(r"^[^\s+]+$")


class CheckpointError(VerificationError):
    """A checkpoint or signed note is malformed or its signature does not verify."""

    code = "invalid-checkpoint"


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("a checkpoint is origin, size and root lines, each with \\n")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not re.fullmatch(r"0|[1-9][0-9]*", size):
            raise CheckpointError("malformed checkpoint origin or size")
        try:
            digest = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise CheckpointError("checkpoint root is not base64") from None
        if len(digest) != 32:
            raise CheckpointError("checkpoint root is not a SHA-256 hash")
        return cls(origin=origin, size=int(size), root=digest)


@dataclass(frozen=True, kw_only=True)
class NoteKey:
    """An Ed25519 note verifier key."""

    name: str
    raw: bytes  # 32-byte Ed25519 public key

    @property
    def key_hash(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n" + ED25519_ALG + self.raw).digest()[:4]

    def vkey(self) -> str:
        encoded = base64.b64encode(ED25519_ALG + self.raw).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    @classmethod
    def from_public_key(cls, name: str, key: PublicKey) -> NoteKey:
        if not NAME.match(name):
            raise InvalidInputError(f"note key name {name!r} must have no spaces or '+'")
        loaded = serialization.load_der_public_key(key.spki_der)
        raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(name=name, raw=raw)

    @classmethod
    def parse(cls, vkey: str) -> NoteKey:
        name, raw, expected = parse_vkey(vkey, ED25519_ALG, "Ed25519 verifier keys (type 0x01)")
        key = cls(name=name, raw=raw)
        if key.key_hash != expected:
            raise CheckpointError("verifier key hash does not match the key")
        return key


def parse_vkey(vkey: str, alg: bytes, kind: str) -> tuple[str, bytes, bytes]:
    """A signed-note verifier key ``<name>+<hash>+<base64(alg || 32-byte key)>``: its
    name, the raw Ed25519 key, and the key hash it states (the caller checks it)."""
    parts = vkey.strip().split("+", 2)  # the base64 key may hold "+"
    if len(parts) != 3 or not NAME.match(parts[0]):
        raise CheckpointError("a verifier key is <name>+<hash>+<base64 key>")
    try:
        blob = base64.b64decode(parts[2], validate=True)
        expected = bytes.fromhex(parts[1])
    except (binascii.Error, ValueError):
        raise CheckpointError("malformed verifier key") from None
    if len(blob) != 33 or blob[:1] != alg:
        raise CheckpointError(f"only {kind} are supported here")
    return parts[0], blob[1:], expected


def sign_note(text: str, key: NoteKey, signer: Signer) -> str:
    """Sign ``text`` (which ends in a newline) as a C2SP signed note."""
    if not text.endswith("\n"):
        raise InvalidInputError("note text must end with a newline")
    signature = signer.sign(text.encode())
    encoded = base64.b64encode(key.key_hash + signature).decode()
    return f"{text}\n{SIG_PREFIX}{key.name} {encoded}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text (ending in a newline) and its signature lines, each as
    (key name, decoded base64 blob). The text and the signatures are split at the
    last blank line; every line after it must be a signature line."""
    head, sep, block = note.rpartition("\n\n")
    if not sep or not block.endswith("\n"):
        raise CheckpointError("not a signed note: no signature block")
    lines = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError(f"malformed signature line {line!r}")
        name, _, encoded = line[len(SIG_PREFIX):].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CheckpointError("signature is not base64") from None
        lines.append((name, blob))
    return head + "\n", lines


def open_note(note: str, key: NoteKey) -> str:
    """Return the note's text if ``key`` signed it; raise CheckpointError otherwise.

    1. split the text from the signature block at the last blank line;
    2. find signature lines by ``key``'s name and key hash (others are ignored);
    3. require exactly one, and that its Ed25519 signature verifies over the text.
    """
    text, lines = split_note(note)
    found = [blob[4:] for name, blob in lines if name == key.name and blob[:4] == key.key_hash]
    if len(found) != 1:
        raise CheckpointError(f"the note carries {len(found)} signatures by {key.name}, not 1")
    try:
        Ed25519PublicKey.from_public_bytes(key.raw).verify(found[0], text.encode())
    except InvalidSignature:
        raise CheckpointError(f"the signature by {key.name} does not verify") from None
    return text


def open_checkpoint(note: str, key: NoteKey) -> Checkpoint:
    """Verify a signed checkpoint and parse its body."""
    checkpoint = Checkpoint.parse(open_note(note, key))
    if checkpoint.origin != key.name:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} is not the key's name {key.name!r}"
        )
    return checkpoint
