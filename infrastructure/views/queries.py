"""What clerks, leaders and reporting read: inbox, outbox, status, registers, statistics."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domain.errors import InvalidInputError
from domain.evidence.pdf_report import report_lines
from domain.exchange.codes import OPEN_STATES, DeliveryState
from domain.text import display
from infrastructure.views.store import ViewStore

ACTIVE = tuple(state.value for state in OPEN_STATES)
INBOX_STATES = tuple(state.value for state in DeliveryState)
SORTS = {  # each served by an index on (recipient, …) in the same order
    "urgency": "priority DESC, due_key, delivery_id",
    "due": "due_key, priority DESC, delivery_id",
}
DELIVERY_COLUMNS = ("delivery_id, document_id, sender, recipient, reference, subject, priority, "
                    "due_date, state, status_code, incoming_number, lead_unit, officer, "
                    "updated_at")


@dataclass(frozen=True, kw_only=True)
class InboxQuery:
    agency: str
    states: tuple[str, ...] = ()
    overdue: bool = False
    unit: str | None = None
    officer: str | None = None
    sort: str = "urgency"
    limit: int = 50
    offset: int = 0


def inbox(views: ViewStore, q: InboxQuery, today: date) -> list[dict[str, Any]]:
    """One page of an agency's inbox, each row with its overdue flag."""
    unknown = set(q.states) - set(INBOX_STATES)
    if unknown or q.sort not in SORTS or not 1 <= q.limit <= 500 or q.offset < 0:
        raise InvalidInputError(
            f"inbox: states must be among {', '.join(INBOX_STATES)}; sort one of "
            f"{', '.join(SORTS)}; limit 1–500")
    where, params = ["recipient = %s"], [q.agency]
    if q.states:
        where.append(f"state IN ({', '.join(['%s'] * len(q.states))})")
        params += list(q.states)
    if q.overdue:
        where.append(f"due_key < %s AND state IN ({', '.join(['%s'] * len(ACTIVE))})")
        params += [today.isoformat(), *ACTIVE]
    for column, value in (("lead_unit", q.unit), ("officer", q.officer)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    rows = views.query(
        f"SELECT {DELIVERY_COLUMNS} FROM {{t:v_deliveries}} WHERE {' AND '.join(where)} "
        f"ORDER BY {SORTS[q.sort]} LIMIT %s OFFSET %s", [*params, q.limit, q.offset])
    for row in rows:
        row["overdue"] = is_overdue(row, today)
    return rows


def is_overdue(row: dict[str, Any], today: date) -> bool:
    return bool(row["due_date"]) and row["due_date"] < today.isoformat() and (
        row["state"] in ACTIVE)


def outbox(views: ViewStore, agency: str, *, limit: int = 50,
           offset: int = 0) -> list[dict[str, Any]]:
    """Documents an agency sent, newest first, each with every recipient's status."""
    docs = views.query(
        "SELECT document_id, reference, subject, priority, due_date, state, sent_at "
        "FROM {t:v_documents} WHERE sender = %s AND state = 'sent' "
        "ORDER BY sent_at DESC, document_id LIMIT %s OFFSET %s", [agency, limit, offset])
    for doc in docs:
        doc["recipients"] = views.query(
            "SELECT recipient, state, status_code, incoming_number, updated_at "
            "FROM {t:v_deliveries} WHERE document_id = %s ORDER BY recipient",
            [doc["document_id"]])
    return docs


def status(views: ViewStore, document: str) -> dict[str, Any] | None:
    """A document and, per recipient, its timeline of status codes."""
    found = views.query("SELECT * FROM {t:v_documents} WHERE document_id = %s", [document])
    if not found:
        return None
    doc = found[0]
    doc["timeline"] = views.query(
        "SELECT recipient, status_code, event, at, actor, staff, detail, source, signature "
        "FROM {t:v_timeline} "
        "WHERE document_id = %s ORDER BY recipient, version", [document])
    doc["attachment_reports"] = pdf_reports(views, document)
    return doc


def pdf_reports(views: ViewStore, document: str) -> list[dict[str, Any]]:
    """The ledger's reports on the document's PDF attachments, oldest first: each with
    its lines for people (signed by whom, valid, invalid or absent, coverage)."""
    rows = views.query("SELECT report FROM {t:v_pdf_reports} WHERE document_id = %s "
                       "ORDER BY version", [document])
    reports = [json.loads(row["report"]) for row in rows]
    return [{**r, "lines": report_lines(r)} for r in reports]


def register(views: ViewStore, agency: str, direction: str, year: int) -> list[dict[str, Any]]:
    """The incoming or outgoing register (sổ đăng ký văn bản đến/đi) in number order."""
    if direction not in ("incoming", "outgoing"):
        raise InvalidInputError("direction must be incoming or outgoing")
    return views.query(
        "SELECT number, registered_on, reference, subject, counterpart, document_id "
        "FROM {t:v_register} "
        "WHERE agency = %s AND direction = %s AND year = %s ORDER BY number",
        [agency, direction, year])


REGISTER_HEADINGS = {"incoming": ("Số đến", "Ngày đến", "Số, ký hiệu", "Trích yếu", "Nơi gửi"),
                     "outgoing": ("Số", "Ngày", "Số, ký hiệu", "Trích yếu", "Nơi nhận")}


def register_csv(rows: list[dict[str, Any]], direction: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_HEADINGS[direction])
    for r in rows:
        writer.writerow([r["number"], r["registered_on"], r["reference"],
                         spreadsheet_text(display(r["subject"])), r["counterpart"]])
    return out.getvalue()


def spreadsheet_text(value: str) -> str:
    """A cell a spreadsheet shows as text: a subject an agency signed must not run as a
    formula on a clerk's machine when the register is opened (``=HYPERLINK(…)``)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def register_html(rows: list[dict[str, Any]], *, agency: str, name: str, direction: str,
                  year: int) -> str:
    """A print-ready page (A4 landscape) of the register."""
    title = ("SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" if direction == "incoming" else "SỔ ĐĂNG KÝ VĂN BẢN ĐI")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in REGISTER_HEADINGS[direction])
    cells = ("number", "registered_on", "reference", "subject", "counterpart")
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(display(str(r[c])))}</td>" for c in cells) + "</tr>"
        for r in rows)
    return (
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
        f"<title>{title} {year} — {html.escape(agency)}</title><style>"
        "@page{size:A4 landscape;margin:15mm}body{font-family:'Times New Roman',serif}"
        "h1{text-align:center;font-size:16pt}table{border-collapse:collapse;width:100%}"
        "th,td{border:1px solid #000;padding:4px;font-size:11pt;vertical-align:top}"
        "thead{display:table-header-group}tr{page-break-inside:avoid}</style></head><body>"
        f"<p>{html.escape(display(name))} ({html.escape(agency)})</p><h1>{title}</h1>"
        f"<p style=\"text-align:center\">Năm {year}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>")


# the figures of a set of deliveries (statistics); the %s are today and the open states
FIGURES = (
    "count(*) AS received, "
    "sum(CASE WHEN accepted_on IS NOT NULL THEN 1 ELSE 0 END) AS accepted, "
    "sum(CASE WHEN state = 'refused' THEN 1 ELSE 0 END) AS refused, "
    "sum(CASE WHEN completed_on IS NOT NULL THEN 1 ELSE 0 END) AS completed, "
    "sum(CASE WHEN completed_on IS NOT NULL AND (due_date IS NULL OR completed_on <= "
    "due_date) THEN 1 ELSE 0 END) AS completed_on_time, "
    "sum(CASE WHEN (completed_on IS NOT NULL AND completed_on > due_date) OR "
    "(completed_on IS NULL AND due_date < %s AND state IN "
    f"({', '.join(['%s'] * len(ACTIVE))})) THEN 1 ELSE 0 END) AS overdue")
FIGURE_NAMES = ("received", "accepted", "refused", "completed", "completed_on_time", "overdue")


def statistics(views: ViewStore, agency: str, start: date, end: date,
               today: date) -> dict[str, Any]:
    """Figures an agency publishes for deliveries it received between start and end.

    received: arrived in the period; accepted / refused: of those; completed: of
    those, completed by now; on time: completed on or before the due date (or
    with none); overdue: past due and not completed, or completed late;
    on-time rate: on time / completed.
    """
    _check_period(start, end)
    row = views.query(
        f"SELECT {FIGURES} FROM {{t:v_deliveries}} "
        "WHERE recipient = %s AND arrived_on BETWEEN %s AND %s",
        [today.isoformat(), *ACTIVE, agency, start.isoformat(), end.isoformat()])[0]
    return {"agency": agency, "from": start.isoformat(), "to": end.isoformat(),
            **_figures(row)}


def statistics_by_unit(views: ViewStore, agency: str, start: date, end: date,
                       today: date) -> list[dict[str, Any]]:
    """The same figures per lead unit (``unit`` None: not assigned to one), by unit name.

    The rows add up to :func:`statistics` of the same period: each delivery has at
    most one lead unit.
    """
    _check_period(start, end)
    rows = views.query(
        f"SELECT lead_unit, {FIGURES} FROM {{t:v_deliveries}} "
        "WHERE recipient = %s AND arrived_on BETWEEN %s AND %s "
        "GROUP BY lead_unit ORDER BY lead_unit IS NULL, lead_unit",
        [today.isoformat(), *ACTIVE, agency, start.isoformat(), end.isoformat()])
    return [{"unit": row.pop("lead_unit"), **_figures(row)} for row in rows]


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidInputError("the period ends before it starts")


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    figures = {k: int(row[k] or 0) for k in FIGURE_NAMES}
    on_time_rate = (round(100 * figures["completed_on_time"] / figures["completed"], 1)
                    if figures["completed"] else None)
    return {**figures, "on_time_rate": on_time_rate}


def monthly_statistics(views: ViewStore, agency: str, year: int,
                       today: date) -> list[dict[str, Any]]:
    """:func:`statistics` for each month of ``year``, January first."""
    months = [date(year, m, 1) for m in range(1, 13)] + [date(year + 1, 1, 1)]
    return [statistics(views, agency, first, nxt - timedelta(days=1), today)
            for first, nxt in itertools.pairwise(months)]
