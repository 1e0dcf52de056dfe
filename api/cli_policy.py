"""``--policy FILE`` of the verifying commands: a C2SP tlog-policy file that a
checkpoint's cosignatures must satisfy, and the ledger key it may name."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import NoteKey
from domain.evidence.policy import Policy, PolicyVerdict

PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", help="A witness policy (C2SP tlog-policy): the checkpoint must carry "
                     "cosignatures meeting its quorum; its log line may give the ledger key.")]


def read_policy(path: Path | None) -> Policy | None:
    if path is None:
        return None
    try:
        return Policy.parse(path.read_bytes())
    except OSError as exc:
        raise InvalidInputError(f"cannot read the policy {path}: {exc.strerror}") from None


def ledger_vkey(given: str | None, policy: Policy | None) -> str:
    """The ledger's verifier key: the one given, or the policy's log line; if both,
    they must be the same key."""
    logs = [] if policy is None else [key for key, _ in policy.logs]
    if given is None:
        if len(logs) == 1:
            return logs[0].vkey()
        raise InvalidInputError("give --ledger-key, or a --policy naming exactly one log "
                                "(the ledger's verifier key)")
    if logs:
        key = NoteKey.parse(given)
        if not any(k.name == key.name and k.raw == key.raw for k in logs):
            raise InvalidInputError(f"--ledger-key {key.vkey()} is not the log the policy "
                                    f"names ({', '.join(k.vkey() for k in logs)})")
    return given


def describe(verdict: PolicyVerdict) -> str:
    """Which witnesses cosigned, and when each says it did."""
    return f"witness quorum {verdict.quorum!r} met: cosigned by {verdict.cosigners()}"
