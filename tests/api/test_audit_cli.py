"""``docledger audit`` as a process, on both backends: every state of the store gets a
verdict with its exit code, a damaged genesis included, and the remembered
checkpoint is checked by default."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Cli
from tests.conftest import PG

AGENCIES = ("000.00.00.G22", "000.00.00.H41")


def ledger(cli: Cli, data: Path) -> None:
    assert cli("init", "--data", str(data)).returncode == 0
    for code in AGENCIES:
        assert cli("agency", "register", code, f"Agency {code}", "--data",
                   str(data)).returncode == 0


def run_sql(env: dict[str, str], data: Path, statement: str,
            params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement on the events table (``{t}``, id column ``{id}``)."""
    schema = env.get("DOCLEDGER_PG_SCHEMA")
    if schema is None:
        with sqlite3.connect(data / "ledger.sqlite") as db:
            return db.execute(statement.format(t="stored_events", id="rowid"), params).fetchall()
    with psycopg.connect(**PG) as conn:
        found = conn.execute(statement.format(t=f'"{schema}".docledger_events',
                                              id="notification_id").replace("?", "%s"), params)
        return found.fetchall() if found.description else []


def genesis(env: dict[str, str], data: Path) -> tuple[int, bytes]:
    nid, state = run_sql(env, data, "SELECT {id}, state FROM {t} WHERE topic LIKE ? "
                                    "ORDER BY {id}", ("%LedgerRoot.Initialised",))[0]
    return int(nid), bytes(state)


# (a flipped byte inside the genesis's signed payload was already caught)
ALTERATIONS = {
    "renamed-field": ("state", lambda s: s.replace(b'"origin":', b'"orig1n":')),
    "unknown-topic": ("topic", lambda _: "domain.root:LedgerRoot.Nonexistent"),
}


@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_altered_genesis_fails_the_audit_with_exit_1_naming_it(
        cli: Cli, backend_env: dict[str, str], tmp_path: Path, alteration: str) -> None:
    data = tmp_path / "D"
    ledger(cli, data)
    nid, state = genesis(backend_env, data)
    column, alter = ALTERATIONS[alteration]
    value = alter(state)
    assert value != state
    run_sql(backend_env, data, f"UPDATE {{t}} SET {column} = ? WHERE {{id}} = ?", (value, nid))
    audit = cli("audit", "--data", str(data))
    assert audit.returncode == 1, audit.stderr
    assert f"notification {nid}" in audit.stderr
    assert "Traceback" not in audit.stderr


def test_deleted_genesis_fails_the_audit_with_exit_1(
        cli: Cli, backend_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "D"
    ledger(cli, data)
    nid, _ = genesis(backend_env, data)
    run_sql(backend_env, data, "DELETE FROM {t} WHERE {id} = ?", (nid,))
    audit = cli("audit", "--data", str(data))
    assert audit.returncode == 1, audit.stderr
    assert "notification" in audit.stderr and "Traceback" not in audit.stderr


def test_unanchored_history_says_so_in_the_verdict(
        cli: Cli, backend_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "D"
    ledger(cli, data)
    remembered = data / "keys" / "ledger.checkpoint"
    assert remembered.exists()  # the ledger signed a first checkpoint and remembered it
    anchored = json.loads(cli("audit", "--json", "--data", str(data)).stdout)
    assert anchored["anchored"] is not None and "not anchored" not in anchored["verdict"]
    skipped = json.loads(cli("audit", "--json", "--no-remembered", "--data", str(data)).stdout)
    assert skipped["ok"] is True and skipped["anchored"] is None
    assert skipped["verdict"].startswith("not anchored")
    remembered.unlink()
    audit = cli("audit", "--data", str(data))
    assert audit.returncode == 0, audit.stderr
    assert "not anchored: no saved or remembered checkpoint" in audit.stdout


def test_rolled_back_store_fails_the_default_audit_against_the_remembered_checkpoint(
        cli: Cli, backend_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "D"
    ledger(cli, data)
    assert cli("checkpoint", "--issue", "--data", str(data)).returncode == 0
    # the database put back to before the last command, Merkle tables and all
    last_record = run_sql(backend_env, data, "SELECT max({id}) FROM {t} WHERE topic LIKE ?",
                          ("%CommandRecord.Accepted",))[0][0]
    run_sql(backend_env, data, "DELETE FROM {t} WHERE {id} >= ?", (last_record,))
    prefix = (f'"{backend_env["DOCLEDGER_PG_SCHEMA"]}".' if "DOCLEDGER_PG_SCHEMA" in backend_env
              else "")
    for table in ("ledger_leaves", "ledger_nodes", "ledger_checkpoints"):
        run_sql(backend_env, data, f"DELETE FROM {prefix}{table}")
    audit = cli("audit", "--data", str(data))
    assert audit.returncode == 1, audit.stdout
    assert "events were removed" in audit.stderr
    plain = cli("audit", "--no-remembered", "--data", str(data))
    assert plain.returncode == 0 and "not anchored" in plain.stdout
