"""C2SP signed notes and checkpoints: the published Go vector, and forgeries."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.evidence.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteKey,
    open_checkpoint,
    open_note,
    sign_note,
)
from domain.evidence.keys import Ed25519Signer

VECTOR = json.loads((Path(__file__).parent.parent / "assets" / "signed_note_vector.json")
                    .read_text())


def go_signer() -> tuple[NoteKey, Ed25519Signer]:
    seed = base64.b64decode(VECTOR["signer_key"].split("+", 4)[4])[1:]
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(seed))
    return NoteKey.from_public_key("PeterNeumann", signer.public_key), signer


def test_signing_reproduces_the_published_note_byte_for_byte() -> None:
    key, signer = go_signer()
    assert key.vkey() == VECTOR["verifier_key"]
    assert sign_note(VECTOR["text"], key, signer) == VECTOR["note"]


def test_opening_the_published_note_with_its_verifier_key() -> None:
    assert open_note(VECTOR["note"], NoteKey.parse(VECTOR["verifier_key"])) == VECTOR["text"]


@pytest.mark.parametrize("forge", [
    lambda n: n.replace("cryptography", "cryptographY"),
    lambda n: n.replace("x08go", "x08gp"),
    lambda n: n.replace("\n\n", "\n"),
    lambda n: n.replace("PeterNeumann", "EnochRoot"),
    lambda n: n + "— PeterNeumann " + n.rsplit(" ", 1)[1],  # the same signature twice
])
def test_forged_or_mangled_notes_are_refused(forge) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CheckpointError):
        open_note(forge(VECTOR["note"]), NoteKey.parse(VECTOR["verifier_key"]))


def test_verifier_key_with_wrong_hash_is_refused() -> None:
    with pytest.raises(CheckpointError):
        NoteKey.parse(VECTOR["verifier_key"].replace("c74f20a3", "c74f20a4"))


def test_checkpoint_round_trip_and_origin_must_match_key() -> None:
    signer = Ed25519Signer.generate()
    key = NoteKey.from_public_key("ledger.example/log", signer.public_key)
    body = Checkpoint(origin="ledger.example/log", size=42, root=b"\x07" * 32).body()
    assert body == "ledger.example/log\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
    assert open_checkpoint(sign_note(body, key, signer), key).size == 42
    other = Checkpoint(origin="other.example/log", size=1, root=b"\x00" * 32).body()
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note(other, key, signer), key)


@pytest.mark.parametrize("body", ["o\n042\nAAAA\n", "o\n1\nnot base64!\n", "o\n1\n", "\n1\n" +
                                  base64.b64encode(b"\0" * 32).decode() + "\n"])
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(body)


def test_verifier_key_whose_base64_holds_a_plus_parses() -> None:
    # the verifier key of transparency-dev/formats' note tests
    vkey = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    key = NoteKey.parse(vkey)
    assert key.name == "TEST" and key.vkey() == vkey
