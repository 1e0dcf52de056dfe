"""The auditor's page: a bundle verified step by step in the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.desk.templating import render

router = APIRouter(prefix="/desk", include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request) -> HTMLResponse:
    """Public: verifying a bundle needs no session (an auditor may hold no agency key)."""
    return render(request, "placeholder.html", page="audit")
