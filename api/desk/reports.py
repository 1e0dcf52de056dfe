"""Registers and statistics of the signed-in agency.

The registers are the rows `docledger register` prints, laid out as the register
book of Decree 30/2020 (static/reports.css prints them on A4 landscape); the
statistics are the figures of `docledger stats`, per month and per lead unit,
each table drawn beside it as a server-rendered SVG chart.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.desk import i18n
from api.desk.charts import Chart, bar_chart, number
from api.desk.deps import PageSession
from api.desk.templating import render, shown
from api.http.deps import ContainerDep, fresh_views
from api.session import today
from infrastructure.views import queries
from infrastructure.views.store import ViewStore

router = APIRouter(prefix="/desk", include_in_schema=False)

Year = Annotated[int | None, Query(ge=2000, le=9999)]
TITLES = {"incoming": "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", "outgoing": "SỔ ĐĂNG KÝ VĂN BẢN ĐI"}

i18n.add({
    "registers.incoming": "Sổ văn bản đến",
    "registers.outgoing": "Sổ văn bản đi",
    "registers.direction": "Sổ",
    "registers.year": "Năm",
    "registers.show": "Xem",
    "registers.print": "In sổ (A4)",
    "registers.empty": "Sổ chưa có văn bản nào trong năm này.",
    "registers.count": "{count} văn bản",
    "stats.year": "Năm",
    "stats.show": "Xem",
    "stats.totals": "Năm {year}: nhận {received} văn bản, đã giải quyết {completed} "
                    "({share}).",
    "stats.totals_on_time": "Giải quyết đúng hạn {on_time} ({rate} số đã giải quyết).",
    "stats.by_month": "Theo tháng",
    "stats.by_unit": "Theo đơn vị chủ trì",
    "stats.month": "Tháng",
    "stats.unit": "Đơn vị",
    "stats.no_unit": "(chưa giao)",
    "stats.received": "Đã nhận",
    "stats.accepted": "Đã vào sổ",
    "stats.refused": "Từ chối",
    "stats.completed": "Đã giải quyết",
    "stats.on_time": "Đúng hạn",
    "stats.overdue": "Quá hạn",
    "stats.rate": "Tỷ lệ đúng hạn",
    "stats.counts_title": "Văn bản nhận và đã giải quyết — {what}, năm {year}",
    "stats.rate_title": "Tỷ lệ giải quyết đúng hạn — {what}, năm {year}",
    "stats.desc": "Biểu đồ cột của bảng số liệu bên cạnh.",
    "stats.none": "Không có văn bản đến trong năm này.",
    "stats.na": "—",
}, {
    "registers.incoming": "Incoming register",
    "registers.outgoing": "Outgoing register",
    "registers.direction": "Register",
    "registers.year": "Year",
    "registers.show": "Show",
    "registers.print": "Print (A4)",
    "registers.empty": "No document in this register this year.",
    "registers.count": "{count} documents",
    "stats.year": "Year",
    "stats.show": "Show",
    "stats.totals": "{year}: {received} documents received, {completed} resolved ({share}).",
    "stats.totals_on_time": "{on_time} resolved on time ({rate} of those resolved).",
    "stats.by_month": "By month",
    "stats.by_unit": "By lead unit",
    "stats.month": "Month",
    "stats.unit": "Unit",
    "stats.no_unit": "(not assigned)",
    "stats.received": "Received",
    "stats.accepted": "Registered",
    "stats.refused": "Refused",
    "stats.completed": "Resolved",
    "stats.on_time": "On time",
    "stats.overdue": "Overdue",
    "stats.rate": "On-time rate",
    "stats.counts_title": "Documents received and resolved — {what}, {year}",
    "stats.rate_title": "Share resolved on time — {what}, {year}",
    "stats.desc": "A bar chart of the table of figures beside it.",
    "stats.none": "No document arrived this year.",
    "stats.na": "—",
})


def agency_name(views: ViewStore, code: str) -> str:
    names = views.query("SELECT name FROM {t:v_agencies} WHERE code = %s", [code])
    return str(names[0]["name"]) if names else code


@router.get("/registers", response_class=HTMLResponse)
def registers(request: Request, session: PageSession, c: ContainerDep,
              direction: Literal["incoming", "outgoing"] = "incoming",
              year: Year = None) -> HTMLResponse:
    """The agency's incoming or outgoing register of a year, in number order."""
    year = year or today().year
    views = fresh_views(c, None)
    rows = queries.register(views, session.agency, direction, year)
    return render(request, "registers.html", agency=session.agency, direction=direction,
                  year=year, rows=rows, name=agency_name(views, session.agency),
                  title=TITLES[direction], headings=queries.REGISTER_HEADINGS[direction])


@router.get("/statistics", response_class=HTMLResponse)
def statistics(request: Request, session: PageSession, c: ContainerDep,
               year: Year = None) -> HTMLResponse:
    """Received, resolved and on time per month and per lead unit, tables and charts."""
    now = today()
    year = year or now.year
    lang = i18n.lang_of(request.cookies.get(i18n.COOKIE))
    t = i18n.translator(lang)
    views = fresh_views(c, None)
    months = queries.monthly_statistics(views, session.agency, year, now)
    units = queries.statistics_by_unit(views, session.agency, date(year, 1, 1),
                                       date(year, 12, 31), now)
    whole = queries.statistics(views, session.agency, date(year, 1, 1), date(year, 12, 31),
                               now)
    month_names = [f"{m:02d}" for m in range(1, 13)]
    unit_names = [shown(u["unit"]) if u["unit"] is not None else t("stats.no_unit")
                  for u in units]
    return render(
        request, "statistics.html", agency=session.agency, year=year, whole=whole,
        months=list(zip(month_names, months, strict=True)),
        units=list(zip(unit_names, units, strict=True)),
        n=lambda v: t("stats.na") if v is None else number(v, lang),
        share=lambda part, of: t("stats.na") if not of else number(
            round(100 * part / of, 1), lang) + "%",
        month_charts=charts("months", t("stats.by_month").lower(), month_names, months,
                            year, lang, slot=44),
        unit_charts=charts("units", t("stats.by_unit").lower(), unit_names, units, year,
                           lang, slot=96))


def charts(chart_id: str, what: str, categories: list[str], figures: list[dict[str, Any]],
           year: int, lang: str, *, slot: int) -> tuple[Chart, Chart]:
    """Counts (received, resolved) and the on-time rate, over ``categories``."""
    t = i18n.translator(lang)
    counts = bar_chart(
        chart_id=f"{chart_id}-counts", title=t("stats.counts_title", what=what, year=year),
        desc=t("stats.desc"), categories=categories, slot=slot,
        fmt=lambda v: number(v, lang),
        series=[(t("stats.received"), [f["received"] for f in figures]),
                (t("stats.completed"), [f["completed"] for f in figures])])
    rate = bar_chart(
        chart_id=f"{chart_id}-rate", title=t("stats.rate_title", what=what, year=year),
        desc=t("stats.desc"), categories=categories, slot=slot, maximum=100, suffix="%",
        fmt=lambda v: number(v, lang),
        series=[(t("stats.rate"), [f["on_time_rate"] for f in figures])])
    return counts, rate
