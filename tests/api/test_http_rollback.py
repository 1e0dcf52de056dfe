"""Over HTTP, on both backends: a store that lost or forked its history makes
/readyz answer 503 with the reason, and a command answers a 503 problem of the
same type instead of a receipt whose events the Merkle log cannot prove."""

from __future__ import annotations

from fastapi.testclient import TestClient

from infrastructure.ledger import open_log
from tests.api.http_support import api_for
from tests.contract.test_rollback import Database
from tests.factories import OTHER, RECIPIENT, SENDER, World, header

TYPE = "urn:docledger:problem:"


def command(http: TestClient, world: World) -> dict[str, object]:
    raw = world.signed(SENDER, "document.create", {
        "document_id": f"{SENDER},2026/11/27,doc-http-{world.event_count()}",
        "header": header()})
    answer = http.post("/v1/commands", content=raw, headers={"content-type": "application/json"})
    return {"status": answer.status_code, **answer.json()}


def test_deleted_log_tail_makes_readyz_and_commands_answer_503(world: World) -> None:
    world.sent(recipients=(RECIPIENT, OTHER))
    open_log(world.settings, world.app).issue_checkpoint(force=True)
    db = Database(world)
    last = db.events()[-1][0]
    db.run((f"DELETE FROM {db.table('events')} WHERE {db.columns('events').split(',')[0]} = ?",
            (last,)))
    db.reopen()
    with api_for(world) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["problem"] == "log-rolled-back"
        assert f"position {last}" in ready.json()["detail"]
        answer = command(http, world)
        assert answer["status"] == 503 and answer["type"] == TYPE + "log-rolled-back"


def test_restored_database_makes_readyz_answer_503_fork_refused(world: World) -> None:
    world.sent()
    open_log(world.settings, world.app).catch_up()
    db = Database(world)
    db.back_up()
    world.sent(recipients=(OTHER,))
    open_log(world.settings, world.app).issue_checkpoint(force=True)
    db.restore()
    with api_for(world) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["problem"] == "fork-refused"
        answer = command(http, world)
        assert answer["status"] == 503 and answer["type"] == TYPE + "fork-refused"


def test_whole_store_is_ready(world: World) -> None:
    world.sent()
    with api_for(world) as http:
        assert http.get("/readyz").status_code == 200
        assert command(http, world)["status"] == 201
