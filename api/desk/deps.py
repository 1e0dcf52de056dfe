"""The desk's session dependency: the signed-in (agency, keyid), checked on every request.

A page without a session redirects to the sign-in page; an API call answers 401.
The session's key is looked up in the ledger at each request: a key revoked (or
an agency's key no longer in force) ends its sessions there and then.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.desk.signin import COOKIE, DeskState, Session
from api.http.auth import Caller, party_key
from api.http.deps import ContainerDep
from api.http.problems import Unauthenticated
from domain.ledger.application import utc_now


class SignInRequired(Exception):
    """A desk page asked for without a live session: answered by a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def desk_state(request: Request) -> DeskState:
    return request.app.state.desk  # type: ignore[no-any-return]


async def current(request: Request, c: ContainerDep) -> Session | None:
    """The live session of the request's cookie, or None (expired, unknown, key revoked)."""
    state = desk_state(request)
    sid = request.cookies.get(COOKIE)
    session = state.find(sid)
    if session is None:
        return None

    def key_in_force() -> bool:
        try:
            party_key(c.service.app, "agency", session.agency, session.keyid, utc_now())
        except Unauthenticated:
            return False
        return True

    if not await run_in_threadpool(key_in_force):
        state.close(sid)
        return None
    return session


async def page_session(request: Request, c: ContainerDep) -> Session:
    session = await current(request, c)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return session


async def api_session(request: Request, c: ContainerDep) -> Session:
    session = await current(request, c)
    if session is None:
        raise Unauthenticated("sign in to the desk first (no live session)")
    return session


PageSession = Annotated[Session, Depends(page_session)]
ApiSession = Annotated[Session, Depends(api_session)]


def caller_of(session: Session) -> Caller:
    """The session as the API's caller: reads answer it as they answer a signed request."""
    return Caller("agency", session.agency, session.keyid)


def signin_url(next_path: str) -> str:
    return "/desk/signin?next=" + quote(next_path, safe="/")
