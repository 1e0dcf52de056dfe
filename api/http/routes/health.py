"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.http.deps import CallerDep, ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import DocLedgerError, ForkRefusedError, LogRollbackError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready"}})
def readyz(c: ContainerDep) -> JSONResponse:
    """Readiness: the database answers, the ledger will sequence and sign (its store
    still holds what it covered and signed), and the views are not far behind."""
    try:
        head = c.session.app.recorder.max_notification_id() or 0
        position = c.session.views.position()
        failure = c.session.views.failure()
        refusal = log_refusal(c)
    except Exception as exc:  # any database failure means not ready, and says why
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    if refusal is not None:  # the ledger will sign nothing until its operator acts
        return JSONResponse({"status": "refusing", "problem": refusal.code,
                             "detail": str(refusal)}, status_code=503)
    if failure is not None:  # the views will not move past it by waiting
        return JSONResponse({"status": "views-stuck", "log_head": head,
                             "views_position": position,
                             "failed_notification": failure.notification_id,
                             "detail": f"notification {failure.notification_id} "
                                       f"({failure.topic}): {failure.reason}"},
                            status_code=503)
    lag = head - position
    ready = lag <= c.settings.ready_max_view_lag
    return JSONResponse({"status": "ready" if ready else "lagging", "log_head": head,
                         "views_position": position, "view_lag": lag},
                        status_code=200 if ready else 503)


def log_refusal(c: ContainerDep) -> DocLedgerError | None:
    """Why the sequencer or the checkpoint signer refuses to go on, if it does: the
    store lost or changed events the Merkle log covers, or no longer extends a
    checkpoint the ledger signed."""
    try:
        c.session.log.check()
    except (ForkRefusedError, LogRollbackError) as exc:
        return exc
    return None


@router.get("/v1/whoami", tags=["auth"], responses={401: PROBLEM_RESPONSES[401]})
def whoami(caller: CallerDep) -> dict[str, str]:
    """Who the request's signature says you are: check your keys and clock here."""
    return {"kind": caller.kind, "name": caller.name, "keyid": caller.keyid}
