"""The log's events, for monitors: signed reads, an agency sees only what names it.

The checkpoint, the proofs and the leaves' data are public; the events' states
(documents' metadata) are not. An auditor reads every event of a stretch of
leaves; an agency reads those that name it (docs/ledger.md, "Monitors") and
nothing of the others; the registrar reads none (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.http.deps import MAX_ID, CallerDep, ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import ForbiddenError
from infrastructure.log_events import MAX_LIMIT, events_page

router = APIRouter(prefix="/v1/log", tags=["log"], responses=PROBLEM_RESPONSES)


@router.get("/events", responses={200: {"content": {"application/json": {"example": {
    "start": 0, "end": 100, "tree_size": 2048, "events": [{
        "leaf_index": 7, "notification_id": 8, "aggregate_id": "5d0f…", "version": 1,
        "topic": "domain.agency:Agency.Registered", "state": "eyJ0aW1lc3RhbXAiOnsi…"}]}}}}})
def log_events(
    caller: CallerDep, c: ContainerDep,
    start: Annotated[int, Query(ge=0, le=MAX_ID, description="The first leaf index")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Leaves to cover")] = 500,
) -> dict[str, Any]:
    """The stored events of leaves [start, end), where `end` is at most `start + limit`
    (more to finish a command) and the latest signed checkpoint's size: every event for
    an auditor, those naming the agency for an agency. `state` is base64 of the stored
    bytes, so a monitor recomputes each leaf hash and proves it against the checkpoint;
    the next page starts at `end`."""
    if caller.kind not in ("agency", "auditor"):
        raise ForbiddenError("the log's events are read by agencies (their own) and auditors")
    c.service.log.issue_checkpoint()  # only when policy says so, as the public reads do
    return events_page(c.service.app, c.service.log, start=start, limit=limit,
                       agency=caller.agency)
