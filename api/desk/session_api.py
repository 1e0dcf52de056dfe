"""Sign-in (challenge, session), sign-out and the language switch (docs/desk.md)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.desk import i18n
from api.desk.deps import desk_state
from api.desk.signin import COOKIE, SESSION_SECONDS, SignInRefused, signin_text
from api.http.auth import party_key
from api.http.deps import ContainerDep
from api.http.problems import PROBLEM_RESPONSES, Unauthenticated
from domain.errors import DocLedgerError, ForbiddenError, InvalidInputError
from domain.evidence.keys import ED25519
from domain.exchange.codes import check_agency_code
from domain.ledger.application import utc_now

router = APIRouter(prefix="/desk", tags=["desk"], responses=PROBLEM_RESPONSES,
                   include_in_schema=False)

AgencyQuery = Annotated[str, Query(min_length=1, max_length=13, pattern=r"^[0-9A-Z.]+$")]


def origin_of(request: Request) -> str:
    """This server's origin as the browser sees it (scheme and Host)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def refuse_foreign_origin(request: Request) -> None:
    """A state-changing desk request carrying another site's Origin is refused (403)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != origin_of(request):
        raise ForbiddenError(f"a desk request from another origin ({origin!r}) is refused")


@router.get("/api/challenge")
def challenge(request: Request, agency: AgencyQuery) -> dict[str, object]:
    """A fresh challenge for ``agency``: single use, valid 60 s, with the origin to sign."""
    code = check_agency_code(agency)
    try:
        value = desk_state(request).new_challenge(code)
    except SignInRefused as exc:
        raise InvalidInputError(str(exc)) from None
    return {"challenge": value, "agency": code, "origin": origin_of(request),
            "expires_in": 60}


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency: str = Field(max_length=13)
    keyid: str = Field(pattern=r"^[0-9a-f]{32}$")
    challenge: str = Field(min_length=1, max_length=100)
    signature: str = Field(min_length=1, max_length=200)


@router.post("/api/session")
async def open_session(body: SignIn, request: Request, c: ContainerDep) -> JSONResponse:
    """Open a session: the signature over the sign-in text by the agency's key in force."""
    refuse_foreign_origin(request)
    state = desk_state(request)
    code = check_agency_code(body.agency)
    try:
        state.take_challenge(body.challenge, code)  # used up whatever happens next
    except SignInRefused as exc:
        raise Unauthenticated(str(exc)) from None
    try:
        signature = base64.b64decode(body.signature, validate=True)
    except binascii.Error:
        raise Unauthenticated("the signature is not base64") from None
    message = signin_text(origin_of(request), code, body.keyid, body.challenge)

    def check() -> None:
        key = party_key(c.service.app, "agency", code, body.keyid, utc_now())
        if key.algorithm != ED25519:
            raise Unauthenticated(f"key {body.keyid} is {key.algorithm}: the desk signs in "
                                  "with an Ed25519 key")
        try:
            key.verify(signature, message)
        except DocLedgerError:
            raise Unauthenticated("the sign-in signature does not verify with the "
                                  f"key {body.keyid} of {code}") from None

    await run_in_threadpool(check)
    sid = state.open(code, body.keyid)
    response = JSONResponse({"agency": code, "keyid": body.keyid,
                             "expires_in": SESSION_SECONDS})
    set_session_cookie(response, request, sid)
    return response


def set_session_cookie(response: Response, request: Request, sid: str) -> None:
    response.set_cookie(COOKIE, sid, max_age=SESSION_SECONDS, path="/desk", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


@router.post("/api/signout")
def sign_out(request: Request) -> JSONResponse:
    """End the session (the cookie and its server-side record)."""
    refuse_foreign_origin(request)
    desk_state(request).close(request.cookies.get(COOKIE))
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/desk", httponly=True, samesite="strict")
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str = "/desk/") -> RedirectResponse:  # noqa: A002
    """Set the ``lang`` cookie and go back to the page (only a /desk/ page)."""
    target = next if next.startswith("/desk/") and "//" not in next and "\\" not in next \
        else "/desk/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(i18n.COOKIE, i18n.lang_of(lang), max_age=365 * 86400, path="/desk",
                        samesite="lax")
    return response
