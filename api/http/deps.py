"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.auth import Caller, authenticate
from api.http.bodies import refuse_body
from api.http.container import Container
from domain.errors import ForbiddenError, NotFoundError
from domain.exchange.document import Document
from infrastructure.views.replica import LSN_PATTERN
from infrastructure.views.store import ViewStore


def container_of(request: Request) -> Container:
    """The application's container, for a route that takes no dependency (the
    command route: FastAPI's solving of even one dependency costs ~20 µs of the
    event loop's time per request)."""
    return request.app.state.container  # type: ignore[no-any-return]


async def container(request: Request) -> Container:
    # async: FastAPI would run a plain function on its thread pool, a hand-off to
    # another thread and back on every request for one attribute read
    return container_of(request)


ContainerDep = Annotated[Container, Depends(container)]


async def caller(request: Request, c: ContainerDep) -> Caller:
    """The signed caller; 401 if the request is unsigned or the signature fails.

    Signed routes other than uploads are reads: a body is refused unread (413),
    and the signature is checked over none.
    """
    refuse_body(request)
    # on a worker thread: the key lookup and the nonce go to the store, and a store
    # that hangs must not hold the event loop (and with it /healthz and every answer)
    return await run_in_threadpool(authenticate, request, b"", c.service.app, c.nonces,
                                   c.settings.request_max_age_seconds)


CallerDep = Annotated[Caller, Depends(caller)]


# ---- helpers for the read endpoints --------------------------------------------------------

MAX_ID = 2**63 - 1  # notification ids, tree sizes and offsets are 64-bit in both databases
# PostgreSQL text cannot hold NUL, and no name or unit holds a control character:
# refused as a 422 here rather than failing in the database
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"

WaitFor = Annotated[int | None, Query(
    ge=1, le=MAX_ID, description="Read-your-writes: answer only once the views include this "
    "notification id (the largest of a command's `notification_ids`).", examples=[1234])]


AfterLsn = Annotated[str | None, Query(
    pattern=LSN_PATTERN, description="Read-your-writes on a replica: read it only once it has "
    "replayed this WAL position (a command's `X-Docledger-Commit-LSN`); else the primary "
    "answers.", examples=["0/16B3748"])]


def fresh_views(c: Container, wait_for: int | None, after_lsn: str | None = None) -> ViewStore:
    """The views (a replica's when it has replayed far enough), caught up to
    ``wait_for``; 503 if they do not get there in time."""
    try:
        return c.service.read_views(wait_for, after_lsn)
    except TimeoutError:
        raise StarletteHTTPException(
            503, f"the views have not reached notification {wait_for} yet; retry") from None


def require_agency(caller: Caller, code: str) -> None:
    """Only the agency itself reads its inbox, outbox, registers and figures (else 403)."""
    if caller.kind != "agency" or caller.name != code:
        raise ForbiddenError(f"only agency {code} may read this; the request is signed by "
                             f"{caller.kind} {caller.name}")


def find_document(c: Container, document: UUID) -> Document | None:
    return c.service.app.find(Document, document)


def is_party(caller: Caller, doc: Document) -> bool:
    """The sender or one of the recipients (recipients appear once it is sent)."""
    return caller.kind == "agency" and (caller.name == doc.sender
                                        or caller.name in doc.recipients)


def party_document(c: Container, caller: Caller, document: UUID, *,
                   auditors: bool) -> Document:
    """The document if the caller is a party (or, with ``auditors``, an auditor).

    Anyone else gets the same 404 as for a document that does not exist, so a
    third agency cannot learn that it does; an auditor (who may read every audit
    trail, so may know it exists) gets 403 on what is not an audit trail.
    """
    doc = find_document(c, document)
    if doc is not None and is_party(caller, doc):
        return doc
    if doc is not None and caller.kind == "auditor":
        if auditors:
            return doc
        raise ForbiddenError("auditors read audit trails (history, bundle), not document status")
    raise NotFoundError(f"document {document} does not exist")
