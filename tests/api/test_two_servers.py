"""Two API processes on one PostgreSQL store: concurrent commands through both.

Each ``docledger serve`` has its own aggregate cache and its own Merkle log
catch-up; every command goes to either process at random, so each process acts
on aggregates the other changed, and every client then accepts its documents for
the same three recipients at once, so their incoming registers contend across
the processes. A 409 concurrent-modification is retried with a new command id,
as a client does. Afterwards every accepted
command is in the log exactly once, no refused one is, and the full audit
(replay byte for byte, leaves, checkpoints signed by both processes) holds.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from domain import topics
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import new_command_id, sign_command
from domain.ledger.command_log import CommandRecord
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger, open_ledger, run_audit, trust_anchors
from infrastructure.settings import Settings
from tests.api.conftest import LiveServer, free_port
from tests.conftest import PG, PG_ENV, pg_settings
from tests.waiting import wait_until

AGENCIES = [f"000.{i:02d}.31.H29" for i in range(6)]
RECIPIENTS = [f"000.{i:02d}.32.H29" for i in range(3)]  # every document goes to all three
CLIENTS = 6
DOCUMENTS_EACH = 2
JSON = {"content-type": "application/json"}

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend_env(pg_schema: str) -> dict[str, str]:
    """PostgreSQL only: processes share a store only through a server."""
    return PG_ENV | {"DOCLEDGER_PG_SCHEMA": pg_schema}


def ledger_with_agencies(settings: Settings) -> dict[str, Ed25519Signer]:
    app = init_ledger(settings)
    registrar = load_signer(DataFolder(settings.data).registrar_key)
    keys = {code: Ed25519Signer.generate() for code in AGENCIES + RECIPIENTS}
    for code, key in keys.items():
        app.execute(sign_command(registrar, "agency.register", {
            "code": code, "name": code, "keys": [key.public_key.to_spec()]},
            agency="registrar", staff="r"))
    app.close()
    return keys


class Clients:
    """Signed commands POSTed to a server picked at random; 409 retried anew."""

    def __init__(self, servers: list[LiveServer], keys: dict[str, Ed25519Signer]) -> None:
        self.http = [httpx.Client(base_url=s.url, timeout=60) for s in servers]
        self.keys = keys
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.numbers: dict[str, list[int]] = {code: [] for code in keys}
        self.lock = threading.Lock()

    def act(self, agency: str, type: str, fields: dict[str, Any]) -> dict[str, Any]:
        for _ in range(30):
            command_id = new_command_id()
            raw = sign_command(self.keys[agency], type, fields, agency=agency, staff="văn thư",
                               command_id=command_id)
            response = random.choice(self.http).post("/v1/commands", content=raw,
                                                     headers=JSON)
            body = response.json()
            if response.status_code == 201:
                result: dict[str, Any] = body["result"]
                with self.lock:
                    self.accepted.append(command_id)
                    if type == "delivery.accept":
                        self.numbers[agency].append(result["incoming_number"])
                return result
            assert response.status_code == 409, body
            assert body["type"].endswith("concurrent-modification"), body
            with self.lock:
                self.refused.append(command_id)
        raise AssertionError(f"{type} still conflicting after 30 tries")

    def send(self, n: int, i: int) -> str:
        """A document created, signed, issued and sent to RECIPIENTS; its id."""
        sender = AGENCIES[n % len(AGENCIES)]
        doc = str(self.act(sender, "document.create", {
            "document_id": f"{sender},{date.today():%Y/%m/%d},two-{n}-{i}",
            "header": {"code_notation": "CV-UBND",
                       "document_type": {"type": 1, "type_name": "Công văn"},
                       "subject": "Hai máy chủ", "promulgation_place": "Bình An",
                       "promulgation_date": date.today().isoformat(),
                       "signer": {"full_name": "Nguyễn Văn B", "position": "Chủ tịch"}},
        })["document"])
        self.act(sender, "document.sign", {"document": doc,
                                           "signer": {"full_name": "Nguyễn Văn B"}})
        self.act(sender, "document.issue", {"document": doc})
        self.act(sender, "document.send", {"document": doc, "recipients": RECIPIENTS})
        return doc


def command_records(schema: str) -> dict[str, int]:
    """How many times each command record id occurs in the stored log."""
    with psycopg.connect(**PG) as conn:
        rows = conn.execute(
            f'SELECT originator_id::text, count(*) FROM "{schema}".docledger_events '
            "WHERE topic = %s GROUP BY originator_id",
            (topics.event(topics.COMMAND_RECORD, "Accepted"),)).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def test_two_server_processes_on_one_store_lose_and_double_nothing(
        tmp_path: Path, pg_schema: str, serve: Callable[..., LiveServer]) -> None:
    settings = pg_settings(tmp_path, pg_schema)
    keys = ledger_with_agencies(settings)
    before = command_records(pg_schema)
    clients = Clients([serve(settings.data), serve(settings.data)], keys)
    failures: list[BaseException] = []
    together = threading.Barrier(CLIENTS, timeout=120)

    def run(n: int) -> None:
        try:
            docs = [clients.send(n, i) for i in range(DOCUMENTS_EACH)]
            together.wait()  # then every client accepts at once: the registers contend
            for doc in docs:
                for r in RECIPIENTS:
                    clients.act(r, "delivery.accept", {"document": doc})
        except BaseException as exc:  # reported below, with the others' results
            failures.append(exc)
            together.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not failures, failures

    # every accepted command exactly once, no refused one at all
    per_flow = 4 + len(RECIPIENTS)  # create, sign, issue, send; the accepts
    assert len(set(clients.accepted)) == CLIENTS * DOCUMENTS_EACH * per_flow
    stored = command_records(pg_schema)
    new = {k: v for k, v in stored.items() if k not in before}
    assert all(count == 1 for count in stored.values())
    assert set(new) == {str(CommandRecord.id_for(c)) for c in clients.accepted}
    assert not {str(CommandRecord.id_for(c)) for c in clients.refused} & set(stored)

    # each recipient's incoming numbers run 1..n, without a gap or a repeat
    for code in RECIPIENTS:
        assert sorted(clients.numbers[code]) == list(range(1, CLIENTS * DOCUMENTS_EACH + 1))

    # the log replays byte for byte, its leaves and every checkpoint (both
    # processes signed some) hold
    app = open_ledger(settings)
    try:
        registrar_key, ledger_key = trust_anchors(settings)
        report = run_audit(app, registrar_key=registrar_key, ledger_key=ledger_key, workers=1)
    finally:
        app.close()
    assert report.commands == len(stored)
    assert report.checkpoints >= 1


def test_servers_started_with_reuse_port_share_one_port(
        tmp_path: Path, pg_schema: str, serve: Callable[..., LiveServer]) -> None:
    settings = pg_settings(tmp_path, pg_schema)
    ledger_with_agencies(settings)
    port = free_port()
    first = serve(settings.data, "--reuse-port", port=port)
    second = serve(settings.data, "--reuse-port", port=port)  # no "address already in use"
    assert first.url == second.url
    # /healthz may have been answered by the first: wait for the second's own start
    assert wait_until(lambda: "Application startup complete" in second.output(), 30), \
        second.output()
    assert first.stop() == 0, first.output()
    # the port is still served: by the second process alone now
    assert httpx.get(f"{second.url}/healthz", timeout=5).status_code == 200
    assert second.process.poll() is None
