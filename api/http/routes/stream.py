"""Server-Sent Events of an agency's inbox changes (signed by that agency)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.http.container import Container
from api.http.deps import CallerDep, ContainerDep, require_agency
from api.http.problems import PROBLEM_RESPONSES
from api.http.routes.views import CodePath
from domain.errors import InvalidInputError
from infrastructure.views.queries import DELIVERY_COLUMNS

router = APIRouter(prefix="/v1/agencies/{code}", tags=["stream"], responses=PROBLEM_RESPONSES)

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
BATCH = 100
Position = tuple[str, str]  # (updated_at, delivery_id): the order events are sent in
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def event_id(position: Position) -> str:
    return base64.urlsafe_b64encode("\n".join(position).encode()).decode().rstrip("=")


def parse_event_id(value: str) -> Position:
    try:
        at, delivery = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().split(
            "\n")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInputError("Last-Event-ID: not an event id this stream sent") from None
    # checked before the stream starts: a NUL would fail in PostgreSQL mid-stream
    if CONTROL.search(at) or CONTROL.search(delivery):
        raise InvalidInputError("Last-Event-ID: not an event id this stream sent")
    return at, delivery


def changes_after(c: Container, code: str, after: Position) -> list[dict[str, Any]]:
    """Deliveries to ``code`` whose (updated_at, delivery_id) is past ``after``."""
    views = c.service.fresh_views()
    return views.query(
        f"SELECT {DELIVERY_COLUMNS} FROM {{t:v_deliveries}} WHERE recipient = %s AND "
        "(updated_at > %s OR (updated_at = %s AND delivery_id > %s)) "
        "ORDER BY updated_at, delivery_id LIMIT %s",
        [code, after[0], after[0], after[1], BATCH])


def latest(c: Container, code: str) -> Position:
    """Where a new stream (no Last-Event-ID) starts: after the latest change now."""
    rows = c.service.fresh_views().query(
        "SELECT updated_at, delivery_id FROM {t:v_deliveries} WHERE recipient = %s "
        "ORDER BY updated_at DESC, delivery_id DESC LIMIT 1", [code])
    return (rows[0]["updated_at"], rows[0]["delivery_id"]) if rows else ("", "")


@router.get("/inbox/stream", response_class=StreamingResponse, responses={200: {
    "description": "An event stream (text/event-stream)", "content": {"text/event-stream": {
        "example": 'retry: 2000\n\nid: MjAyNi0xMS0yN1Qw…\nevent: delivery\ndata: {"delivery_id":'
                   ' "4f0c…", "state": "accepted", "status_code": "03", …}\n\n'}}}})
async def inbox_stream(
    code: CodePath,
    request: Request,
    caller: CallerDep,
    c: ContainerDep,
    last_event_id: Annotated[str | None, Header(
        alias="Last-Event-ID", max_length=400,
        description="Resume after this event (browsers send it when they reconnect)")] = None,
    max_events: Annotated[int | None, Query(ge=1, le=10_000, description=(
        "End the stream after this many events"))] = None,
    timeout: Annotated[float | None, Query(gt=0, le=86_400, description=(
        "End the stream after this many seconds"))] = None,
) -> StreamingResponse:
    """Changes to the agency's inbox as they reach the views: `event: delivery`.

    Each event's data is the delivery's inbox row (as in GET /inbox) as JSON; its
    `id` is opaque. Without `Last-Event-ID` the stream starts with changes made
    after it opened; with it, it resumes after that event. Events are ordered by
    the time of the change (then delivery id); a delivery changed several times
    between two polls is sent once, in its latest state. A comment line is sent
    every 15 s of quiet as a keep-alive. The server polls the views every 0.5 s.
    """
    require_agency(caller, code)
    start = (parse_event_id(last_event_id) if last_event_id
             else await run_in_threadpool(latest, c, code))

    async def events() -> AsyncIterator[str]:
        position, sent = start, 0
        deadline = None if timeout is None else time.monotonic() + timeout
        quiet_since = time.monotonic()
        yield "retry: 2000\n\n"
        while True:
            if await request.is_disconnected():
                return
            rows = await run_in_threadpool(changes_after, c, code, position)
            for row in rows:
                position = (row["updated_at"], row["delivery_id"])
                data = json.dumps(row, ensure_ascii=False, default=str)
                yield f"id: {event_id(position)}\nevent: delivery\ndata: {data}\n\n"
                sent += 1
                if max_events is not None and sent >= max_events:
                    return
            now = time.monotonic()
            if rows:
                quiet_since = now
            elif now - quiet_since >= KEEPALIVE_SECONDS:
                quiet_since = now
                yield ": keep-alive\n\n"
            if deadline is not None and now >= deadline:
                return
            if len(rows) < BATCH:
                await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
