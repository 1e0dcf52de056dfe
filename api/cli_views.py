"""``docledger`` commands that read the projection views, and run and rebuild them."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from api import render
from api.cli_options import (
    DataOpt,
    DocArg,
    JsonOpt,
    KeyOpt,
    LocalOnlyServerOpt,
    ReaderOpt,
    ServerOpt,
    document_ref,
    local_only,
    open_service,
    open_session,
)
from api.remote import MAX_PAGE
from api.session import today
from domain.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from infrastructure.service import LedgerService
from infrastructure.store_faults import store_faults_as_errors
from infrastructure.views import queries
from infrastructure.views.schema import VIEWS
from infrastructure.views.worker import FAULT_BACKOFF, check, rebuild

WaitOpt = Annotated[int | None, typer.Option(
    "--wait-for", help="Wait until the views include this notification id.")]
PageOpt = Annotated[int, typer.Option(help="Page number, from 1.")]
PerPageOpt = Annotated[int, typer.Option(help=f"Rows per page (1–500; 1–{MAX_PAGE} with "
                                                "--server).")]

commands = typer.Typer()


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


@commands.command()
def inbox(
    agency: Annotated[str, typer.Argument(help="Agency code.")],
    status: Annotated[list[str] | None, typer.Option(
        help=f"State (repeatable): {', '.join(queries.INBOX_STATES)}.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only deliveries past their due date.")] = False,
    unit: Annotated[str | None, typer.Option(help="Assigned to this handling unit.")] = None,
    officer: Annotated[str | None, typer.Option(help="Assigned to this officer.")] = None,
    sort: Annotated[str, typer.Option(help="urgency (priority, then due date) or due.")] =
    "urgency",
    page: PageOpt = 1,
    per_page: PerPageOpt = 50,
    wait_for: WaitOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An agency's inbox: deliveries by state, most urgent first, overdue flagged."""
    rows = open_session(data, server, key).inbox(
        agency, states=tuple(status or ()), overdue=overdue, unit=unit, officer=officer,
        sort=sort, page=page, per_page=per_page, wait_for=wait_for)
    if as_json:
        render.print_json(rows)
        return
    table = Table(title=f"Inbox of {agency} (page {page})")
    for column in ("document", "reference", "subject", "from", "priority", "due", "state",
                   "no.", "assigned to"):
        table.add_column(column)
    for r in rows:
        due = (r["due_date"] or "") + (" [red]overdue[/]" if r["overdue"] else "")
        table.add_row(r["document_id"], r["reference"], render.shown(r["subject"][:60]),
                      r["sender"], str(r["priority"]), due, f"{r['status_code']} {r['state']}",
                      str(r["incoming_number"] or ""),
                      render.shown(" / ".join(x for x in (r["lead_unit"], r["officer"]) if x)))
    render.out.print(table)


