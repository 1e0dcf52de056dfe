"""C2SP tlog-cosignature (cosignature/v1, Ed25519) and tlog-witness request bodies.

A cosignature is one more signed-note signature line on a checkpoint::

    — <witness name> <base64( key hash (4) || timestamp (8, big-endian) || signature (64) )>

The key hash is the first 4 bytes of SHA-256(name || 0x0A || 0x04 || 32-byte
Ed25519 public key); 0x04 names the cosignature/v1 type. The signature is over::

    cosignature/v1\\n
    time <timestamp, decimal>\\n
    <the checkpoint body: origin, size and root lines, each ending in \\n>

A witness's verifier key is ``<name>+<key hash, 8 hex>+<base64(0x04 || key)>``.

The ``add-checkpoint`` request body of c2sp.org/tlog-witness is ``old <size>\\n``,
one base64 consistency-proof hash per line (at most 63), an empty line, then the
signed checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import (
    NAME,
    SIG_PREFIX,
    Checkpoint,
    CheckpointError,
    parse_vkey,
    split_note,
)
from domain.evidence.keys import PublicKey, Signer

COSIGNATURE_ALG = b"\x04"
HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
MAX_PROOF_LINES = 63
_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True, kw_only=True)
class CosignerKey:
    """A witness's Ed25519 cosignature/v1 verifier key."""

    name: str
    raw: bytes  # 32-byte Ed25519 public key

    @property
    def key_hash(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n" + COSIGNATURE_ALG + self.raw).digest()[:4]

    def vkey(self) -> str:
        encoded = base64.b64encode(COSIGNATURE_ALG + self.raw).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    @classmethod
    def from_public_key(cls, name: str, key: PublicKey) -> CosignerKey:
        if not NAME.match(name):
            raise InvalidInputError(f"witness name {name!r} must have no spaces or '+'")
        loaded = serialization.load_der_public_key(key.spki_der)
        raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(name=name, raw=raw)

    @classmethod
    def parse(cls, vkey: str) -> CosignerKey:
        name, raw, expected = parse_vkey(vkey, COSIGNATURE_ALG,
                                         "Ed25519 cosignature/v1 witness keys (type 0x04)")
        key = cls(name=name, raw=raw)
        if key.key_hash != expected:
            raise CheckpointError("witness verifier key hash does not match the key")
        return key


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: header, time line, checkpoint body."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidInputError(f"cosignature time {timestamp} is out of range")
    return f"{HEADER}time {timestamp}\n{body}".encode()


def cosign(body: str, key: CosignerKey, signer: Signer, timestamp: int) -> str:
    """One cosignature line (ending in a newline) over the checkpoint ``body``."""
    Checkpoint.parse(body)  # only checkpoints are cosigned
    signature = signer.sign(cosigned_message(body, timestamp))
    blob = key.key_hash + struct.pack(">Q", timestamp) + signature
    return f"{SIG_PREFIX}{key.name} {base64.b64encode(blob).decode()}\n"


def cosignatures(note: str, keys: Iterable[CosignerKey]) -> dict[str, int]:
    """The witnesses among ``keys`` that cosigned the checkpoint in ``note``, with the
    time each gives. Lines by other keys are ignored; a line that names one of
    ``keys`` (name and key hash) but does not verify makes the note malformed
    (CheckpointError), as c2sp.org/signed-note says."""
    text, lines = split_note(note)
    wanted = {(k.name, k.key_hash): k for k in keys}
    found: dict[str, int] = {}
    for name, blob in lines:
        key = wanted.get((name, blob[:4]))
        if key is None:
            continue
        if len(blob) != 4 + 8 + 64:
            raise CheckpointError(f"the cosignature by {name} is not 76 bytes")
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        if timestamp > MAX_TIMESTAMP:
            raise CheckpointError(f"the cosignature by {name} has an out-of-range time")
        try:
            Ed25519PublicKey.from_public_bytes(key.raw).verify(
                blob[12:], cosigned_message(text, timestamp))
        except InvalidSignature:
            raise CheckpointError(f"the cosignature by {name} does not verify") from None
        if name in found:
            raise CheckpointError(f"the note carries two cosignatures by {name}")
        found[name] = timestamp
    return found


def add_signature_lines(note: str, lines: str) -> str:
    """``note`` with the signature ``lines`` (a witness's answer) appended, each once."""
    split_note(note)  # a signed note to begin with
    new = parse_signature_lines(lines)
    present = set(note.rstrip("\n").split("\n"))
    extra = "".join(f"{line}\n" for line in new if line not in present)
    return note + extra


def parse_signature_lines(lines: str) -> list[str]:
    """The lines of a witness's answer: one or more signature lines, each ending in \\n."""
    if not lines.endswith("\n") or not lines.strip():
        raise CheckpointError("a cosignature answer is signature lines, each ending in \\n")
    parsed = lines[:-1].split("\n")
    for line in parsed:
        name, sep, encoded = line.removeprefix(SIG_PREFIX).partition(" ")
        if not line.startswith(SIG_PREFIX) or not sep or not name:
            raise CheckpointError(f"malformed signature line {line!r}")
        try:
            base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise CheckpointError(f"signature line {line!r} is not base64") from None
    return parsed


# ---- tlog-witness add-checkpoint bodies -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str

    def encode(self) -> bytes:
        if len(self.proof) > MAX_PROOF_LINES:
            raise InvalidInputError(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
        head = f"old {self.old_size}\n" + "".join(
            base64.b64encode(h).decode() + "\n" for h in self.proof)
        return (head + "\n" + self.note).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body; InvalidInputError (a 400) names what is wrong."""
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise InvalidInputError("the request body is not UTF-8") from None
        head, sep, note = text.partition("\n\n")
        if not sep:
            raise InvalidInputError("no empty line between the old size and the checkpoint")
        lines = head.split("\n")
        old = lines[0].removeprefix("old ")
        if not lines[0].startswith("old ") or not _SIZE.fullmatch(old):
            raise InvalidInputError("the first line must be 'old <size>' in decimal")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise InvalidInputError(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for line in lines[1:]:
            try:
                digest = base64.b64decode(line, validate=True)
            except binascii.Error:
                raise InvalidInputError(f"proof line {line!r} is not base64") from None
            if len(digest) != 32:
                raise InvalidInputError(f"proof line {line!r} is not a SHA-256 hash")
            proof.append(digest)
        return cls(old_size=int(old), proof=proof, note=note)
