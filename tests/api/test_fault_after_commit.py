"""A fault after a command is committed, before its receipt, under a real server.

The store fails while the committed command's events are sequenced into the
Merkle log (a trigger on the log's leaves table refuses every insert, as a full
disk would): the first answer must already say the command is committed, and
the same bytes sent again, once the store is well, answer with its receipt. A
fault that passes is absorbed in-process. Anything else unexpected is a 500
problem whose id the server's log carries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from api.client import LedgerClient
from api.demo import DEPARTMENT
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder
from tests.api.conftest import LiveServer
from tests.api.test_store_unavailable import add_key_command, post
from tests.conftest import PG

PG_FAILING_LEAVES = """
CREATE FUNCTION {s}.fail_leaves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {condition} THEN
    RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '{code}';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fail_leaves BEFORE INSERT ON {s}.ledger_leaves
  FOR EACH ROW EXECUTE FUNCTION {s}.fail_leaves();
"""
# SQLite triggers can only raise constraint errors; one that writes to a table
# that is not there fails the insert as a store fault of its own would
SQLITE_FAILING_LEAVES = """
CREATE TRIGGER fail_leaves BEFORE INSERT ON ledger_leaves
BEGIN INSERT INTO missing_storage VALUES (1); END
"""


class Store:
    """Raw access to the ledger's store, beside the server (the test's own connection)."""

    def __init__(self, backend_env: dict[str, str], data: Path) -> None:
        self.schema = backend_env.get("DOCLEDGER_PG_SCHEMA")
        self.data = data

    def run(self, sql: str) -> None:
        if self.schema is not None:
            with psycopg.connect(**PG, autocommit=True) as conn:
                conn.execute(sql.replace("{s}", f'"{self.schema}"'))  # type: ignore[arg-type]
            return
        with closing(sqlite3.connect(self.data / "ledger.sqlite", isolation_level=None)) as c:
            c.executescript(sql)

    def fail_leaves(self) -> None:
        if self.schema is None:
            self.run(SQLITE_FAILING_LEAVES)
        else:
            self.run(PG_FAILING_LEAVES.format(s="{s}", condition="true", code="53100"))

    def heal(self) -> None:
        self.run("DROP TRIGGER fail_leaves" if self.schema is None
                 else "DROP TRIGGER fail_leaves ON {s}.ledger_leaves")


@contextmanager
def department(server: LiveServer) -> Iterator[LedgerClient]:
    signer = load_signer(DataFolder(server.data).agency_key(DEPARTMENT))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield LedgerClient(server.url, DEPARTMENT, signer, http=http)


def test_store_failing_between_commit_and_receipt_answers_committed_receipt_pending(
        ledger: Path, serve: Callable[[Path], LiveServer], backend_env: dict[str, str]) -> None:
    server = serve(ledger)
    store = Store(backend_env, ledger)
    with department(server) as agency:
        store.fail_leaves()
        raw = add_key_command(agency)
        first = post(agency, raw)
        assert first.status_code == 503, first.text
        assert first.headers["content-type"].startswith("application/problem+json")
        assert int(first.headers["retry-after"]) > 0
        problem = first.json()
        assert problem["type"] == "urn:docledger:problem:committed-receipt-pending", problem
        assert "is committed" in problem["detail"]

        store.heal()
        again = post(agency, raw)
        assert again.status_code == 200, again.text  # the same command, not a new one
        answer = again.json()
        assert answer["repeated"] is True and answer["command_id"] == problem["command_id"]
        assert answer["receipt"]
        fresh = post(agency, add_key_command(agency))
        assert fresh.status_code == 201, fresh.text


@pytest.mark.postgres
@pytest.mark.parametrize("backend_env", ["postgres"], indirect=True)  # SQLite has no sequences
def test_store_fault_after_commit_that_passes_is_retried_in_process_and_answers_the_receipt(
        ledger: Path, serve: Callable[[Path], LiveServer], backend_env: dict[str, str]) -> None:
    server = serve(ledger)
    store = Store(backend_env, ledger)
    with department(server) as agency:
        store.run('CREATE SEQUENCE {s}.leaf_inserts')
        # the first insert of leaves fails, as a store that blinks; the next ones pass
        store.run(PG_FAILING_LEAVES.format(
            s="{s}", condition="nextval('{s}.leaf_inserts') = 1", code="XX000"))
        answer = post(agency, add_key_command(agency))
        assert answer.status_code == 201, answer.text
        assert answer.json()["receipt"]


def test_unexpected_error_is_a_problem_with_an_id_the_server_log_carries(
        ledger: Path, serve: Callable[[Path], LiveServer], backend_env: dict[str, str]) -> None:
    server = serve(ledger)
    store = Store(backend_env, ledger)
    with department(server) as agency:
        store.run("DROP TABLE {s}.api_nonces" if store.schema else "DROP TABLE api_nonces")
        answer = agency.http.get("/v1/whoami", auth=agency.auth)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    problem = answer.json()
    assert problem["type"] == "urn:docledger:problem:internal-error"
    assert problem["id"] and problem["id"] in problem["detail"]
    server.stop()
    assert problem["id"] in server.output()
    assert "api_nonces" in server.output()  # the traceback is logged with it
