"""The witness's HTTP API (c2sp.org/tlog-witness), apart from the ledger's.

    POST /add-checkpoint          submission: cosign a checkpoint (the spec's codes)
    GET  /<origin hash>/checkpoint the latest cosigned checkpoint of a log
    GET  /<origin hash>/evidence   refused checkpoints kept as evidence (JSON)
    GET  /evidence                 the same, for every log
    GET  /healthz                  "ok"

Refusals are ``text/plain`` with a one-line reason, except 409, whose body is
the latest cosigned size and whose type is ``text/x.tlog.size``, as the spec says.
See docs/witness.md.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from domain.evidence.witness import Accept
from infrastructure.witness_folder import Witness, WitnessFolder

log = logging.getLogger("docledger.witness")
MAX_BODY = 16 * 1024  # 63 proof lines, a checkpoint and 16 Ed25519 signatures fit well
TEXT = "text/plain; charset=utf-8"
TLOG_SIZE = "text/x.tlog.size"
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


def refusal(status: int, reason: str) -> PlainTextResponse:
    return PlainTextResponse(reason.replace("\n", " ") + "\n", status_code=status,
                             media_type=TEXT)


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request) -> bytes:
    """The body, read no further than MAX_BODY bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_witness_app(folder: WitnessFolder) -> FastAPI:
    witness = Witness(folder)
    app = FastAPI(title=f"docledger witness {witness.key.name}",
                  description="A C2SP tlog-witness: cosigns checkpoints of the logs it trusts.",
                  docs_url=None, redoc_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return refusal(exc.status_code, str(exc.detail))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: Exception) -> Response:
        return refusal(400, "the connection closed before the request's body was read")

    @app.exception_handler(sqlite3.OperationalError)
    async def _store_busy(request: Request, exc: Exception) -> Response:
        # nothing was cosigned or recorded: the transaction rolled back
        log.error("the witness's store failed on %s: %s", request.url.path, exc)
        return refusal(503, "the witness's store is unavailable; retry")

    @app.post("/add-checkpoint", response_class=PlainTextResponse)
    async def add_checkpoint(request: Request) -> Response:
        """Cosign a checkpoint that extends the latest one cosigned for its log."""
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return refusal(413, f"the request body is larger than {MAX_BODY} bytes")
        decision, lines = await run_in_threadpool(witness.add_checkpoint, body)
        if isinstance(decision, Accept):
            assert lines is not None
            return PlainTextResponse(lines, media_type=TEXT)
        if decision.status == 409:
            # exactly the spec's type: no charset parameter added
            return Response(f"{decision.latest_size}\n", status_code=409,
                            headers={"Content-Type": TLOG_SIZE})
        return refusal(decision.status, decision.reason)

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> Response:
        return PlainTextResponse("ok\n", media_type=TEXT)

    @app.get("/evidence")
    def all_evidence() -> JSONResponse:
        """Every checkpoint refused as a fork or rollback, with the one it conflicts with."""
        return JSONResponse([kept.as_dict() for kept in witness.store.evidence()])

    @app.get("/{hashed_origin}/checkpoint", response_class=PlainTextResponse)
    def checkpoint(hashed_origin: str) -> Response:
        """The latest cosigned checkpoint: the log's signature and the witness's."""
        latest = witness.store.latest(hashed_origin) if _ORIGIN_HASH.fullmatch(
            hashed_origin) else None
        if latest is None:
            return refusal(404, "this witness has cosigned no checkpoint of that log")
        return PlainTextResponse(latest.note, media_type=TEXT)

    @app.get("/{hashed_origin}/evidence")
    def evidence(hashed_origin: str) -> JSONResponse:
        """The evidence kept for one log (an empty list when there is none)."""
        kept: list[dict[str, Any]] = []
        if _ORIGIN_HASH.fullmatch(hashed_origin):
            kept = [k.as_dict() for k in witness.store.evidence(hashed_origin)]
        return JSONResponse(kept)

    return app
