"""Offline check that one signed checkpoint extends another."""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import NoteKey, open_checkpoint
from domain.evidence.merkle import verify_consistency


def check_consistency(old_note: str, new_note: str, proof: dict[str, Any], vkey: str) -> str:
    """Raise unless both notes are signed by ``vkey`` and ``proof`` links them.

    1. parse the verifier key;
    2. open both signed checkpoints with it (signature, origin);
    3. the proof's sizes are the checkpoints' sizes;
    4. verify the RFC 9162 consistency proof between the two roots.
    """
    key = NoteKey.parse(vkey)
    old = open_checkpoint(old_note, key)
    new = open_checkpoint(new_note, key)
    if (proof.get("old_size"), proof.get("new_size")) != (old.size, new.size):
        raise InvalidInputError(
            f"the proof is for sizes {proof.get('old_size')}→{proof.get('new_size')}, "
            f"the checkpoints are {old.size}→{new.size}")
    try:
        hashes = [bytes.fromhex(h) for h in proof["proof"]]
    except (KeyError, TypeError, ValueError):
        raise InvalidInputError("proof must hold a list of hex hashes") from None
    verify_consistency(old.size, new.size, old.root, new.root, hashes)
    return f"the checkpoint of size {new.size} extends the one of size {old.size}"
