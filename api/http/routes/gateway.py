"""Gateway receipts (docs/gateway.md): what the ledger receipted of a message's bytes.

An agency reads the receipts of the messages the axis carried for it; an auditor
reads every receipt. To anyone else a digest is 404 whether or not a receipt of
it exists, as for attachments, so nobody can probe which messages passed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.http.deps import CallerDep, ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import NotFoundError
from infrastructure.gateway import prove

router = APIRouter(prefix="/v1/gateway", tags=["gateway"], responses=PROBLEM_RESPONSES)

Sha256Path = Annotated[str, Path(
    pattern="^[0-9a-f]{64}$", description="SHA-256 of the message's bytes, lower-case hex",
    examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])]


@router.get("/receipts/{sha256}", responses={200: {"content": {"application/json": {
    "example": {"format": "docledger-gateway-proof/1",
                "checkpoint": "docledger.local/ledger\n42\n…\n\n— docledger.local/ledger …\n",
                "receipts": [{"leaf_index": 40, "notification_id": 41,
                              "aggregate_id": "…", "version": 1,
                              "topic": "domain.gateway:GatewayReceipt.Recorded",
                              "state": "…", "proof": ["…"]}]}}}}})
def receipts(sha256: Sha256Path, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """The receipts of the message with these bytes, as an offline proof against the
    latest published checkpoint (`docledger gateway verify PROOF --bytes FILE`).

    An agency gets the receipts of what the axis carried for it; an auditor all of
    them; anyone else 404, as for bytes no receipt names.
    """
    if caller.kind == "auditor":
        agency = None
    elif caller.agency is not None:
        agency = caller.agency
    else:
        raise NotFoundError(f"no gateway receipt of sha256 {sha256}")
    return prove(c.service.log, c.service.gateway_index(), sha256, agency=agency,
                 wait_for_witnesses=False)
