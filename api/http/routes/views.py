"""An agency's own views: inbox, outbox, registers and figures (signed by that agency)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.http.deps import (
    MAX_ID,
    PLAIN_TEXT,
    AfterLsn,
    CallerDep,
    ContainerDep,
    WaitFor,
    fresh_views,
    require_agency,
)
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import InvalidInputError
from domain.exchange.codes import AGENCY_CODE, VIETNAM_TIME
from infrastructure.views import queries
from infrastructure.views import search as searching

router = APIRouter(prefix="/v1/agencies/{code}", tags=["views"], responses=PROBLEM_RESPONSES)

CodePath = Annotated[str, Path(pattern=AGENCY_CODE.pattern, examples=["000.00.00.H41"],
                               description="The agency's code; the request must be signed by it")]
Limit = Annotated[int, Query(ge=1, le=200, description="Rows per page")]
Cursor = Annotated[str | None, Query(
    max_length=200, description="`next` of the previous page (opaque; absent: the first page)")]
MAX_OFFSET = MAX_ID - 1000  # offset + limit + 1 stays a 64-bit integer in the query

EXAMPLE_PAGE = {"items": [{"delivery_id": "4f0c…", "document_id": "9a2e…",
                           "sender": "000.00.00.G22", "recipient": "000.00.00.H41",
                           "reference": "12/QĐ-UBND", "subject": "Về việc …", "priority": 1,
                           "due_date": "2026-12-15", "state": "arrived", "status_code": "01",
                           "incoming_number": None, "lead_unit": None, "officer": None,
                           "updated_at": "2026-11-27T02:15:00+00:00", "overdue": False}],
                "next": "eyJvIjo1MH0"}


def today() -> date:
    """Today in Vietnam's time: the date the views count by."""
    return datetime.now(VIETNAM_TIME).date()


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor stands for (it is an offset: pages may shift if rows move)."""
    if cursor is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInputError("cursor: not a cursor this API gave out") from None
    # type(): JSON true is a Python int, and the database would take it as a number
    if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInputError("cursor: not a cursor this API gave out")
    return offset


def page(rows: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    """One page from ``limit + 1`` rows: the extra row says there is a next page."""
    more = len(rows) > limit
    return {"items": rows[:limit], "next": encode_cursor(offset + limit) if more else None}


@router.get("/inbox", responses={200: {"content": {"application/json": {
    "example": EXAMPLE_PAGE}}}})
def inbox(
    code: CodePath,
    caller: CallerDep,
    c: ContainerDep,
    state: Annotated[list[Literal[queries.INBOX_STATES]] | None, Query(  # type: ignore[valid-type]
        description="Only deliveries in these states (repeat the parameter for several)")] = None,
    overdue: Annotated[bool, Query(description="Only active deliveries past their due date")]
    = False,
    unit: Annotated[str | None, Query(max_length=200, pattern=PLAIN_TEXT,
                                      description="Lead unit assigned")] = None,
    officer: Annotated[str | None, Query(max_length=200, pattern=PLAIN_TEXT,
                                         description="Officer assigned")] = None,
    sort: Annotated[Literal["urgency", "due"], Query(
        description="urgency: priority, then due date; due: due date, then priority")]
    = "urgency",
    limit: Limit = 50,
    cursor: Cursor = None,
    wait_for: WaitFor = None, after_lsn: AfterLsn = None,
) -> dict[str, Any]:
    """The agency's inbox: deliveries it received, one page at a time.

    Each row carries its delivery state, status code, incoming number, assignment
    and an `overdue` flag (past the due date in Vietnam's time and still active).
    """
    require_agency(caller, code)
    views = fresh_views(c, wait_for, after_lsn)
    offset = decode_cursor(cursor)
    rows = queries.inbox(views, queries.InboxQuery(
        agency=code, states=tuple(state or ()), overdue=overdue, unit=unit, officer=officer,
        sort=sort, limit=limit + 1, offset=offset), today())
    return page(rows, limit, offset)


@router.get("/outbox")
def outbox(code: CodePath, caller: CallerDep, c: ContainerDep, limit: Limit = 50,
           cursor: Cursor = None, wait_for: WaitFor = None,
           after_lsn: AfterLsn = None) -> dict[str, Any]:
    """Documents the agency sent, newest first, each with every recipient's status."""
    require_agency(caller, code)
    views = fresh_views(c, wait_for, after_lsn)
    offset = decode_cursor(cursor)
    return page(queries.outbox(views, code, limit=limit + 1, offset=offset), limit, offset)


def encode_search_cursor(after: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(
        json.dumps({"p": after[0], "s": after[1]}).encode()).decode().rstrip("=")


def decode_search_cursor(cursor: str | None) -> tuple[int, int]:
    """The position a search cursor stands for: (part, seq) of the last row shown."""
    if cursor is None:
        return (searching.EXACT, searching.START)
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        part, seq = raw["p"], raw["s"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInputError("cursor: not a cursor this API gave out") from None
    if (type(part) is not int or type(seq) is not int or part not in (0, 1)
            or not 0 <= seq <= searching.START):
        raise InvalidInputError("cursor: not a cursor this API gave out")
    return part, seq


EXAMPLE_SEARCH = {"items": [{
    "seq": 812, "document_id": "9a2e…", "role": "recipient", "sender": "000.00.00.G22",
    "sender_name": "UBND tỉnh Thanh Hóa", "reference": "12/QĐ-UBND",
    "subject": "Quyết định về …", "type_name": "Quyết định", "promulgated_on": "2026-11-27",
    "sent_on": "2026-11-27", "exact": True}], "next": "eyJwIjoxLCJzIjo4MTJ9"}


@router.get("/search", responses={200: {"content": {"application/json": {
    "example": EXAMPLE_SEARCH}}}})
def search(
    code: CodePath,
    caller: CallerDep,
    c: ContainerDep,
    q: Annotated[str, Query(max_length=searching.MAX_TEXT, description=(
        "Words of the subject, reference (number and notation), type, or the sender's "
        "code or name; with or without Vietnamese diacritics (\"quyet dinh\" finds "
        "\"Quyết định\"); every word must be there. A reference (\"12/QĐ-UBND\") lists "
        "the document so numbered first; a date (\"27/11/2026\" or \"2026-11-27\") finds "
        "documents promulgated or sent that day. Operators and quotes are plain text."))]
    = "",
    start: Annotated[date | None, Query(
        alias="from", description="Promulgated on or after (YYYY-MM-DD)")] = None,
    end: Annotated[date | None, Query(
        alias="to", description="Promulgated on or before (YYYY-MM-DD)")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    wait_for: WaitFor = None,
) -> dict[str, Any]:
    """Documents the agency is party to (sent, or received and not removed) that
    match: exact reference first, then most recent first. Nothing to look for
    (no word, no date) finds nothing."""
    require_agency(caller, code)
    rows, after = searching.search(fresh_views(c, wait_for), searching.SearchQuery(
        agency=code, text=q, start=start, end=end, limit=limit,
        after=decode_search_cursor(cursor)))
    return {"items": rows, "next": None if after is None else encode_search_cursor(after)}


@router.get("/registers/{direction}/{year}", responses={200: {"content": {
    "application/json": {"example": {"agency": "000.00.00.H41", "direction": "incoming",
                                     "year": 2026, "entries": [{
                                         "number": 1, "registered_on": "2026-11-27",
                                         "reference": "12/QĐ-UBND", "subject": "Về việc …",
                                         "counterpart": "000.00.00.G22",
                                         "document_id": "9a2e…"}]}},
    "text/csv": {"example": "Số đến,Ngày đến,Số, ký hiệu,Trích yếu,Nơi gửi\r\n"}}}})
def register(
    code: CodePath,
    direction: Annotated[Literal["incoming", "outgoing"], Path(
        description="incoming: sổ văn bản đến; outgoing: sổ văn bản đi")],
    year: Annotated[int, Path(ge=2000, le=9999, examples=[2026])],
    caller: CallerDep,
    c: ContainerDep,
    format: Annotated[Literal["json", "csv"], Query(  # noqa: A002 - the parameter's name
        description="csv: the register as text/csv with the official column headings")]
    = "json",
    wait_for: WaitFor = None, after_lsn: AfterLsn = None,
) -> Any:
    """The agency's incoming or outgoing register of a year, in number order."""
    require_agency(caller, code)
    rows = queries.register(fresh_views(c, wait_for, after_lsn), code, direction, year)
    if format == "csv":
        return Response(queries.register_csv(rows, direction), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="register-{direction}-{year}.csv"'})
    return {"agency": code, "direction": direction, "year": year, "entries": rows}


@router.get("/statistics", responses={200: {"content": {"application/json": {"example": {
    "agency": "000.00.00.H41", "from": "2026-01-01", "to": "2026-12-31", "received": 10,
    "accepted": 9, "refused": 1, "completed": 6, "completed_on_time": 5, "overdue": 2,
    "on_time_rate": 83.3}}}}})
def statistics(
    code: CodePath,
    caller: CallerDep,
    c: ContainerDep,
    start: Annotated[date | None, Query(
        alias="from", description="First day (YYYY-MM-DD); default 1 January this year")] = None,
    end: Annotated[date | None, Query(
        alias="to", description="Last day (YYYY-MM-DD); default today")] = None,
    wait_for: WaitFor = None, after_lsn: AfterLsn = None,
) -> dict[str, Any]:
    """Figures for deliveries the agency received in the period (days in Vietnam's time).

    received: arrived in the period; accepted / refused: of those; completed: of
    those, completed by now; on time: completed on or before the due date (or
    with none); overdue: past due and not completed, or completed late;
    on_time_rate: on time / completed, in percent.
    """
    require_agency(caller, code)
    now = today()
    return queries.statistics(fresh_views(c, wait_for, after_lsn), code,
                              start or date(now.year, 1, 1), end or now, now)
