"""Views read from a PostgreSQL streaming replica: served by it, read-your-writes,
and the primary answering when it is stopped, lagging or promoted (docs/replicas.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.routes.commands import COMMIT_LSN
from domain.errors import InvalidInputError
from infrastructure.views.replica import conninfo
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker
from tests.api.http_support import client_for
from tests.conftest import pg_settings
from tests.factories import RECIPIENT, SENDER, ManualClock, World
from tests.replica_support import ReplicaCluster
from tests.views_support import accepted_row_via_a_separate_worker, send


@pytest.fixture
def pg_world(tmp_path: Path, pg_schema: str, clock: ManualClock) -> Iterator[World]:
    w = World.create(pg_settings(tmp_path, pg_schema), clock=clock)
    yield w
    w.app.close()


@contextmanager
def api(world: World, standby: ReplicaCluster, **settings: Any) -> Iterator[TestClient]:
    """The real app, its views projected in-process on the primary, read from the standby."""
    with TestClient(create_app(world.settings.model_copy(update={
            "views_in_process": True, "pg_replica": standby.target, **settings}))) as http:
        yield http


def inbox(http: TestClient, world: World, **params: Any) -> set[str]:
    reader = client_for(http, world, RECIPIENT)
    items = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", **params)["items"]
    return {item["document_id"] for item in items}


def command(http: TestClient, world: World, doc: str) -> str:
    """Accept ``doc`` over HTTP; the commit LSN the answer carries."""
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    response = http.post("/v1/commands", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    return response.headers[COMMIT_LSN]


def reads(http: TestClient) -> dict[str, int]:
    found = {}
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("docledger_view_reads_total{"):
            source = line.split('"')[1]
            found[source] = int(line.rsplit(" ", 1)[1])
    return found


def replica_state(http: TestClient) -> dict[str, Any]:
    answer = http.get("/readyz")
    assert answer.status_code == 200, answer.text  # the primary answers: still ready
    return answer.json()["replica"]  # type: ignore[no-any-return]


def sent(world: World) -> str:
    """A document sent to RECIPIENT, projected into the primary's views."""
    doc = send(world, (RECIPIENT,))
    ViewWorker(world.app, ViewStore(world.app)).catch_up()
    return doc


def replayed(standby: ReplicaCluster, world: World, doc: str) -> None:
    """Wait until the standby holds ``doc``'s deliveries (bounded)."""
    deadline = time.monotonic() + 10
    schema = world.settings.pg_schema
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=standby.port, user="postgres",
                                 dbname="test") as conn:
                row = conn.execute(f'SELECT count(*) FROM "{schema}".v_deliveries '  # type: ignore[arg-type]
                                   "WHERE document_id = %s", (doc,)).fetchone()
        except psycopg.errors.UndefinedTable:
            row = None  # the views' tables themselves are not replayed yet
        if row and row[0]:
            return
        assert time.monotonic() < deadline, "the standby did not replay in 10 s"
        time.sleep(0.05)


@pytest.mark.postgres
def test_reads_are_served_by_the_replica(pg_world: World, standby: ReplicaCluster) -> None:
    """A paused standby with a generous bound still answers: what it shows is its own
    (older) copy, which proves the read went to it and not to the primary."""
    with api(pg_world, standby, replica_max_lag=60) as http:
        seen = sent(pg_world)
        replayed(standby, pg_world, seen)
        assert seen in inbox(http, pg_world)
        standby.execute("SELECT pg_wal_replay_pause()")
        sent(pg_world)  # the paused replica does not replay it
        assert inbox(http, pg_world) == {seen}
        assert reads(http).get("replica", 0) >= 2
        assert replica_state(http)["reads_from"] == "replica"


@pytest.mark.postgres
def test_read_your_writes_waits_for_the_replica_to_replay_the_commit(
        pg_world: World, standby: ReplicaCluster) -> None:
    doc = sent(pg_world)
    with api(pg_world, standby, replica_max_lag=30) as http:
        replayed(standby, pg_world, doc)
        standby.execute("SELECT pg_wal_replay_pause()")
        lsn = command(http, pg_world, doc)
        threading.Timer(0.5, standby.execute, ("SELECT pg_wal_replay_resume()",)).start()
        started = time.monotonic()
        reader = client_for(http, pg_world, RECIPIENT)
        row = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", after_lsn=lsn)["items"][0]
        assert row["state"] == "accepted"
        assert time.monotonic() - started >= 0.4  # it waited for the replay …
        assert reads(http).get("primary-behind", 0) == 0  # … and the standby answered


