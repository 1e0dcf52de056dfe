"""An edXML message in: the commands it becomes, for the agency to sign (docs/edxml.md,
"`POST /v1/edxml`: the agency still signs").

The ledger holds no agency's key, so it records nothing here: it keeps the
message's bytes (and its attachments') in the blob store and answers the plan,
each command with its id and its fields naming those bytes as ``source``; the
agency signs each (DSSE) and posts it to ``/v1/commands``. A client that cannot
check the plan runs the mapping itself (domain/exchange/edxml/mapping.py), since
it signs what it is shown.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.http.auth import authenticate_head
from api.http.bodies import declares_body, read_bounded
from api.http.deps import ContainerDep
from api.http.problems import PROBLEM_RESPONSES, Unauthenticated, UnsupportedMediaType
from domain.errors import ForbiddenError
from domain.exchange.commands import latest_schema
from domain.exchange.edxml.mapping import Plan, plan_import
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml_signature_policy import check_policy

router = APIRouter(prefix="/v1", tags=["edxml"], responses=PROBLEM_RESPONSES)

XML = "application/xml"
SOURCE_NAME = "message.edxml"


@router.post("/edxml", openapi_extra={"requestBody": {"required": True, "content": {
    XML: {"schema": {"type": "string", "format": "binary"}}}}})
async def plan(request: Request, c: ContainerDep) -> dict[str, Any]:
    """The signed commands an edXML message becomes, as the agency signing the request.

    The body is the raw message as `application/xml` (else 415), at most
    `max_upload_bytes` (413); the request is signed by an agency (RFC 9421, the
    body covered by Content-Digest; else 401, 403 for another party). Nothing is
    recorded: the bytes are kept in the blob store and the answer lists each
    command (`type`, `command_id`, `staff`, `schema_version`, `fields` with
    `source`, whose `signature` is the message's XML signature as this ledger
    judges it) for the agency to sign and post to `/v1/commands`. A message the
    parser or the mapping refuses is 422 naming the element, and so is one whose
    signature the ledger's policy refuses (nothing kept); a message of another
    agency is 403.
    """
    if "signature-input" not in request.headers or "signature" not in request.headers:
        raise Unauthenticated("sign the request (RFC 9421 HTTP Message Signatures)")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != XML:
        raise UnsupportedMediaType(f"send the edXML message as {XML}")
    head = await run_in_threadpool(authenticate_head, request, c.service.app, c.nonces,
                                   c.settings.request_max_age_seconds,
                                   with_body=declares_body(request.headers))
    if head.caller.kind != "agency":
        raise ForbiddenError("only agencies import edXML messages")
    signed = head.body_digest(request)
    data = await read_bounded(request, c.settings.max_upload_bytes, "an edXML message")
    signed.update(data)
    signed.check()

    def planned() -> dict[str, Any]:
        from domain.exchange.edxml_signature import check_xml_signature

        settings = c.service.settings
        found: Plan = plan_import(parse_edxml(data), head.caller.name,
                                  organ_ids=settings.edxml_organ_ids)
        evidence = check_xml_signature(data, settings.edxml_trust_anchors())
        check_policy(evidence, settings.edxml_signature)  # refused: nothing kept
        blobs = c.service.folder.blobs
        source = {"name": SOURCE_NAME, "media_type": XML, "size": len(data),
                  "sha256": blobs.put(data), "signature": evidence.recorded()}
        for blob in found.blobs:
            blobs.put(blob)
        return {"document": str(found.document), "source": source, "note": found.note,
                "commands": [{
                    "type": p.type, "command_id": p.command_id, "staff": p.staff,
                    "schema_version": latest_schema(p.type),
                    "fields": {**p.fields, "source": source} if p.sourced else p.fields}
                    for p in found.commands]}

    return await run_in_threadpool(planned)
