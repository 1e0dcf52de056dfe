"""The clerk's pages: sign-in, inbox, outbox, sending, one document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.desk.deps import PageSession
from api.desk.templating import render

router = APIRouter(prefix="/desk", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/desk/inbox", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin(request: Request, next: str = "/desk/inbox") -> HTMLResponse:  # noqa: A002
    target = next if next.startswith("/desk/") and "//" not in next else "/desk/inbox"
    return render(request, "signin.html", next=target)


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, session: PageSession) -> HTMLResponse:
    return render(request, "placeholder.html", agency=session.agency, page="inbox")


@router.get("/outbox", response_class=HTMLResponse)
def outbox(request: Request, session: PageSession) -> HTMLResponse:
    return render(request, "placeholder.html", agency=session.agency, page="outbox")


@router.get("/send", response_class=HTMLResponse)
def send(request: Request, session: PageSession) -> HTMLResponse:
    return render(request, "placeholder.html", agency=session.agency, page="send")
