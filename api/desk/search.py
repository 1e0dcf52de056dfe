"""Search across the documents the signed-in agency is party to (docs/search.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.desk import i18n
from api.desk.deps import PageSession
from api.desk.templating import render
from api.http.deps import ContainerDep
from api.http.routes.views import decode_search_cursor, encode_search_cursor
from domain.errors import InvalidInputError
from infrastructure.views import search as searching

router = APIRouter(prefix="/desk", include_in_schema=False)

PER_PAGE = 50
# as typed in the form: refused with words on the page, never a JSON error
Typed = Annotated[str, Query(max_length=1000)]

i18n.add({
    "search.title": "Tìm kiếm văn bản",
    "search.q": "Từ khóa, số ký hiệu hoặc ngày",
    "search.hint": "Gõ có dấu hoặc không dấu: \"quyet dinh\" tìm được \"Quyết định\". "
                   "Số ký hiệu (12/QĐ-UBND) được xếp trước; ngày (27/11/2026) tìm văn bản "
                   "ban hành hoặc gửi ngày đó.",
    "search.from": "Ban hành từ ngày",
    "search.to": "Đến ngày",
    "search.submit": "Tìm",
    "search.empty": "Không tìm thấy văn bản nào.",
    "search.start": "Nhập từ khóa hoặc khoảng ngày để tìm.",
    "search.exact": "Đúng số ký hiệu",
    "search.role.sender": "Đã gửi",
    "search.role.recipient": "Đã nhận",
    "search.first": "Trang đầu",
    "search.bad_date": "Ngày không hợp lệ: {value} (dùng dạng ngày/tháng/năm).",
    "col.type": "Loại văn bản",
    "col.promulgated": "Ngày ban hành",
    "col.role": "Gửi / nhận",
}, {
    "search.title": "Search documents",
    "search.q": "Words, reference or date",
    "search.hint": "With or without diacritics: \"quyet dinh\" finds \"Quyết định\". "
                   "A reference (12/QĐ-UBND) comes first; a date (27/11/2026) finds the "
                   "documents promulgated or sent that day.",
    "search.from": "Promulgated from",
    "search.to": "To",
    "search.submit": "Search",
    "search.empty": "No document found.",
    "search.start": "Type words or a date range to search.",
    "search.exact": "Exact reference",
    "search.role.sender": "Sent",
    "search.role.recipient": "Received",
    "search.first": "First page",
    "search.bad_date": "Not a date: {value} (use day/month/year).",
    "col.type": "Type",
    "col.promulgated": "Promulgated",
    "col.role": "Sent / received",
})


@dataclass
class Found:
    asked: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    next_url: str | None = None
    error: str | None = None


def form_date(value: str) -> date | None:
    """A date field of the form: empty, ISO (what the date input sends) or d/m/yyyy."""
    if not value.strip():
        return None
    day = searching.as_day(value.strip())
    if day is None:
        raise ValueError(value)
    return date.fromisoformat(day)


def run(c: Any, agency: str, q: str, start: date | None, end: date | None,
        cursor: str | None) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    return searching.search(c.service.fresh_views(), searching.SearchQuery(
        agency=agency, text=q, start=start, end=end, limit=PER_PAGE,
        after=decode_search_cursor(cursor)))


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, session: PageSession, c: ContainerDep, q: Typed = "",
                 start: Annotated[str, Query(alias="from", max_length=40)] = "",
                 end: Annotated[str, Query(alias="to", max_length=40)] = "",
                 cursor: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:
    """The search form and, once asked, one page of results with a link to each document."""
    found, status = Found(asked=bool(q.strip() or start.strip() or end.strip())), 200
    t = i18n.translator(i18n.lang_of(request.cookies.get(i18n.COOKIE)))
    try:
        first, last = form_date(start), form_date(end)
        if found.asked:
            found.rows, after = await run_in_threadpool(run, c, session.agency, q, first,
                                                        last, cursor)
            if after is not None:
                kept = {"q": q, "from": start, "to": end,
                        "cursor": encode_search_cursor(after)}
                found.next_url = f"/desk/search?{urlencode(kept)}"
    except ValueError as bad:
        found.error, status = t("search.bad_date", value=str(bad)), 422
    except InvalidInputError as bad:
        found.error, status = str(bad), 422
    return render(request, "search.html", status=status, agency=session.agency, found=found,
                  q=q, start=start, end=end, cursor=cursor)
