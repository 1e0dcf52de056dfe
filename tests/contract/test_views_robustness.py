"""The view worker stops on what it cannot read, and survives being killed.

(a) An event no view handles stops the worker at that notification: what came
    before is applied, nothing after, and it stops there again on every run.
(b) A real worker process killed with SIGKILL in the middle of catching up
    leaves views equal to a rebuild at its tracked position; restarted, the
    CLI's ``project`` completes them with no row missing and none doubled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import Notification

from bench.generate import fill
from domain.ledger.application import DocLedger
from infrastructure.settings import Settings
from infrastructure.views.handlers import UnhandledEventError, ops_for
from infrastructure.views.schema import TABLES
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker, check
from tests.conftest import pg_settings
from tests.factories import OTHER, RECIPIENT, World
from tests.views_support import events_table, raw_sql, send, worker_env

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = "domain.ghost:Ghost.Appeared"

# ---- (a) an event no view handles ------------------------------------------------------


def test_unknown_topic_notification_names_its_id() -> None:
    ghost = Notification(id=4242, originator_id=uuid.uuid4(), originator_version=1,
                         topic=UNKNOWN, state=b"{}")
    with pytest.raises(UnhandledEventError, match="notification 4242") as info:
        ops_for(ghost)
    assert info.value.notification_id == 4242 and UNKNOWN in str(info.value)
    garbled = Notification(id=77, originator_id=uuid.uuid4(), originator_version=1,
                           topic="domain.delivery:Delivery.Accepted", state=b"{not json")
    with pytest.raises(UnhandledEventError, match="notification 77") as info:
        ops_for(garbled)
    assert info.value.notification_id == 77


@pytest.mark.parametrize("batch", [2000, 1, 4])
def test_unknown_topic_in_the_log_stops_the_worker_there(world: World, batch: int) -> None:
    before = send(world, (RECIPIENT,), subject="Trước sự cố")
    world.act(RECIPIENT, "delivery.accept", {"document": before})
    raw_sql(world.settings, f"INSERT INTO {events_table(world.settings)} "
            "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (str(uuid.uuid4()), 1, UNKNOWN, b'{"ghost": true}'))
    ghost_id = world.event_count()
    topics = [n.topic for n in world.app.recorder.select_notifications(ghost_id, 1)]
    assert topics == [UNKNOWN]
    after = send(world, (OTHER,), subject="Sau sự cố")
    assert world.event_count() > ghost_id

    store = ViewStore(world.app)
    worker = ViewWorker(world.app, store, batch=batch)
    for _ in range(2):  # stops at the same place every time, never skips it
        with pytest.raises(UnhandledEventError) as info:
            worker.catch_up()
        assert info.value.notification_id == ghost_id
        assert f"notification {ghost_id}" in str(info.value) and UNKNOWN in str(info.value)
        assert store.position() == ghost_id - 1
    documents = {r[0]: r for r in store.rows("v_documents")}
    assert before in documents and after not in documents
    columns = [name for name, _ in TABLES["v_deliveries"][0]]
    document, state = columns.index("document_id"), columns.index("state")
    states = {r[document]: r[state] for r in store.rows("v_deliveries")}
    assert states == {before: "accepted"}
    # what it applied is exactly a rebuild up to the event before
    shadow = ViewStore(world.app, "__probe")
    try:
        ViewWorker(world.app, shadow).catch_up(until=ghost_id - 1)
        assert {t: shadow.rows(t) for t in TABLES} == {t: store.rows(t) for t in TABLES}
    finally:
        shadow.drop()


# ---- (b) a worker process killed mid-batch -----------------------------------------------

# A worker with small batches, each made slower inside its transaction (after the
# rows, before the tracking position), so that a kill lands inside a batch.
SLOW_WORKER = """
import sys
from infrastructure.ledger import open_ledger
from infrastructure.settings import Settings
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker

settings = Settings()
SLOW = ("SELECT pg_sleep(0.02)" if settings.backend == "postgres" else
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 150000) "
        "SELECT count(*) FROM c")

class SlowStore(ViewStore):
    def apply(self, ops, notification_id, **kw):
        super().apply([*ops, (SLOW, ())], notification_id, **kw)

app = open_ledger(settings)
ViewWorker(app, SlowStore(app), batch=50).catch_up()
print("finished")
"""


def _kill_when_past(app: DocLedger, settings: Settings, at_least: int, total: int) -> int:
    """Run the slow worker and SIGKILL it once its position passes ``at_least``."""
    store = ViewStore(app)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WORKER], cwd=ROOT, env=worker_env(settings),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while store.position() <= at_least:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    position = store.position()
    assert at_least < position < total, "killed too late: the worker had finished"
    return position


def _killed_then_restarted(settings: Settings, documents: int) -> None:
    gen = fill(settings, documents=documents, agencies=30)
    app = gen.app
    try:
        total = app.recorder.max_notification_id() or 0
        assert total > 3000
        assert ViewStore(app).position() == 0  # generating did not build the views

        first = _kill_when_past(app, settings, 0, total)
        position, differences = check(app, until=first)  # no half batch left behind
        assert (position, differences) == (first, [])
        second = _kill_when_past(app, settings, first + 100, total)
        assert check(app, until=second) == (second, [])

        done = subprocess.run([sys.executable, "-m", "api", "project", "--data",
                               str(settings.data)], cwd=ROOT, env=worker_env(settings),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"views at notification {total} ({total - second} applied)" in done.stderr
        store = ViewStore(app)
        assert store.position() == total
        assert check(app) == (total, [])
        # every delivery and every register number once, as many as the log made
        deliveries = store.query("SELECT count(*) AS n FROM {t:v_deliveries}")[0]["n"]
        dispatched = sum(1 for n in app.recorder.select_notifications(1, total + 1)
                         if n.topic.endswith("Delivery.Dispatched"))
        assert deliveries == dispatched
    finally:
        app.close()


def test_sqlite_worker_killed_mid_batch_restarts_to_identical_views(tmp_path: Path) -> None:
    _killed_then_restarted(Settings(data=tmp_path / "data", backend="sqlite"), 200)


@pytest.mark.postgres
def test_postgres_worker_killed_mid_batch_restarts_to_identical_views(
        tmp_path: Path, pg_schema: str) -> None:
    _killed_then_restarted(pg_settings(tmp_path, pg_schema), 90)
