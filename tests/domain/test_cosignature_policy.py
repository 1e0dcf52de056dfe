"""C2SP cosignature/v1 lines, tlog-witness request bodies and tlog-policy quorums."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import Checkpoint, CheckpointError, NoteKey, sign_note
from domain.evidence.cosignature import (
    AddCheckpoint,
    CosignerKey,
    add_signature_lines,
    cosign,
    cosignatures,
)
from domain.evidence.keys import Ed25519Signer
from domain.evidence.policy import Policy, PolicyError, QuorumError

ORIGIN = "docledger.test/ledger"
BODY = Checkpoint(origin=ORIGIN, size=20852163, root=bytes(range(32))).body()


def log_key() -> tuple[NoteKey, Ed25519Signer]:
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
    return NoteKey.from_public_key(ORIGIN, signer.public_key), signer


def witness(name: str, seed: int) -> tuple[CosignerKey, Ed25519Signer]:
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))
    return CosignerKey.from_public_key(name, signer.public_key), signer


def signed_note() -> str:
    key, signer = log_key()
    return sign_note(BODY, key, signer)


def test_cosignature_line_has_the_spec_layout() -> None:
    """Built by hand from c2sp.org/tlog-cosignature, not through the module."""
    key, signer = witness("witness.example/w1", 7)
    line = cosign(BODY, key, signer, 1679315147)
    assert line.startswith("\u2014 witness.example/w1 ") and line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    raw = Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32).public_key().public_bytes_raw()
    assert blob[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + raw).digest()[:4]
    assert struct.unpack(">Q", blob[4:12]) == (1679315147,)
    message = b"cosignature/v1\ntime 1679315147\n" + BODY.encode()
    Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32).public_key().verify(blob[12:], message)
    assert key.vkey().split("+")[2] == base64.b64encode(b"\x04" + raw).decode()
    assert CosignerKey.parse(key.vkey()) == key


def test_cosignatures_are_read_back_with_their_times() -> None:
    a, sa = witness("w-a", 2)
    b, sb = witness("w-b", 3)
    note = add_signature_lines(signed_note(), cosign(BODY, a, sa, 100) + cosign(BODY, b, sb, 200))
    assert cosignatures(note, [a, b]) == {"w-a": 100, "w-b": 200}
    assert cosignatures(note, [a]) == {"w-a": 100}


def test_cosignature_moved_to_another_checkpoint_does_not_verify() -> None:
    a, sa = witness("w-a", 2)
    other = Checkpoint(origin=ORIGIN, size=5, root=bytes(32)).body()
    note = add_signature_lines(signed_note(), cosign(other, a, sa, 100))
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(note, [a])


def test_cosignature_with_a_rewritten_time_does_not_verify() -> None:
    a, sa = witness("w-a", 2)
    line = cosign(BODY, a, sa, 100)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[4:12] = struct.pack(">Q", 999)
    forged = f"\u2014 w-a {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        cosignatures(add_signature_lines(signed_note(), forged), [a])


def test_a_log_signature_line_is_not_a_cosignature() -> None:
    """Type 0x01 and 0x04 key hashes differ, so a checkpoint signature by a key of
    the witness's name is ignored, not counted."""
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32))
    as_log = NoteKey.from_public_key("w-a", signer.public_key)
    note = add_signature_lines(signed_note(), sign_note(BODY, as_log, signer).split("\n\n")[1])
    a, _ = witness("w-a", 2)
    assert cosignatures(note, [a]) == {}


def test_add_checkpoint_body_round_trips_and_rejects_malformed() -> None:
    request = AddCheckpoint(old_size=5, proof=[bytes(32), bytes([1]) * 32], note=signed_note())
    encoded = request.encode()
    assert encoded.startswith(b"old 5\n" + base64.b64encode(bytes(32)) + b"\n")
    assert AddCheckpoint.parse(encoded) == request
    assert AddCheckpoint.parse(b"old 0\n\n" + signed_note().encode()).proof == []
    for bad in (b"old 05\n\nx", b"old -1\n\nx", b"new 1\n\nx", b"old 1\nxyz\n\nx",
                b"old 1\n" + base64.b64encode(b"short") + b"\n\nx", b"old 1\nno blank line",
                b"old 1\n" + b"".join([base64.b64encode(bytes(32)) + b"\n"] * 64) + b"\nx"):
        with pytest.raises(InvalidInputError):
            AddCheckpoint.parse(bad)


def policy_text(quorum: str = "q") -> str:
    key, _ = log_key()
    lines = [f"log {key.vkey()}"]
    for name, seed in (("province", 2), ("axis", 3), ("inspectorate", 4)):
        lines.append(f"witness {name} {witness(name + '.test/w', seed)[0].vkey()} "
                     f"http://127.0.0.1:1/{name}")
    lines += ["# two of three", "group q 2 province axis inspectorate", f"quorum {quorum}"]
    return "\n".join(lines) + "\n"


def cosigned_by(*names: str) -> str:
    seeds = {"province": 2, "axis": 3, "inspectorate": 4}
    lines = "".join(cosign(BODY, *witness(n + ".test/w", seeds[n]), 1700000000) for n in names)
    return add_signature_lines(signed_note(), lines) if lines else signed_note()


def test_policy_quorum_two_of_three() -> None:
    policy = Policy.parse(policy_text())
    assert policy.witnesses["axis"].url == "http://127.0.0.1:1/axis"
    verdict = policy.check(cosigned_by("province", "inspectorate"))
    assert verdict.satisfied and verdict.missing == ["axis"]
    assert verdict.checkpoint.size == 20852163


def test_checkpoint_without_quorum_names_who_signed_and_who_is_missing() -> None:
    with pytest.raises(QuorumError, match="cosigned by axis; missing province, inspectorate"):
        Policy.parse(policy_text()).check(cosigned_by("axis"))


def test_quorum_none_and_single_witness() -> None:
    assert Policy.parse(policy_text("none")).check(signed_note()).satisfied
    with pytest.raises(QuorumError):
        Policy.parse(policy_text("axis")).check(cosigned_by("province"))


def test_checkpoint_signed_by_a_log_outside_the_policy_is_refused() -> None:
    other = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(b"\x09" * 32))
    note = sign_note(BODY, NoteKey.from_public_key(ORIGIN, other.public_key), other)
    with pytest.raises(CheckpointError, match="no log of the policy"):
        Policy.parse(policy_text()).check(note)


@pytest.mark.parametrize("bad", [
    "quorum nobody\n",
    "group g 1 nobody\nquorum g\n",
    "witness a {w}\ngroup g 2 a\nquorum g\n",
    "witness a {w}\ngroup g any a a\nquorum g\n",
    "witness a {w}\nwitness b {w}\nquorum a\n",
    "witness none {w}\nquorum none\n",
    "witness a {w}\nquorum a\nquorum a\n",
    "witness a {w}\n",
    "witness a {w}\x07\nquorum a\n",
    "bogus line\nquorum none\n",
    "witness a {log}\nquorum a\n",
])
def test_malformed_policies_are_refused(bad: str) -> None:
    w = witness("w.test", 5)[0].vkey()
    with pytest.raises(PolicyError):
        Policy.parse(bad.format(w=w, log=log_key()[0].vkey()))
