"""The view commands, run as real processes after ``docledger demo``."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.cli_options import settings_for
from api.demo import (
    COMMUNE_AN_PHU,
    COMMUNE_BINH_MINH,
    DEPARTMENT,
    DISTRICT_EAST,
    DISTRICT_WEST,
)
from domain.exchange.agency import Agency
from domain.exchange.codes import VIETNAM_TIME
from infrastructure.keyfiles import load_command_signer
from infrastructure.ledger import open_ledger
from tests.api.test_cli import docledger
from tests.conftest import PG_ENV


def run_json(*args: str, env: dict[str, str] | None = None) -> Any:
    done = docledger(*args, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("views") / "D"
    done = docledger("demo", "--data", str(data))
    assert done.returncode == 0, done.stderr
    return data


def plan_of(data: Path) -> dict[str, Any]:
    sent = run_json("outbox", DEPARTMENT, "--data", str(data))
    assert [d["reference"] for d in sent] == ["2/CV-SNV", "1/KH-SNV"]  # newest first
    return sent[1]


def test_inbox_outbox_and_status(demo: Path) -> None:
    east = run_json("inbox", DISTRICT_EAST, "--data", str(demo))
    assert [(r["reference"], r["state"], r["status_code"]) for r in east] == [
        ("1/KH-SNV", "completed", "06"), ("2/CV-SNV", "recalled", "15")]
    assert east[0]["lead_unit"] == "Phòng Nội vụ" and east[0]["officer"] == "Lê Văn D"
    assert east[0]["incoming_number"] == 1 and east[0]["overdue"] is False
    west = run_json("inbox", DISTRICT_WEST, "--status", "accepted", "--data", str(demo))
    assert [(r["reference"], r["status_code"]) for r in west] == [("2/CV-SNV", "16")]
    paged = run_json("inbox", DISTRICT_EAST, "--per-page", "1", "--page", "2", "--data",
                     str(demo))
    assert [r["reference"] for r in paged] == ["2/CV-SNV"]

    plan = plan_of(demo)
    assert {r["recipient"]: r["status_code"] for r in plan["recipients"]} == {
        DISTRICT_EAST: "06", DISTRICT_WEST: "04", COMMUNE_AN_PHU: "02", COMMUNE_BINH_MINH: "06"}

    status = run_json("status", plan["document_id"], "--data", str(demo))
    assert status["reference"] == "1/KH-SNV" and status["sender"] == DEPARTMENT
    east_timeline = [(t["status_code"], t["actor"], t["staff"]) for t in status["timeline"]
                     if t["recipient"] == DISTRICT_EAST]
    assert east_timeline == [
        ("01", "ledger", ""), ("03", DISTRICT_EAST, "văn thư"),
        (None, "ledger", ""),  # the ledger stamps the incoming number on a copy of the PDF
        ("04", DISTRICT_EAST, "Chủ tịch UBND huyện"), ("05", DISTRICT_EAST, "Lê Văn D"),
        ("06", DISTRICT_EAST, "Lê Văn D")]
    codes = [t["status_code"] for t in status["timeline"] if t["recipient"] == COMMUNE_AN_PHU]
    assert codes == ["01", "02"]

    missing = docledger("status", "00000000-0000-0000-0000-000000000000", "--data", str(demo))
    assert missing.returncode != 0 and "not in the views" in missing.stderr


def test_the_demo_plan_is_a_valid_signed_pdf_sent_with_a_certificate_backed_key(
        demo: Path) -> None:
    plan = plan_of(demo)
    status = run_json("status", plan["document_id"], "--data", str(demo))
    [report] = status["attachment_reports"]
    [signature] = report["signatures"]
    assert report["verdict"] == "valid" and report["attachment"]["name"] == \
        "ke-hoach-chuyen-doi-so.pdf"
    assert signature["valid"] and signature["intact"] and signature["trusted"]
    assert signature["coverage"] == "entire-file" and signature["modification"] == "none"
    assert f"UID={DEPARTMENT}" in signature["signer"]["subject"]
    assert report["lines"][0].endswith(", valid, coverage entire-file")

    cert_key = demo / "demo-ca" / f"{DEPARTMENT}.key"
    assert cert_key.stat().st_mode & 0o777 == 0o600
    keyid = load_command_signer(cert_key).keyid
    history = run_json("history", plan["document_id"], "--data", str(demo))
    sender_steps = [e for e in history if e["command"] in (
        "document.create", "document.sign", "document.issue", "document.send")]
    assert sender_steps and {e["keyid"] for e in sender_steps} == {keyid}
    app = open_ledger(settings_for(demo))
    department = app.find(Agency, Agency.id_for(DEPARTMENT))
    assert department is not None and department.keys[keyid].certificate is not None


def test_register_writes_csv_and_html(demo: Path, tmp_path: Path) -> None:
    year = str(datetime.now(VIETNAM_TIME).year)
    rows = run_json("register", DISTRICT_WEST, "--year", year, "--data", str(demo))
    assert [(r["number"], r["reference"]) for r in rows] == [(1, "1/KH-SNV"), (2, "2/CV-SNV")]
    out_csv, out_html = tmp_path / "so-den.csv", tmp_path / "so-den.html"
    done = docledger("register", DISTRICT_WEST, "--year", year, "--csv", str(out_csv),
                     "--html", str(out_html), "--data", str(demo))
    assert done.returncode == 0, done.stderr
    assert "wrote 2 entries" in done.stdout
    parsed = list(csv.reader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert parsed[0] == ["Số đến", "Ngày đến", "Số, ký hiệu", "Trích yếu", "Nơi gửi"]
    assert [(r[0], r[2], r[4]) for r in parsed[1:]] == [("1", "1/KH-SNV", DEPARTMENT),
                                                         ("2", "2/CV-SNV", DEPARTMENT)]
    page = out_html.read_text(encoding="utf-8")
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in page and "UBND huyện Tây Hòa" in page
    assert page.count("<tr>") == 3 and "1/KH-SNV" in page

    outgoing = run_json("register", DEPARTMENT, "--direction", "outgoing", "--year", year,
                        "--data", str(demo))
    assert [r["number"] for r in outgoing] == [1, 2]
    assert outgoing[0]["counterpart"] == ", ".join(
        [DISTRICT_EAST, DISTRICT_WEST, COMMUNE_AN_PHU, COMMUNE_BINH_MINH])


def test_stats_for_the_demo_period(demo: Path) -> None:
    today = datetime.now(VIETNAM_TIME).date()
    period = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]
    east = run_json("stats", DISTRICT_EAST, *period, "--data", str(demo))
    assert {k: east[k] for k in ("received", "accepted", "refused", "completed",
                                 "completed_on_time", "overdue", "on_time_rate")} == {
        "received": 2, "accepted": 1, "refused": 0, "completed": 1, "completed_on_time": 1,
        "overdue": 0, "on_time_rate": 100.0}
    an_phu = run_json("stats", COMMUNE_AN_PHU, *period, "--data", str(demo))
    assert (an_phu["received"], an_phu["refused"], an_phu["on_time_rate"]) == (1, 1, None)
    backwards = docledger("stats", DISTRICT_EAST, "--from", str(today), "--to",
                          str(today - timedelta(days=1)), "--data", str(demo))
    assert backwards.returncode != 0 and "ends before it starts" in backwards.stderr


def test_check_views_then_rebuild_repairs_a_corrupted_row(tmp_path: Path) -> None:
    data = tmp_path / "D"
    assert docledger("demo", "--data", str(data)).returncode == 0
    ok = docledger("check-views", "--data", str(data))
    assert ok.returncode == 0, ok.stderr
    assert "identical" in ok.stdout

    with sqlite3.connect(data / "ledger.sqlite") as db:
        db.execute("UPDATE v_deliveries SET state = 'completed' WHERE state = 'refused'")
    bad = docledger("check-views", "--json", "--data", str(data))
    assert bad.returncode == 1, bad.stderr
    found = json.loads(bad.stdout)
    assert found["identical"] is False
    assert [d["table"] for d in found["differences"]] == ["v_deliveries"]

    rebuilt = docledger("rebuild", "--data", str(data))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt every view" in rebuilt.stdout
    after = run_json("check-views", "--data", str(data))
    assert after["identical"] is True and after["differences"] == []
    refused = run_json("inbox", COMMUNE_AN_PHU, "--data", str(data))
    assert [r["state"] for r in refused] == ["refused"]
    assert docledger("rebuild", "nonsense", "--data", str(data)).returncode != 0


@pytest.mark.postgres
def test_postgres_views_follow_only_after_project(tmp_path: Path, pg_schema: str) -> None:
    env = PG_ENV | {"DOCLEDGER_PG_SCHEMA": pg_schema}
    data = tmp_path / "D"
    demo = docledger("demo", "--data", str(data), env=env)  # catches its views up itself
    assert demo.returncode == 0, demo.stderr
    sent = docledger("send", "--as", "000.22.31.H29", "--to", DISTRICT_EAST, "--subject",
                     "Về việc kiểm tra", "--notation", "CV-SNV", "--json", "--data", str(data),
                     env=env)
    assert sent.returncode == 0, sent.stderr
    # with PostgreSQL a separate worker feeds the views: the new document waits for it
    before = run_json("inbox", DISTRICT_EAST, "--data", str(data), env=env)
    assert [r["status_code"] for r in before] == ["06", "15"]
    project = docledger("project", "--data", str(data), env=env)
    assert project.returncode == 0, project.stderr
    east = run_json("inbox", DISTRICT_EAST, "--data", str(data), env=env)
    assert sorted(r["status_code"] for r in east) == ["01", "06", "15"]
    check = docledger("check-views", "--data", str(data), env=env)
    assert check.returncode == 0 and "identical" in check.stdout