@commands.command()
def outbox(
    agency: Annotated[str, typer.Argument(help="Agency code.")],
    page: PageOpt = 1,
    per_page: PerPageOpt = 50,
    wait_for: WaitOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Documents an agency sent, with each recipient's current status."""
    docs = open_session(data, server, key).outbox(agency, page=page, per_page=per_page,
                                                  wait_for=wait_for)
    if as_json:
        render.print_json(docs)
        return
    table = Table(title=f"Outbox of {agency} (page {page})")
    for column in ("document", "reference", "subject", "recipients"):
        table.add_column(column)
    for d in docs:
        recipients = ", ".join(f"{r['recipient']}: {r['status_code']}" for r in d["recipients"])
        table.add_row(d["document_id"], d["reference"], render.shown(d["subject"][:60]), recipients)
    render.out.print(table)


@commands.command()
def search(
    agency: Annotated[str, typer.Option("--as", help="The agency searching: what it sent or "
                                                   "received.")],
    text: Annotated[str, typer.Argument(help=(
        "Words to find, with or without diacritics (\"quyet dinh\"), a reference "
        "(\"12/QĐ-UBND\") or a date (27/11/2026)."))] = "",
    start: Annotated[str | None, typer.Option("--from", help="Promulgated on or after, "
                                                            "YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Promulgated on or before, "
                                                        "YYYY-MM-DD.")] = None,
    page: PageOpt = 1,
    per_page: PerPageOpt = 50,
    wait_for: WaitOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the documents an agency sent or received: exact reference first,
    then the most recent."""
    first = None if start is None else parse_date(start, "--from")
    last = None if end is None else parse_date(end, "--to")
    rows = open_session(data, server, key).search(
        agency, text, first=first, last=last, page=page, per_page=per_page, wait_for=wait_for)
    if as_json:
        render.print_json(rows)
        return
    table = Table(title=f"Search of {agency} for {render.shown(text)!r} (page {page})")
    for column in ("document", "reference", "subject", "from", "promulgated", "sent"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["document_id"], r["reference"], render.shown(r["subject"][:60]),
                      r["sender"], r["promulgated_on"] or "", r["sent_on"] or "")
    render.out.print(table)


@commands.command()
def status(doc: DocArg, wait_for: WaitOpt = None, data: DataOpt = None,
           server: ServerOpt = None, party: ReaderOpt = None, key: KeyOpt = None,
           as_json: JsonOpt = False) -> None:
    """A document's status timeline per recipient (code, time, actor)."""
    found = open_session(data, server, key).status(party, document_ref(doc), wait_for)
    if found is None:
        raise NotFoundError(f"document {doc} is not in the views")
    if as_json:
        render.print_json(found)
        return
    table = Table(title=f"{found['reference']} — {render.shown(found['subject'][:70])}")
    signed = any(t.get("signature") for t in found["timeline"])
    for column in ("recipient", "code", "event", "time (UTC)", "by", "detail",
                   *(("message's XML signature",) if signed else ())):
        table.add_column(column)
    for t in found["timeline"]:
        by = t["actor"] + (f" ({render.shown(t['staff'])})" if t["staff"] else "")
        table.add_row(t["recipient"], t["status_code"] or "", t["event"],
                      t["at"][:19].replace("T", " "), by, render.shown(t["detail"]),
                      *((render.shown(t.get("signature") or ""),) if signed else ()))
    render.out.print(table)
    render.print_pdf_reports([line for r in found.get("attachment_reports", [])
                              for line in r["lines"]])


@commands.command("register")
def register_cmd(
    agency: Annotated[str, typer.Argument(help="Agency code.")],
    direction: Annotated[str, typer.Option(help="incoming or outgoing.")] = "incoming",
    year: Annotated[int | None, typer.Option(help="Register year (default: this year).")] =
    None,
    csv: Annotated[Path | None, typer.Option(help="Write the register as CSV here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a print-ready HTML page here.")] =
    None,
    wait_for: WaitOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The incoming or outgoing register (sổ đăng ký văn bản đến/đi), in number order."""
    year = year or today().year
    session = open_session(data, server, key)
    rows = session.register(agency, direction, year, wait_for)
    name = session.agency_name(agency) if html is not None else agency
    if csv is not None:
        csv.write_text(queries.register_csv(rows, direction), encoding="utf-8")
    if html is not None:
        html.write_text(queries.register_html(
            rows, agency=agency, name=name, direction=direction, year=year), encoding="utf-8")
    if as_json:
        render.print_json(rows)
    elif csv is None and html is None:
        table = Table(title=f"{direction} register of {agency}, {year}")
        for heading in queries.REGISTER_HEADINGS[direction]:
            table.add_column(heading)
        for r in rows:
            table.add_row(str(r["number"]), r["registered_on"], r["reference"],
                          render.shown(r["subject"][:60]), r["counterpart"])
        render.out.print(table)
    else:
        render.out.print(f"wrote {len(rows)} entries")


@commands.command()
def stats(
    agency: Annotated[str, typer.Argument(help="Agency code.")],
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    wait_for: WaitOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exchange statistics of an agency for a period (deliveries it received)."""
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    figures = open_session(data, server, key).statistics(agency, first, last, wait_for)
    if as_json:
        render.print_json(figures)
        return
    rate = "n/a" if figures["on_time_rate"] is None else f"{figures['on_time_rate']}%"
    render.out.print(
        f"{agency}, {figures['from']} – {figures['to']}: {figures['received']:,} received, "
        f"{figures['accepted']:,} accepted, {figures['refused']:,} refused, "
        f"{figures['completed']:,} completed ({figures['completed_on_time']:,} on time, "
        f"{rate}), {figures['overdue']:,} overdue")


# ---- running the views ----------------------------------------------------------------


def _bar(total: int) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=render.err, transient=True)


@commands.command()
def project(
    follow: Annotated[bool, typer.Option(help="Keep following new events (a worker).")] =
    False,
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
) -> None:
    """Bring the views up to date with the log; with --follow, keep them there.

    With --follow the worker outlives store faults and an event the views cannot
    apply: it reports each and tries again with a growing pause (docs/faults.md).
    """
    local_only(server, "project", "the views worker runs beside the database")
    if follow:
        _follow(data)
        return
    service = open_service(data)
    done = _catch_up(service)
    render.err.print(f"views at notification {service.views.position()} ({done} applied)")


def _catch_up(service: LedgerService) -> int:
    """Bring the views up to the log's head once; an event they cannot apply fails
    the run (exit 1), naming it."""
    behind = (service.app.recorder.max_notification_id() or 0) - service.views.position()
    with _bar(behind) as bar:
        task = bar.add_task("catching up", total=max(behind, 0))
        return service.view_worker.catch_up(progress=lambda n: bar.advance(task, n))


def _follow(data: Path | None) -> None:
    """The worker: it reports an event the views cannot apply, and store faults, and
    goes on retrying; it never exits on its own."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service = _open_service(data, stop)
    if service is None:
        return
    render.err.print(f"following the log from notification {service.views.position()} "
                     "(Ctrl-C to stop)")
    service.view_worker.follow(stop, report=lambda exc: render.err.print(
        f"[red]views not advancing[/]: {render.shown(str(exc))} (retrying)",
        highlight=False))


def _open_service(data: Path | None, stop: threading.Event) -> LedgerService | None:
    """The ledger service, once the store lets it be opened (None if stopped first)."""
    pause, cap = FAULT_BACKOFF
    while not stop.is_set():
        try:
            with store_faults_as_errors():
                service = open_service(data)
                service.views.position()
                return service
        except StoreUnavailableError as exc:
            logging.getLogger("docledger.views").warning(
                "views worker: %s; trying again in %.1f s", exc, pause)
            stop.wait(pause)
            pause = min(pause * 2, cap)
    return None


@commands.command("rebuild")
def rebuild_cmd(
    view: Annotated[str | None, typer.Argument(
        help=f"One of {', '.join(VIEWS)}; all views share their tables and are rebuilt "
             "together.")] = None,
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
) -> None:
    """Rebuild the views from the log beside the live ones, then switch atomically."""
    local_only(server, "rebuild", "it rebuilds the views beside the database")
    if view is not None and view not in VIEWS:
        raise InvalidInputError(f"unknown view {view!r}; known: {', '.join(VIEWS)}")
    service = open_service(data)
    total = service.app.recorder.max_notification_id() or 0
    with _bar(total) as bar:
        task = bar.add_task("rebuilding", total=total)
        done = rebuild(service.app, progress=lambda n: bar.advance(task, n))
    render.out.print(f"rebuilt every view from {done} events and switched them live")


def _await_worker(service: LedgerService, head: int, timeout: float = 5.0) -> None:
    """A separate worker may be a moment behind the head: give it that moment."""
    deadline = time.monotonic() + timeout
    while service.views.position() < head and time.monotonic() < deadline:
        if service.views.failure() is not None:
            return
        time.sleep(0.05)


@commands.command("check-views")
def check_views(data: DataOpt = None, server: LocalOnlyServerOpt = None,
                as_json: JsonOpt = False) -> None:
    """Rebuild into a shadow up to the log's head and compare it row for row with the
    live views (which must be at that head too); they are checked as they are."""
    local_only(server, "check-views", "it rebuilds the views beside the database")
    service = open_service(data)
    total = service.app.recorder.max_notification_id() or 0
    if not service.settings.follow_views_in_process:
        _await_worker(service, total)
    with _bar(total) as bar:
        task = bar.add_task("checking", total=total)
        position, differences = check(service.app, progress=lambda n: bar.advance(task, n))
    if as_json:
        render.print_json({"position": position, "identical": not differences,
                           "differences": [d.__dict__ for d in differences]})
    elif differences:
        for d in differences:
            render.err.print(f"[red]{d.table}[/]: live {d.live_rows} rows, rebuilt "
                             f"{d.rebuilt_rows}: {d.first}")
    else:
        render.out.print(f"[green]identical[/]: every view equals a rebuild at "
                         f"notification {position}")
    if differences:
        raise typer.Exit(1)
