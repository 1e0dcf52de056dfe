"""Submitting signed commands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.http.bodies import read_bounded
from api.http.container import Container
from api.http.deps import container_of
from api.http.problems import PROBLEM_RESPONSES, UnsupportedMediaType
from api.http.responses import FastJSONResponse
from api.render import outcome_dict

# the primary's WAL position once the command is committed (with a replica only):
# a read with ?after_lsn= reads the replica only once it has replayed that far
COMMIT_LSN = "X-Docledger-Commit-LSN"
router = APIRouter(prefix="/v1", tags=["commands"])

MAX_ENVELOPE = 2 * 2**20
EXAMPLE_ENVELOPE = {
    "payloadType": "application/vnd.docledger.command+json",
    "payload": "eyJ0eXBlIjoiZGVsaXZlcnkuYWNjZXB0IiwgLi4ufQ==",
    "signatures": [{"keyid": "3f5a0c2e9b7d41a6c8e0f1d2b3a49586", "sig": "MEUCIQ…"}],
}


@router.post(
    "/commands",
    status_code=201,
    responses={**PROBLEM_RESPONSES, 200: {"description": "A retry: the original receipt"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "required": ["payloadType", "payload", "signatures"],
                   "properties": {"payloadType": {"type": "string"},
                                  "payload": {"type": "string"},
                                  "signatures": {"type": "array", "items": {
                                      "type": "object",
                                      "properties": {"keyid": {"type": "string"},
                                                     "sig": {"type": "string"}}}}}},
        "example": EXAMPLE_ENVELOPE}}}},
)
async def submit(request: Request) -> FastJSONResponse:
    """Submit one command as a DSSE envelope signed by the acting party.

    The envelope is its own authentication (its signature, key and issue time
    are verified), so no request signature is needed. Answers 201 with the
    outcome and the ledger-signed receipt; a retry with the same command id
    and bytes answers 200 with the original receipt; the same id with other
    bytes is 409. If the store fails after the command is committed, the answer
    is a 503 ``committed-receipt-pending`` problem naming the command: it IS
    committed, and sending the same bytes again answers with its receipt.
    """
    c = container_of(request)  # not a dependency: every command would pay for solving it
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise UnsupportedMediaType("send the DSSE envelope as application/json")
    body = await read_bounded(request, MAX_ENVELOPE, "an envelope")
    outcome, receipt = await run_command(c, body)
    payload: dict[str, Any] = {**outcome_dict(outcome), "receipt": receipt}
    # a query of the primary, so off the event loop; without a replica, nothing to ask
    lsn = None if c.service.replica is None else await run_in_threadpool(c.service.commit_lsn)
    return FastJSONResponse(payload, status_code=200 if outcome.repeated else 201,
                            headers={COMMIT_LSN: lsn} if lsn else None)


async def run_command(c: Container, body: bytes) -> tuple[Any, dict[str, Any]]:
    def execute() -> tuple[Any, dict[str, Any]]:
        outcome = c.service.execute(body)  # also extends the Merkle log
        return outcome, c.service.receipt(outcome)

    return await run_in_threadpool(execute)
