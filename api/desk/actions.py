"""What a signed-in clerk's browser calls: commands, attachments, the inbox stream.

Commands arrive as the DSSE envelope the browser signed (the same bytes the CLI
would send); the ledger verifies the envelope's own signature as for any
command, and the desk adds one rule: the envelope's agency is the session's.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.desk.deps import ApiSession, caller_of
from api.desk.session_api import refuse_foreign_origin
from api.http.bodies import read_bounded, refuse_declared_over, stream_bounded
from api.http.deps import ContainerDep
from api.http.problems import PROBLEM_RESPONSES, UnsupportedMediaType
from api.http.routes import attachments, stream
from api.http.routes.commands import MAX_ENVELOPE, run_command
from api.render import outcome_dict
from domain.errors import ForbiddenError, InvalidEnvelopeError
from domain.evidence.envelope import Envelope

router = APIRouter(prefix="/desk/api", tags=["desk"], responses=PROBLEM_RESPONSES,
                   include_in_schema=False)


def envelope_agency(body: bytes) -> str | None:
    """The acting agency the envelope's payload names (None if it names none)."""
    envelope = Envelope.from_json(body)
    try:
        actor = json.loads(envelope.payload)["actor"]
        agency = actor["agency"]
    except (ValueError, KeyError, TypeError):
        raise InvalidEnvelopeError("the payload names no actor agency") from None
    return agency if isinstance(agency, str) else None


@router.post("/commands", status_code=201)
async def submit(request: Request, session: ApiSession, c: ContainerDep) -> JSONResponse:
    """A command the browser signed, for the session's agency only."""
    refuse_foreign_origin(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise UnsupportedMediaType("send the DSSE envelope as application/json")
    body = await read_bounded(request, MAX_ENVELOPE, "an envelope")
    agency = envelope_agency(body)
    if agency != session.agency:
        raise ForbiddenError(f"this session is {session.agency}'s; the command is signed "
                             f"for {agency}")
    outcome, receipt = await run_command(c, body)
    return JSONResponse({**outcome_dict(outcome), "receipt": receipt},
                        status_code=200 if outcome.repeated else 201)


@router.put("/attachments/{sha256}", status_code=201)
async def upload(sha256: attachments.Sha256Path, request: Request, session: ApiSession,
                 c: ContainerDep) -> JSONResponse:
    """Attachment bytes under their SHA-256 (as PUT /v1/attachments, by session)."""
    refuse_foreign_origin(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != \
            attachments.OCTET_STREAM:
        raise UnsupportedMediaType(f"send the attachment's bytes as {attachments.OCTET_STREAM}")
    limit = c.settings.max_upload_bytes
    refuse_declared_over(request, limit, "an attachment")
    with c.service.folder.blobs.receive() as incoming:
        async for chunk in stream_bounded(request, limit, "an attachment"):
            await run_in_threadpool(incoming.write, chunk)
        stored = await run_in_threadpool(incoming.keep, sha256=sha256)
    return JSONResponse({"sha256": sha256, "size": incoming.size, "stored": stored},
                        status_code=201 if stored else 200)


@router.get("/attachments/{sha256}", response_class=Response)
def download(sha256: attachments.Sha256Path, session: ApiSession, c: ContainerDep) -> Response:
    """The bytes, for a party of a document naming them (else 404, as the API answers)."""
    return attachments.download(sha256, caller_of(session), c)


@router.get("/stream", response_class=StreamingResponse)
async def inbox_stream(
    request: Request, session: ApiSession, c: ContainerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=400)] = None,
    timeout: Annotated[float | None, Query(gt=0, le=86_400)] = None,
) -> StreamingResponse:
    """The session agency's inbox changes (GET /v1/agencies/{code}/inbox/stream's events),
    authenticated by the cookie: EventSource cannot sign a request."""
    return await stream.inbox_stream(session.agency, request, caller_of(session), c,
                                     last_event_id, None, timeout)
