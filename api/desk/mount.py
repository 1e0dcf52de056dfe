"""Puts the desk into the API's app: routers, static files, headers, sign-in redirects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.desk import actions, audit, pages, reports, search, session_api
from api.desk.csp import DeskHeaders
from api.desk.deps import SignInRequired, signin_url
from api.desk.signin import DeskState
from api.http.app import create_app
from infrastructure.settings import Settings

STATIC = Path(__file__).parent / "static"
# each desk module's router, in the order their routes are matched
ROUTERS = (session_api.router, actions.router, pages.router, search.router, reports.router,
           audit.router)


async def to_signin(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(signin_url(exc.next_path), status_code=303)


def mount_desk(app: FastAPI) -> None:
    app.state.desk = DeskState()
    app.add_middleware(DeskHeaders)
    app.add_exception_handler(SignInRequired, to_signin)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/desk/static", StaticFiles(directory=STATIC), name="desk-static")


def create_served_app(settings: Settings | None = None, *,
                      on_open: Callable[[], None] | None = None) -> FastAPI:
    """What ``docledger serve`` runs: the HTTP API with the desk under /desk/
    (``on_open``: as ``create_app``'s)."""
    app = create_app(settings, on_open=on_open)
    mount_desk(app)
    return app
