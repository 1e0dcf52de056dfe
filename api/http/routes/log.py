"""The Merkle log, public: checkpoints, verifier key, inclusion and consistency proofs."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.http.deps import MAX_ID, ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import InvalidInputError, NotFoundError
from domain.evidence.checkpoint import Checkpoint, split_note

router = APIRouter(prefix="/v1/log", tags=["log"], responses=PROBLEM_RESPONSES)


@router.get("/checkpoint", response_class=PlainTextResponse)
def latest_checkpoint(c: ContainerDep) -> str:
    """The latest published checkpoint: C2SP tlog-checkpoint in a signed note, as text,
    with the witnesses' cosignature lines (C2SP tlog-cosignature) after the ledger's."""
    c.service.log.issue_checkpoint()
    latest = c.service.log.published_checkpoint()
    if latest is None:
        raise NotFoundError("the ledger has published no checkpoint yet")
    return latest.note


@router.get("/vkey", response_class=PlainTextResponse)
def verifier_key(c: ContainerDep) -> str:
    """The ledger's note verifier key (`<origin>+<hash>+<base64 key>`)."""
    return c.service.log.note_key.vkey() + "\n"


@router.get("/checkpoints")
def checkpoints(c: ContainerDep,
                after: Annotated[int, Query(ge=0, le=MAX_ID,
                                            description="Sizes above this")] = 0,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Every published checkpoint, oldest first, as signed notes with their
    cosignatures (cursor: the last size)."""
    c.service.log.published_checkpoint()
    found = c.service.log.store.published(after=after, limit=limit)
    return {"checkpoints": [{"size": cp.size, "root": _root_of(cp.note).hex(), "note": cp.note,
                             "published_at": cp.published_at,
                             **({} if cp.timestamp_token is None else
                                {"timestamp_token": base64.b64encode(cp.timestamp_token)
                                 .decode()})} for cp in found],
            "next": found[-1].size if len(found) == limit else None}


@router.get("/inclusion")
def inclusion(
    c: ContainerDep,
    leaf_hash: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$")] = None,
    notification: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    size: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                      description="Tree size (default: latest)")] = None,
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of one leaf (by hash from a receipt, or notification id)
    against a published checkpoint. A leaf newer than the latest published checkpoint is
    404 until the next one is signed (DOCLEDGER_CHECKPOINT_EVERY events or _SECONDS) and,
    with a witness policy, cosigned by a quorum of witnesses."""
    if (leaf_hash is None) == (notification is None):
        raise InvalidInputError("give exactly one of leaf_hash and notification")
    log = c.service.log
    log.issue_checkpoint()  # only when policy says so: a public read must not sign on demand
    latest = log.published_checkpoint()
    if latest is None:
        raise NotFoundError("the ledger has published no checkpoint yet")
    tree_size = size or latest.size
    if tree_size > latest.size:
        raise NotFoundError(f"no published checkpoint covers {tree_size} leaves yet (the "
                            f"latest has {latest.size})")
    index = log.store.leaf_index_of(
        notification_id=notification, leaf_hash=None if leaf_hash is None else
        bytes.fromhex(leaf_hash))
    if index >= tree_size:
        raise NotFoundError(
            f"leaf {index} is not yet covered by a published checkpoint (size {tree_size}); "
            f"one is signed within {c.settings.checkpoint_seconds:g}s of activity and "
            "published once the witnesses cosign it: ask again")
    leaf = log.store.leaves(index, 1)[0]
    return {"leaf_index": index, "notification_id": leaf[1], "leaf_hash": leaf[2].hex(),
            "tree_size": tree_size,
            "proof": [h.hex() for h in log.inclusion_proof(index, tree_size)]}


@router.get("/consistency")
def consistency(c: ContainerDep, old: Annotated[int, Query(ge=1, le=MAX_ID)],
                new: Annotated[int, Query(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    """RFC 9162 consistency proof between two tree sizes."""
    if old > new:
        raise InvalidInputError("old must not exceed new")
    log = c.service.log
    log.catch_up()
    if new > log.store.size():
        raise NotFoundError(f"the log has fewer than {new} leaves")
    return {"old_size": old, "new_size": new,
            "proof": [h.hex() for h in log.consistency_proof(old, new)]}


def _root_of(note: str) -> bytes:
    return Checkpoint.parse(split_note(note)[0]).root
