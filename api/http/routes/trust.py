"""The trust anchors agency certificates are validated against (public)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.http.deps import ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from api.render import anchor_rows
from domain.exchange.trust import TrustAnchors

router = APIRouter(prefix="/v1/trust", tags=["directory"], responses=PROBLEM_RESPONSES)


@router.get("/anchors")
def anchors(c: ContainerDep) -> dict[str, Any]:
    """Every trust anchor ever added, with the times it was in force (docs/trust.md)."""
    return {"anchors": anchor_rows(c.service.app.find(TrustAnchors, TrustAnchors.id_for()))}
