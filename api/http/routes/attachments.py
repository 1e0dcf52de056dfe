"""Attachment bytes, filed under their SHA-256: upload before the command, fetch as a party.

An agency uploads the bytes first (PUT), then names their digest and size in
document.create or document.revise; the ledger refuses a command whose
attachment it does not hold. The bytes are read back only by the sender or a
recipient of a document that references the digest (view v_attachments); to
anyone else a digest is 404 whether or not the bytes are held, so nobody can
probe whether the ledger holds a file they know.
"""

from __future__ import annotations

import base64
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.http.auth import authenticate_head
from api.http.bodies import declares_body, refuse_declared_over, stream_bounded
from api.http.deps import (
    AfterLsn,
    CallerDep,
    ContainerDep,
    WaitFor,
    find_document,
    fresh_views,
    is_party,
)
from api.http.problems import (
    PROBLEM_RESPONSES,
    Unauthenticated,
    UnsupportedMediaType,
)
from domain.errors import ForbiddenError, NotFoundError

router = APIRouter(prefix="/v1/attachments", tags=["attachments"], responses=PROBLEM_RESPONSES)

OCTET_STREAM = "application/octet-stream"
Sha256Path = Annotated[str, Path(
    pattern="^[0-9a-f]{64}$", description="SHA-256 of the bytes, lower-case hex",
    examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])]


@router.put(
    "/{sha256}",
    status_code=201,
    responses={200: {"description": "The ledger held these bytes already"},
               201: {"description": "Stored", "content": {"application/json": {"example": {
                   "sha256": "9f86d0…", "size": 4, "stored": True}}}}},
    openapi_extra={"requestBody": {"required": True, "content": {
        OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def upload(sha256: Sha256Path, request: Request, c: ContainerDep) -> JSONResponse:
    """Store attachment bytes under their SHA-256, signed by an agency.

    The body is the raw bytes as `application/octet-stream` (else 415), at most
    `max_upload_bytes` (413, refused from Content-Length before reading and
    while reading). The request signature covers the body through
    Content-Digest; it is checked over the request's head before the body is
    read (401, or 403 for a party other than an agency, without reading it).
    The body is never held in memory: it streams into a temporary file in the
    blob store, hashed as it comes, and is filed under its digest only once it
    matches the signed Content-Digest (else 401) and the path's digest (else
    422 `digest-mismatch`); a refused, mismatched or abandoned upload leaves
    nothing behind. Storing the same bytes again is harmless (200).
    """
    if "signature-input" not in request.headers or "signature" not in request.headers:
        raise Unauthenticated("sign the request (RFC 9421 HTTP Message Signatures)")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != OCTET_STREAM:
        raise UnsupportedMediaType(f"send the attachment's bytes as {OCTET_STREAM}")
    limit = c.settings.max_upload_bytes
    refuse_declared_over(request, limit, "an attachment")
    # the signature over the head first: only a registered agency costs the server a body.
    # On a worker thread: the key lookup and the nonce go to the store, and a store
    # that hangs must not hold the event loop (and with it /healthz and every answer)
    head = await run_in_threadpool(authenticate_head, request, c.service.app, c.nonces,
                                   c.settings.request_max_age_seconds,
                                   with_body=declares_body(request.headers))
    if head.caller.kind != "agency":
        raise ForbiddenError("only agencies upload attachments")
    signed = head.body_digest(request)
    with c.service.folder.blobs.receive() as incoming:

        def take(chunk: bytes) -> None:
            signed.update(chunk)
            incoming.write(chunk)

        async for chunk in stream_bounded(request, limit, "an attachment"):
            await run_in_threadpool(take, chunk)
        signed.check()
        # a mismatch is 422 and nothing is kept, held or not
        stored = await run_in_threadpool(incoming.keep, sha256=sha256)
    return JSONResponse({"sha256": sha256, "size": incoming.size, "stored": stored},
                        status_code=201 if stored else 200,
                        headers={"Location": f"/v1/attachments/{sha256}"})


@router.get("/{sha256}", response_class=Response, responses={200: {"content": {
    OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}}}})
def download(sha256: Sha256Path, caller: CallerDep, c: ContainerDep,
             wait_for: WaitFor = None, after_lsn: AfterLsn = None) -> Response:
    """The attachment's bytes, for the sender or a recipient of a document referencing them.

    Anyone else, auditors included, gets 404 as if the digest were unknown.
    """
    rows = fresh_views(c, wait_for, after_lsn).query(
        "SELECT document_id FROM {t:v_attachments} WHERE sha256 = %s ORDER BY document_id",
        [sha256])
    for row in rows:
        doc = find_document(c, UUID(row["document_id"]))
        if doc is not None and is_party(caller, doc):
            blob = c.service.folder.blobs.verified_path(sha256)
            return FileResponse(blob, media_type=OCTET_STREAM, headers={
                "Content-Disposition": f'attachment; filename="{sha256}"',
                "Repr-Digest": repr_digest(sha256),
                "Cache-Control": "private, max-age=31536000, immutable"})
    raise NotFoundError(f"no attachment with sha256 {sha256}")


def repr_digest(sha256: str) -> str:
    """RFC 9530 Repr-Digest of the bytes: the client can check what it got."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
