"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.http.container import Container
from api.http.deps import CallerDep, ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import ForkRefusedError, LogRollbackError
from infrastructure.store_faults import store_fault

router = APIRouter(tags=["health"])

READY_TIMEOUT = 2.0  # seconds: a store that does not answer by then is not ready


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Touches no database and needs no worker thread,
    so it answers at once even while every thread waits on a store that hangs."""
    return {"status": "ok"}


# Each readiness check returns whether it holds and what it found (merged into the
# answer); a check that raises a store fault, or does not finish in time, makes
# the process not ready.
ReadinessCheck = Callable[[Container], tuple[bool, dict[str, Any]]]


def views_keep_up(c: Container) -> tuple[bool, dict[str, Any]]:
    """The database answers and the views are not far behind the log."""
    head = c.service.app.recorder.max_notification_id() or 0
    position = c.service.views.position()
    lag = head - position
    return lag <= c.settings.ready_max_view_lag, {
        "log_head": head, "views_position": position, "view_lag": lag,
        **({} if lag <= c.settings.ready_max_view_lag else {"status": "lagging"})}


def log_is_whole(c: Container) -> tuple[bool, dict[str, Any]]:
    """The sequencer and the checkpoint signer will go on: the store still holds what
    the Merkle log covers and extends every checkpoint the ledger signed."""
    try:
        c.service.log.check()
    except (ForkRefusedError, LogRollbackError) as exc:
        return False, {"status": "refusing", "problem": exc.code, "detail": str(exc)}
    return True, {}


def views_not_stuck(c: Container) -> tuple[bool, dict[str, Any]]:
    """The views are not stopped on an event they cannot apply (waiting will not help)."""
    failure = c.service.views.failure()
    if failure is None:
        return True, {}
    return False, {"status": "views-stuck", "failed_notification": failure.notification_id,
                   "detail": f"notification {failure.notification_id} ({failure.topic}): "
                             f"{failure.reason}"}


def witnessing(c: Container) -> tuple[bool, dict[str, Any]]:
    """What is signed and what is published, and what each witness last answered.
    Lag does not make the ledger not ready (commands go on); a witness that saw
    another history is listed under ``refused_history``."""
    return True, {"witnessing": c.service.log.publisher.report()}


def replica(c: Container) -> tuple[bool, dict[str, Any]]:
    """Whether view reads go to the replica, and if not why (lagging, down,
    promoted). Never makes the ledger not ready: the primary answers those reads."""
    if c.service.replica is None:
        return True, {}
    found = c.service.replica.status()
    return True, {"replica": {"state": found.state, "reads_from": "replica" if found.usable
                              else "primary", "lag_seconds": found.lag_seconds,
                              "replay_lsn": found.replay_lsn,
                              **({"detail": found.detail} if found.detail else {})}}


READINESS_CHECKS: list[ReadinessCheck] = [log_is_whole, views_not_stuck, views_keep_up,
                                          witnessing, replica]


def run_checks(c: Container) -> tuple[bool, dict[str, Any]]:
    """Every check's findings; the first failing check names the status."""
    ready = True
    found: dict[str, Any] = {}
    for check in READINESS_CHECKS:
        holds, details = check(c)
        if not holds and ready:
            ready, found = False, {**found, **details}
        else:
            found |= {k: v for k, v in details.items() if k not in ("status", "detail")}
    return ready, found


@router.get("/readyz", responses={503: {"description": "Not ready"}})
async def readyz(c: ContainerDep) -> JSONResponse:
    """Readiness: every check holds (the store answers, the views keep up), within 2 s."""
    try:
        # a thread of its own, not the request pool's: a hung store may hold all of those
        ready, found = await asyncio.wait_for(asyncio.to_thread(run_checks, c), READY_TIMEOUT)
    except TimeoutError:
        return unavailable(f"the store did not answer within {READY_TIMEOUT:g} s")
    except Exception as exc:
        fault = store_fault(exc)
        if fault is None:
            raise
        return unavailable(str(fault))
    status = "ready" if ready else found.pop("status", "not-ready")
    return JSONResponse({"status": status, **found}, status_code=200 if ready else 503)


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503,
                        headers={"Retry-After": "5"})


@router.get("/v1/whoami", tags=["auth"], responses={401: PROBLEM_RESPONSES[401]})
def whoami(caller: CallerDep) -> dict[str, str]:
    """Who the request's signature says you are: check your keys and clock here."""
    return {"kind": caller.kind, "name": caller.name, "keyid": caller.keyid}
