"""Search across the documents the signed-in agency is party to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.desk.deps import PageSession
from api.desk.templating import render

router = APIRouter(prefix="/desk", include_in_schema=False)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: PageSession) -> HTMLResponse:
    return render(request, "placeholder.html", agency=session.agency, page="search")
