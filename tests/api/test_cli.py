"""The command-line tool, run as a real process, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG, PG_ENV

ENV_KEYS = ("DOCLEDGER_BACKEND", "DOCLEDGER_PG_DB", "DOCLEDGER_PG_SCHEMA")


def docledger(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True,
        env={**clean, **(env or {}), "COLUMNS": "200"}, timeout=120,
    )


def test_demo_then_audit_pass_on_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "D"
    demo = docledger("demo", "--data", str(data))
    assert demo.returncode == 0, demo.stderr
    assert "audit passed" in demo.stdout
    assert "refused (duplicate)" in demo.stdout
    assert "trust anchor added by the registrar" in demo.stdout
    assert "ke-hoach-chuyen-doi-so.pdf: signed by UID=000.22.31.H29" in demo.stdout
    assert ", valid, coverage entire-file" in demo.stdout
    assert "dấu đến (incoming no. 1) stamped on a copy" in demo.stdout
    audit = docledger("audit", "--data", str(data))
    assert audit.returncode == 0, audit.stderr
    assert (data / "keys" / "ledger.key").stat().st_mode & 0o777 == 0o600


def test_flipped_byte_in_sqlite_file_fails_audit_naming_the_event(tmp_path: Path) -> None:
    data = tmp_path / "D"
    assert docledger("demo", "--data", str(data)).returncode == 0
    with sqlite3.connect(data / "ledger.sqlite") as db:
        rowid, state = db.execute(
            "SELECT rowid, state FROM stored_events WHERE topic LIKE '%Delivery.Accepted' "
            "ORDER BY rowid LIMIT 1").fetchone()
        flipped = bytearray(state)
        flipped[len(flipped) // 2] ^= 0x01
        db.execute("UPDATE stored_events SET state=? WHERE rowid=?", (bytes(flipped), rowid))
    audit = docledger("audit", "--data", str(data))
    assert audit.returncode == 1
    assert f"notification {rowid}" in audit.stderr


def test_history_lists_verified_events_as_json(tmp_path: Path) -> None:
    import json

    data = tmp_path / "D"
    assert docledger("init", "--data", str(data)).returncode == 0
    for code in ("000.00.00.G22", "000.00.00.H41"):
        assert docledger("agency", "register", code, f"Agency {code}", "--data",
                         str(data)).returncode == 0
    sent = docledger("send", "--as", "000.00.00.G22", "--to", "000.00.00.H41", "--subject",
                     "Về việc thử nghiệm", "--notation", "CV-VP", "--json", "--data", str(data))
    assert sent.returncode == 0, sent.stderr
    doc = json.loads(sent.stdout)["document"]
    assert docledger("accept", doc, "--as", "000.00.00.H41", "--data", str(data)).returncode == 0
    again = docledger("accept", doc, "--as", "000.00.00.H41", "--data", str(data))
    assert again.returncode == 6 and "illegal-transition" in again.stderr
    history = docledger("history", doc, "--json", "--data", str(data))
    entries = json.loads(history.stdout)
    assert [e["event"] for e in entries][:4] == ["Created", "Signed", "Issued", "Sent"]
    assert entries[-1]["status"] == "03" and entries[-1]["signed_by"] == "000.00.00.H41"


@pytest.mark.postgres
def test_demo_then_audit_pass_on_postgres(tmp_path: Path, pg_schema: str) -> None:
    env = PG_ENV | {"DOCLEDGER_PG_SCHEMA": pg_schema}
    data = tmp_path / "D"
    demo = docledger("demo", "--data", str(data), env=env)
    assert demo.returncode == 0, demo.stderr
    with psycopg.connect(**PG) as conn:
        count = conn.execute(
            f'SELECT count(*) FROM "{pg_schema}".docledger_events').fetchone()[0]
    assert count > 50
    assert docledger("audit", "--data", str(data), env=env).returncode == 0


def test_demo_audit_is_anchored_by_the_checkpoint_the_ledger_remembers(tmp_path: Path) -> None:
    demo = docledger("demo", "--data", str(tmp_path / "D"))
    assert demo.returncode == 0, demo.stderr
    assert "anchored: the first" in demo.stdout and "not anchored" not in demo.stdout
