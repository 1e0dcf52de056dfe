"""Registers and statistics of the signed-in agency."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.desk.deps import PageSession
from api.desk.templating import render

router = APIRouter(prefix="/desk", include_in_schema=False)


@router.get("/registers", response_class=HTMLResponse)
def registers(request: Request, session: PageSession) -> HTMLResponse:
    return render(request, "placeholder.html", agency=session.agency, page="registers")


@router.get("/statistics", response_class=HTMLResponse)
def statistics(request: Request, session: PageSession) -> HTMLResponse:
    return render(request, "placeholder.html", agency=session.agency, page="statistics")
