"""Views that cannot apply an event, and views that lie about their position.

(a) An event whose rows the database refuses (a primary-key clash; on
    PostgreSQL, NUL in a text) used to stop the views silently: the follower
    exited, readiness said ready and check-views said identical. Now the worker
    records it beside the views and stays before it, a following worker
    reports it and retries, /readyz answers 503 naming it, check-views fails.
(b) A tracking position moved forward past the log's head, or views dropped by
    a changed schema fingerprint, made check-views report identical; it now
    compares against the log's head, not against what the views claim.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from infrastructure.settings import Settings
from infrastructure.views.handlers import UnhandledEventError
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker, check
from tests.api.http_support import api_for
from tests.factories import OTHER, RECIPIENT, World
from tests.views_support import caught_up, events_table, raw_sql, send, worker_env

ROOT = Path(__file__).resolve().parents[2]


def inject_copy(world: World, topic_suffix: str, change: dict[str, object] | None = None) -> int:
    """Store, behind the application's back, a copy of the first event with this
    topic under a new aggregate id (its header changed by ``change``)."""
    first = next(n for n in world.app.recorder.select_notifications(1, 10_000)
                 if n.topic.endswith(topic_suffix))
    state = json.loads(first.state)
    if change:
        state["header"] = {**state["header"], **change}
    raw_sql(world.settings, f"INSERT INTO {events_table(world.settings)} "
            "(originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (str(uuid.uuid4()), 1, first.topic, json.dumps(state).encode()))
    return world.event_count()


def docledger(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], cwd=ROOT,
                          env=worker_env(settings), capture_output=True, text=True, timeout=120)


@pytest.fixture
def stuck(world: World) -> tuple[World, int]:
    """Views caught up, then an event whose rows clash with the views' (a second
    registration of an agency), then a document after it."""
    send(world, (RECIPIENT,), subject="Trước sự cố")
    caught_up(world)
    bad = inject_copy(world, "Agency.Registered")
    send(world, (OTHER,), subject="Sau sự cố")
    return world, bad


# ---- (a) an event the views cannot apply -------------------------------------------------


@pytest.mark.parametrize("batch", [2000, 1])
def test_event_whose_rows_are_refused_stops_the_views_before_it_and_is_recorded(
        stuck: tuple[World, int], batch: int) -> None:
    world, bad = stuck
    store = ViewStore(world.app)
    for _ in range(2):  # stops at the same place every time, never skips it
        with pytest.raises(UnhandledEventError) as info:
            ViewWorker(world.app, store, batch=batch).catch_up()
        assert info.value.notification_id == bad
        assert store.position() == bad - 1
    failure = store.failure()
    assert failure is not None and failure.notification_id == bad
    assert failure.topic.endswith("Agency.Registered")
    subjects = [r[7] for r in store.rows("v_documents")]
    assert subjects == ["Trước sự cố"]  # nothing after it


def test_following_worker_reports_the_stuck_event_and_keeps_running(
        stuck: tuple[World, int]) -> None:
    world, bad = stuck
    reports: list[Exception] = []
    stop = threading.Event()
    worker = ViewWorker(world.app, ViewStore(world.app))
    follower = threading.Thread(target=worker.follow, args=(stop,),
                                kwargs={"report": reports.append, "poll": 0.01})
    follower.start()
    try:
        deadline = time.monotonic() + 10
        while not reports:
            assert time.monotonic() < deadline, "the worker reported nothing"
            time.sleep(0.01)
        assert follower.is_alive()
    finally:
        stop.set()
        follower.join(timeout=10)
    assert isinstance(reports[0], UnhandledEventError)
    assert reports[0].notification_id == bad


def test_readiness_names_the_event_the_views_cannot_apply(stuck: tuple[World, int]) -> None:
    world, bad = stuck
    with pytest.raises(UnhandledEventError):
        ViewWorker(world.app, ViewStore(world.app)).catch_up()
    with api_for(world) as http:
        ready = http.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "views-stuck" and body["failed_notification"] == bad
    assert f"notification {bad}" in body["detail"]


def test_check_views_fails_on_the_event_the_views_cannot_apply(
        stuck: tuple[World, int]) -> None:
    world, bad = stuck
    with pytest.raises(UnhandledEventError) as info:
        check(world.app)
    assert info.value.notification_id == bad
    done = docledger(world.settings, "check-views")
    assert done.returncode == 1, done.stderr
    assert f"notification {bad}" in done.stderr and "identical" not in done.stdout
    project = docledger(world.settings, "project")
    assert project.returncode == 1 and f"notification {bad}" in project.stderr
    live = ViewStore(world.app)
    before = live.rows("v_documents")
    rebuilt = docledger(world.settings, "rebuild")
    assert rebuilt.returncode == 1 and f"notification {bad}" in rebuilt.stderr
    assert live.rows("v_documents") == before and live.position() == bad - 1


def test_project_follow_reports_the_stuck_event_and_does_not_exit(
        stuck: tuple[World, int]) -> None:
    world, bad = stuck
    proc = subprocess.Popen([sys.executable, "-m", "api", "project", "--follow"], cwd=ROOT,
                            env=worker_env(world.settings), stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = ""
        while "retrying" not in seen:
            line = proc.stderr.readline()
            assert line, f"the worker exited: {seen}"
            seen += line
        assert f"notification {bad}" in seen
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_nul_in_a_stored_subject_is_reported_where_the_store_cannot_hold_it(
        world: World) -> None:
    """The domain refuses NUL now; an old or forged event holding it must still
    not stop the views silently (PostgreSQL text cannot hold it; SQLite can)."""
    send(world, (RECIPIENT,))
    bad = inject_copy(world, "Document.Created", {"subject": "Về\u0000việc"})
    store = ViewStore(world.app)
    if world.settings.backend == "postgres":
        with pytest.raises(UnhandledEventError) as info:
            ViewWorker(world.app, store).catch_up()
        assert info.value.notification_id == bad and store.position() == bad - 1
        assert store.failure() is not None
    else:
        ViewWorker(world.app, store).catch_up()
        assert store.position() == bad and store.failure() is None


def test_views_moved_past_a_fixed_failure_forget_it(stuck: tuple[World, int]) -> None:
    world, bad = stuck
    store = ViewStore(world.app)
    with pytest.raises(UnhandledEventError):
        ViewWorker(world.app, store).catch_up()
    raw_sql(world.settings, "DELETE FROM {p}v_agencies")  # the clash goes away
    ViewWorker(world.app, store).catch_up()
    assert store.position() == world.event_count() and store.failure() is None


# ---- (b) views that lie about their position ----------------------------------------------


def set_position(store: ViewStore, position: int) -> None:
    with store.transaction() as c:
        c.execute(store.sql(f"UPDATE {store._tracking_table()} SET notification_id = %s "
                            "WHERE application_name = %s"), (position, store.tracking_name))


def test_tracking_position_moved_past_the_head_is_not_identical(world: World) -> None:
    send(world, (RECIPIENT,))
    store = caught_up(world)
    head = world.event_count()
    set_position(store, head + 50)
    target, differences = check(world.app)
    assert target == head
    assert [d.table for d in differences] == ["tracking position"]
    assert f"claim notification {head + 50}" in differences[0].first
    send(world, (OTHER,))  # never projected: the views think they are past it
    ViewWorker(world.app, store).catch_up()
    target, differences = check(world.app)
    assert target == world.event_count() and "v_documents" in [d.table for d in differences]
    done = docledger(world.settings, "check-views")
    assert done.returncode == 1 and "identical" not in done.stdout


def test_changed_schema_fingerprint_is_not_identical_at_zero(world: World) -> None:
    send(world, (RECIPIENT,))
    caught_up(world)
    head = world.event_count()
    raw_sql(world.settings, "UPDATE {p}view_schema SET fingerprint = 'an-older-release'")
    dropped = ViewStore(world.app)  # what the next process to open the views does
    assert dropped.position() == 0
    target, differences = check(world.app)
    assert target == head
    tables = [d.table for d in differences]
    assert tables[0] == "tracking position" and "v_documents" in tables
    done = docledger(world.settings, "check-views", "--json")
    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)
    assert found["identical"] is False and found["position"] == head