@pytest.mark.postgres
def test_read_your_writes_with_a_separate_worker_reads_the_replica(
        pg_world: World, standby: ReplicaCluster) -> None:
    """The worker projects on the primary; wait_for answers once the standby's views
    include the notification."""
    doc = sent(pg_world)
    with api(pg_world, standby, views_in_process=False, replica_max_lag=30) as http:
        row = accepted_row_via_a_separate_worker(pg_world, http, doc)
        assert row["state"] == "accepted"
        assert reads(http).get("replica", 0) >= 1
        assert "primary-behind" not in reads(http)


@pytest.mark.postgres
def test_a_lagging_replica_is_bypassed_after_the_bound(pg_world: World,
                                                       standby: ReplicaCluster) -> None:
    with api(pg_world, standby, replica_max_lag=0.5) as http:
        first = sent(pg_world)
        replayed(standby, pg_world, first)
        standby.execute("SELECT pg_wal_replay_pause()")
        second = sent(pg_world)
        time.sleep(1.2)  # past the bound, and past the probe's reuse
        assert inbox(http, pg_world) == {first, second}
        state = replica_state(http)
        assert (state["state"], state["reads_from"]) == ("lagging", "primary")
        assert 'docledger_replica_state{state="lagging"} 1' in http.get("/metrics").text
        # a read naming a commit the paused standby has not replayed: the primary answers
        lsn = command(http, pg_world, second)
        reader = client_for(http, pg_world, RECIPIENT)
        rows = reader.get(f"/v1/agencies/{RECIPIENT}/inbox", after_lsn=lsn)["items"]
        assert {row["document_id"]: row["state"] for row in rows}[second] == "accepted"
        standby.execute("SELECT pg_wal_replay_resume()")


@pytest.mark.postgres
def test_a_stopped_replica_leaves_reads_to_the_primary(pg_world: World,
                                                       standby: ReplicaCluster) -> None:
    with api(pg_world, standby) as http:
        before = sent(pg_world)
        replayed(standby, pg_world, before)
        assert inbox(http, pg_world) == {before}  # the pool holds a standby connection now
        standby.stop()
        after = sent(pg_world)
        assert inbox(http, pg_world) == {before, after}
        time.sleep(0.6)
        state = replica_state(http)
        assert (state["state"], state["reads_from"]) == ("down", "primary")
        assert 'docledger_replica_state{state="down"} 1' in http.get("/metrics").text


@pytest.mark.postgres
def test_forged_rows_on_a_promoted_replica_are_never_served(pg_world: World,
                                                           standby: ReplicaCluster) -> None:
    """Promoted, the standby is a copy anyone may write to: the ledger stops reading it."""
    with api(pg_world, standby, replica_max_lag=60) as http:
        doc = sent(pg_world)
        replayed(standby, pg_world, doc)
        assert inbox(http, pg_world) == {doc}
        standby.promote()
        schema = pg_world.settings.pg_schema
        standby.execute(f'INSERT INTO "{schema}".v_deliveries (delivery_id, document_id, '
                        "sender, recipient, priority, due_key, state, updated_at) VALUES "
                        f"('forged', 'forged-document', '{SENDER}', '{RECIPIENT}', 9, "
                        "'0000-00-00', 'arrived', '9999')")
        assert inbox(http, pg_world) == {doc}
        time.sleep(0.6)
        assert inbox(http, pg_world) == {doc}
        assert replica_state(http)["state"] == "promoted"
        assert reads(http).get("primary-unusable", 0) >= 1


def test_a_replica_setting_that_is_neither_host_port_nor_a_dsn_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="DOCLEDGER_PG_REPLICA"):
        conninfo("replica-without-port")
    assert conninfo("10.0.0.7:5433") == "host=10.0.0.7 port=5433"
    assert conninfo("host=r port=5433 sslmode=require") == "host=r port=5433 sslmode=require"


@pytest.mark.postgres
def test_an_after_lsn_that_is_not_a_wal_position_is_refused(pg_world: World) -> None:
    """Without a replica configured, too: the parameter is checked before any read."""
    with TestClient(create_app(pg_world.settings.model_copy(
            update={"views_in_process": True}))) as http:
        reader = client_for(http, pg_world, RECIPIENT)
        for bad in ("0/1'; DROP TABLE v_deliveries; --", "16B3748", "0/123456789"):
            response = http.get(f"/v1/agencies/{RECIPIENT}/inbox", params={"after_lsn": bad},
                                auth=reader.auth)
            assert response.status_code == 422, bad
