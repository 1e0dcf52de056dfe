"""The FastAPI application: composition of routers, error mapping, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.http import problems
from api.http.bodies import NoBodyOnReads
from api.http.container import Container
from api.http.routes import (
    attachments,
    commands,
    directory,
    documents,
    edxml,
    gateway,
    health,
    log,
    log_events,
    metrics,
    stream,
    tiles,
    trust,
    views,
)
from domain.errors import DocLedgerError
from infrastructure.settings import Settings
from infrastructure.store_faults import STORE_ERROR_TYPES

DESCRIPTION = """
Tamper-evident exchange of official documents between agencies.

* **Commands** are DSSE envelopes signed by the acting agency; each accepted
  command returns a receipt signed by the ledger.
* **Reads** other than the public ones (directory, log, health) are signed with
  HTTP Message Signatures (RFC 9421, Ed25519) by an agency or an auditor key:
  an agency reads only documents it sent or received; an auditor reads audit
  trails and nothing else.
* **Errors** are RFC 9457 problem details with a stable `type` per error.
"""


def create_app(settings: Settings | None = None, *,
               on_open: Callable[[], None] | None = None) -> FastAPI:
    """The API on ``settings``' ledger, opened when the server starts; ``on_open``
    runs once it is open, before the first request (``docledger serve`` settles
    its heap there: infrastructure/heap.py)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.container = Container.open(settings)
        try:
            if on_open is not None:
                on_open()
            yield
        finally:
            app.state.container.close()

    app = FastAPI(title="docledger", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.add_middleware(NoBodyOnReads)
    app.add_exception_handler(DocLedgerError, problems.domain_error)
    app.add_exception_handler(RequestValidationError, problems.validation_error)
    app.add_exception_handler(StarletteHTTPException, problems.http_error)
    app.add_exception_handler(ClientDisconnect, problems.client_gone)
    # store errors by type, so the handler answers without the server re-raising them;
    # Exception last: no answer is ever a plain-text 500
    for store_error in STORE_ERROR_TYPES:
        app.add_exception_handler(store_error, problems.unexpected_error)
    app.add_exception_handler(Exception, problems.unexpected_error)
    for module in (health, metrics, commands, directory, log, log_events, views, documents,
                   attachments, stream, tiles, edxml, gateway, trust):
        app.include_router(module.router)
    return app
