"""The agency directory with public keys (public)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.http.deps import ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import NotFoundError
from domain.exchange.agency import Agency
from domain.exchange.codes import AGENCY_CODE

router = APIRouter(prefix="/v1/agencies", tags=["directory"], responses=PROBLEM_RESPONSES)
CodePath = Annotated[str, Path(pattern=AGENCY_CODE.pattern, examples=["000.00.00.G22"])]


def agency_entry(agency: Agency) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "keys": [
        {**entry.key.to_spec(), "effective_from": entry.effective_from.isoformat(),
         "revoked_at": None if entry.revoked_at is None else entry.revoked_at.isoformat(),
         **({} if entry.certificate is None else {
             "certificate": entry.certificate,
             "not_before": entry.not_before.isoformat() if entry.not_before else None,
             "not_after": entry.not_after.isoformat() if entry.not_after else None})}
        for entry in agency.keys.values()]}


@router.get("")
def directory(c: ContainerDep) -> dict[str, Any]:
    """Every registered agency with its key history."""
    c.service.fresh_views()
    codes = [r["code"] for r in c.service.views.query(
        "SELECT code FROM {t:v_agencies} ORDER BY code")]
    agencies = [c.service.app.find(Agency, Agency.id_for(code)) for code in codes]
    return {"agencies": [agency_entry(a) for a in agencies if a is not None]}


@router.get("/{code}")
def agency(code: CodePath, c: ContainerDep) -> dict[str, Any]:
    """One agency and its key history."""
    found = c.service.app.find(Agency, Agency.id_for(code))
    if found is None:
        raise NotFoundError(f"agency {code} is not registered")
    return agency_entry(found)
