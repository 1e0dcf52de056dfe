"""The registers and statistics pages against the CLI's own figures, in chromium."""

from __future__ import annotations

import calendar
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from domain.exchange.codes import VIETNAM_TIME
from tests.desk.conftest import A, B, Desk, screenshot, sign_in

STATIC = Path(__file__).parents[2] / "api" / "desk" / "static"
HOSTILE_UNIT = "Phòng <script>alert(1)</script> \u202eKT"
HOSTILE = "000.00.00.K99"
HOSTILE_NAME = "UBND <script>alert(1)</script> \u202exã"
HOSTILE_SUBJECT = "Về việc <img src=x onerror=alert(1)> \u202egnp.exe"
A4_LANDSCAPE = (841.92, 595.0)  # points


def cli_json(desk: Desk, *args: str) -> Any:
    done = desk.cli(*args, "--json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def send(desk: Desk, sender: str, recipient: str, subject: str, notation: str) -> str:
    done = desk.cli("send", "--as", sender, "--to", recipient, "--subject", subject,
                    "--notation", notation)
    assert done.exit_code == 0, done.output
    return done.stdout.strip().splitlines()[-1]


def exchange(desk: Desk) -> None:
    """B receives three documents from A (two handled, by two units) and sends one."""
    first = send(desk, A, B, "Về việc kế hoạch năm", "KH-VPCP")
    second = send(desk, A, B, HOSTILE_SUBJECT, "CV-VPCP")
    send(desk, A, B, "Về việc báo cáo quý", "BC-VPCP")
    for doc, unit in ((first, "Phòng Tư pháp"), (second, HOSTILE_UNIT)):
        for step in (["accept", doc], ["assign", doc, "--unit", unit, "--due", "2099-12-31"],
                     ["complete", doc]):
            done = desk.cli(*step, "--as", B)
            assert done.exit_code == 0, done.output
    send(desk, B, A, "Về việc trả lời kế hoạch", "CV-UBND")
    done = desk.cli("project")  # PostgreSQL: the views follow in a worker (here, this one)
    assert done.exit_code == 0, done.output


def table(page: Any, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        f"{selector} tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))")


def vn_date(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


def test_registers_equal_the_cli_register_and_print_on_a4(desk: Desk, signed_in: Any) -> None:
    exchange(desk)
    year = str(datetime.now(VIETNAM_TIME).year)
    page = signed_in(B)
    for direction in ("incoming", "outgoing"):
        expected = cli_json(desk, "register", B, "--direction", direction, "--year", year)
        page.goto(f"{desk.url}/desk/registers?direction={direction}&year={year}")
        assert table(page, ".register") == [
            [str(r["number"]), vn_date(r["registered_on"]), r["reference"],
             r["subject"].replace("\u202e", "<U+202E>"), r["counterpart"]] for r in expected]
        assert len(expected) == {"incoming": 2, "outgoing": 1}[direction]
    page.goto(f"{desk.url}/desk/registers?year={year}")
    # the hostile subject is text: no element made of it, its bidi override shown escaped
    assert page.locator("img").count() == 0
    assert "onerror=alert(1)> <U+202E>gnp.exe" in page.inner_text(".register")
    assert page.is_visible("[data-print]")  # the script shows the print button
    screenshot(page, "registers")

    css = (STATIC / "reports.css").read_text(encoding="utf-8")
    assert re.search(r"@page\s*\{\s*size:\s*A4 landscape;", css)
    page.emulate_media(media="print")
    assert not page.is_visible(".register-choice") and not page.is_visible("header")
    pdf = page.pdf(prefer_css_page_size=True)
    width, height = map(float, re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)[0])
    assert (round(width), round(height)) == tuple(round(v) for v in A4_LANDSCAPE)


def test_an_agency_name_with_markup_and_bidi_is_text_atop_its_register(
        desk: Desk, new_page: Any) -> None:
    done = desk.cli("agency", "register", HOSTILE, HOSTILE_NAME)
    assert done.exit_code == 0, done.output
    assert desk.cli("project").exit_code == 0  # PostgreSQL: the views name it
    page = sign_in(new_page(), desk, HOSTILE)
    page.goto(f"{desk.url}/desk/registers?direction=outgoing")
    assert page.inner_text(".register-agency") == (
        "UBND <script>alert(1)</script> <U+202E>xã (000.00.00.K99)")
    assert page.locator("main script").count() == 0 and "\u202e" not in page.content()


def test_statistics_equal_cli_stats_per_month_and_add_up_per_unit(desk: Desk,
                                                                  signed_in: Any) -> None:
    exchange(desk)
    today = datetime.now(VIETNAM_TIME).date()
    page = signed_in(B)
    page.goto(f"{desk.url}/desk/statistics?year={today.year}")
    months = {row[0]: row[1:] for row in table(page, "#months-table")}
    assert list(months) == [f"{m:02d}" for m in range(1, 13)]
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    month = cli_json(desk, "stats", B, "--from", today.replace(day=1).isoformat(), "--to",
                     last.isoformat())
    assert months[f"{today.month:02d}"] == figures_row(month)
    assert month["received"] == 3 and month["completed"] == 2
    assert page.inner_text("#totals").startswith(
        f"Năm {today.year}: nhận 3 văn bản, đã giải quyết 2 (66,7%).")

    whole = cli_json(desk, "stats", B, "--from", f"{today.year}-01-01", "--to",
                     f"{today.year}-12-31")
    units = {row[0]: row[1:] for row in table(page, "#units-table")}
    assert list(units) == ["Phòng <script>alert(1)</script> <U+202E>KT", "Phòng Tư pháp",
                           "(chưa giao)"]
    for column, figure in enumerate(("received", "accepted", "refused", "completed",
                                     "completed_on_time", "overdue")):
        assert sum(int(row[column]) for row in units.values()) == whole[figure]
    # the unit's name is text in the table and in the chart's label: no script ran or exists
    assert page.locator("main script").count() == 0
    assert "<U+202E>KT" in page.inner_text("#units-table")
    assert "\u202e" not in page.content()
    labels = page.eval_on_selector_all("svg text.chart-label", "ts => ts.map(t => t.textContent)")
    assert any(label.startswith("Phòng <script") for label in labels)
    assert page.locator("svg[role=img] > title").count() == 4
    screenshot(page, "statistics")


def figures_row(f: dict[str, Any]) -> list[str]:
    rate = "—" if f["on_time_rate"] is None else f"{f['on_time_rate']:g}%".replace(".", ",")
    return [f"{f[k]:,}".replace(",", ".") for k in (
        "received", "accepted", "refused", "completed", "completed_on_time", "overdue")] + [rate]
