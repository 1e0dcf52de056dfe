"""Domain errors as RFC 9457 problem details, one table for the whole API."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors
from domain.evidence.merkle import ProofError
from domain.evidence.tiles import TilePathError
from domain.evidence.timestamp import TimestampError
from infrastructure.store_faults import store_fault
from infrastructure.timestamping import TimestampUnavailable

log = logging.getLogger("docledger.api")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:docledger:problem:"

# most specific first
STATUS: list[tuple[type[errors.DocLedgerError], int]] = [
    (errors.InvalidEnvelopeError, 400),
    (TilePathError, 404),  # names no resource, as a static server would answer
    (errors.InvalidInputError, 422),
    (errors.StaleCommandError, 422),
    (errors.DigestMismatchError, 422),
    (ProofError, 422),  # a proof the caller asked for cannot be made: not an auth failure
    (TimestampError, 422),  # a time-stamp token that does not verify: not an auth failure
    (TimestampUnavailable, 503),  # the time-stamping authority, not the caller, failed
    # the ledger's own store lost or forked its history: the service stops, not the caller
    (errors.ForkRefusedError, 503),
    (errors.LogRollbackError, 503),
    (errors.VerificationError, 401),
    (errors.NotFoundError, 404),
    (errors.ForbiddenError, 403),
    (errors.ConflictError, 409),
    (errors.NotInitialisedError, 503),
    (errors.StoreUnavailableError, 503),
]
RETRY_AFTER_SECONDS = 5  # how soon a client may try again when the store was unavailable


class Unauthenticated(errors.VerificationError):
    """The request carries no valid HTTP message signature."""

    code = "unauthenticated"


class PayloadTooLarge(errors.InvalidInputError):
    """The body is larger than the configured limit."""

    code = "payload-too-large"


class UnsupportedMediaType(errors.InvalidInputError):
    """The body's media type is not the one this endpoint takes."""

    code = "unsupported-media-type"


SPECIAL: dict[type[errors.DocLedgerError], int] = {PayloadTooLarge: 413, UnsupportedMediaType: 415}


def status_for(exc: errors.DocLedgerError) -> int:
    if type(exc) in SPECIAL:
        return SPECIAL[type(exc)]
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 500)


def problem(status: int, code: str, title: str, detail: str, *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": TYPE_PREFIX + code, "title": title, "status": status, "detail": detail,
            **extra}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Signature realm="docledger"'}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DocLedgerError)
    if isinstance(exc, errors.StoreUnavailableError):
        return store_unavailable(exc)
    title = (type(exc).__doc__ or type(exc).__name__).strip().splitlines()[0]
    return problem(status_for(exc), exc.code, title, str(exc))


def store_unavailable(exc: errors.StoreUnavailableError) -> JSONResponse:
    """503 with Retry-After; a committed command's problem names the command too."""
    title = (type(exc).__doc__ or "").strip().splitlines()[0]
    extra = {"command_id": exc.command_id} if isinstance(exc, errors.ReceiptPendingError) else {}
    log.warning("%s: %s", exc.code, exc)
    return problem(503, exc.code, title, str(exc),
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, **extra)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything no other handler took: a store fault is a 503; the rest a 500 problem
    whose id the server's log carries with the traceback."""
    fault = store_fault(exc)
    if fault is not None:
        return store_unavailable(fault)
    incident = secrets.token_hex(8)
    log.error("internal error %s on %s %s", incident, request.method, request.url.path,
              exc_info=exc)
    return problem(500, "internal-error", "The server failed to answer",
                   f"an unexpected error; the server's log holds incident {incident}",
                   id=incident)


async def client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client hung up before its body was read: its request is dropped, nothing
    written, and it is not a server fault. The answer goes nowhere; it closes the exchange."""
    log.warning("client left during %s %s before sending its body", request.method,
                request.url.path)
    return problem(400, "client-disconnected", "The client left before sending its body",
                   "the connection closed before the request's body was read")


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                        for e in exc.errors()[:5])
    return problem(422, "invalid-request", "The request's parameters are invalid", details)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem(exc.status_code, code, str(exc.detail), str(exc.detail))


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {PROBLEM_JSON: {"schema": {
        "type": "object", "properties": {k: {"type": t} for k, t in (
            ("type", "string"), ("title", "string"), ("status", "integer"),
            ("detail", "string"))}}}}}
    for status, description in (
        (400, "Malformed request"), (401, "Not authenticated"), (403, "Forbidden"),
        (404, "Not found"), (409, "Conflict"), (413, "Too large"), (415, "Wrong media type"),
        (422, "Invalid input"), (500, "An unexpected error (its id is in the server's log)"),
        (503, "The store is unavailable; retry after Retry-After seconds"))
}
