"""The clerk's pages: sign-in, inbox, outbox, sending, one document."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.desk import clerk, clerk_words  # noqa: F401 - clerk_words adds the pages' words
from api.desk.deps import PageSession, caller_of
from api.desk.templating import render, today_vn
from api.http.deps import ContainerDep, WaitFor, party_document
from infrastructure.views import queries

router = APIRouter(prefix="/desk", include_in_schema=False)

States = Annotated[list[str], Query(max_length=len(queries.INBOX_STATES))]
Text = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/desk/inbox", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin(request: Request, next: str = "/desk/inbox") -> HTMLResponse:  # noqa: A002
    target = next if next.startswith("/desk/") and "//" not in next else "/desk/inbox"
    return render(request, "signin.html", next=target)


def inbox_query(agency: str, status: list[str], unit: str | None, officer: str | None,
                overdue: bool, sort: str, page: int) -> queries.InboxQuery:
    return queries.InboxQuery(
        agency=agency, states=tuple(s for s in status if s in queries.INBOX_STATES),
        unit=unit or None, officer=officer or None, overdue=overdue,
        sort=sort if sort in queries.SORTS else "urgency", limit=clerk.PER_PAGE + 1,
        offset=(page - 1) * clerk.PER_PAGE)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, session: PageSession, c: ContainerDep,
                status: States = [], unit: Text = None,  # noqa: B006 - FastAPI's list query
                officer: Text = None, overdue: bool = False, sort: str = "urgency",
                page: PageNo = 1, rows_only: bool = False) -> HTMLResponse:
    """The inbox: filters, sort, paging; ``rows_only`` answers the table body alone
    (the live update fetches it again when the stream says something changed)."""
    q = inbox_query(session.agency, status, unit, officer, overdue, sort, page)
    found = await run_in_threadpool(clerk.inbox_page, c, q, page,
                                    date.fromisoformat(today_vn()))
    return render(request, "inbox_rows.html" if rows_only else "inbox.html",
                  agency=session.agency, found=found, q=q, states=queries.INBOX_STATES,
                  sorts=tuple(queries.SORTS), rows_url=page_url(request, page, rows_only=True),
                  prev_url=page_url(request, page - 1) if page > 1 else None,
                  next_url=page_url(request, page + 1) if found.more else None)


def page_url(request: Request, page: int, *, rows_only: bool = False) -> str:
    """This page's URL with its filters, at page ``page`` (or its table body alone)."""
    kept = [(k, v) for k, v in request.query_params.multi_items()
            if k not in ("page", "rows_only")]
    kept.append(("page", str(page)))
    if rows_only:
        kept.append(("rows_only", "true"))
    return f"{request.url.path}?{urlencode(kept)}"


@router.get("/outbox", response_class=HTMLResponse)
async def outbox(request: Request, session: PageSession, c: ContainerDep,
                 page: PageNo = 1) -> HTMLResponse:
    found = await run_in_threadpool(clerk.outbox_page, c, session.agency, page)
    return render(request, "outbox.html", agency=session.agency, found=found)


@router.get("/send", response_class=HTMLResponse)
async def send(request: Request, session: PageSession, c: ContainerDep) -> HTMLResponse:
    agencies = await run_in_threadpool(clerk.directory, c, session.agency)
    return render(request, "send.html", agency=session.agency, agencies=agencies,
                  today=today_vn())


@router.get("/documents/{document}", response_class=HTMLResponse)
async def document(request: Request, document: UUID, session: PageSession,
                   c: ContainerDep, wait_for: WaitFor = None) -> HTMLResponse:
    """A document its sender or a recipient reads (anyone else: 404 as the API answers)."""

    def read() -> clerk.DocumentView:
        doc = party_document(c, caller_of(session), document, auditors=False)
        return clerk.document_view(c, session.agency, document, doc, wait_for)

    view = await run_in_threadpool(read)
    return render(request, "document.html", agency=session.agency, view=view,
                  doc=view.document, header=view.document.header,
                  step_signature=clerk.step_signature)
