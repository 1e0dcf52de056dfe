"""The ledger's PostgreSQL recorder sends events in binary: same rows as stock
eventsourcing's, so stores written by either read and audit alike."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from domain.ledger.application import DocLedger
from infrastructure.cache_guard import CacheGuard
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, open_ledger, open_log
from infrastructure.log_store import APPEND_IN_ONE, TAIL
from infrastructure.parallel_audit import log_pages, open_reader
from infrastructure.pg_recorder import BinaryInsertRecorder
from infrastructure.transparency import LedgerLog
from tests.conftest import pg_settings
from tests.contract.test_group_commit import audit
from tests.factories import OTHER, RECIPIENT, ManualClock, World


def test_a_store_written_in_text_and_in_binary_reads_and_audits_as_one(
        pg_schema: str, tmp_path: Path) -> None:
    settings = pg_settings(tmp_path, pg_schema)
    clock = ManualClock()
    # Written first by eventsourcing's own recorder (as before this recorder existed) …
    world = World.create(settings, clock=clock)
    world.app.close()
    world.app = DocLedger(settings.eventsourcing_env(), clock=clock,
                          ledger_signer=load_signer(DataFolder(settings.data).ledger_key),
                          cache_guard=CacheGuard)
    assert type(world.app.recorder) is PostgresApplicationRecorder
    text_doc = world.sent(recipients=(RECIPIENT, OTHER))
    text_events = world.event_count()
    world.app.close()
    # … then by the ledger's, as the composition root opens it.
    world.app = open_ledger(settings, clock=clock)
    assert type(world.app.recorder) is BinaryInsertRecorder
    world.act(RECIPIENT, "delivery.accept", {"document": text_doc})
    world.sent(recipients=(RECIPIENT, OTHER))
    assert world.event_count() > text_events

    # A stock eventsourcing reader sees exactly the rows the ledger reads.
    stock = open_reader(settings.eventsourcing_env())
    assert type(stock.recorder) is PostgresApplicationRecorder
    assert list(log_pages(stock)) == list(log_pages(world.app))
    for n in log_pages(world.app):  # every stored event decodes to itself again
        event = world.app.mapper.to_domain_event(n)
        assert world.app.mapper.to_stored_event(event).state == n.state
    stock.close()
    audit(world)
    world.app.close()


def test_writers_racing_commit_in_id_order_so_a_follower_never_passes_a_gap_filled_later(
        pg_schema: str, tmp_path: Path) -> None:
    # the ids come from a sequence: without the table lock held to the commit, a
    # transaction that took a lower id could commit after one with a higher id,
    # and a follower that had read past it would never read that event
    settings = pg_settings(tmp_path, pg_schema)
    app = World.create(settings, clock=ManualClock()).app
    recorder = app.recorder
    assert isinstance(recorder, BinaryInsertRecorder)
    writers, groups, done = 6, 40, threading.Event()
    violations: list[tuple[int, int]] = []

    def write(n: int) -> None:
        for g in range(groups):
            originator = uuid.uuid4()
            recorder.insert_events([StoredEvent(originator, v, "tests:Event", b"{}")
                                    for v in range(1, 2 + (n + g) % 4)])

    def follow() -> None:
        seen: set[int] = set()
        while True:
            finished = done.is_set()
            with recorder.datastore.get_connection() as conn:
                ids = {row["notification_id"] for row in conn.execute(
                    f'SELECT notification_id FROM "{pg_schema}".docledger_events').fetchall()}
            late = [i for i in ids - seen if seen and i < max(seen)]
            violations.extend((i, max(seen)) for i in late)
            seen = ids
            if finished:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    done.set()
    follower.join()
    assert violations == []
    app.close()


@pytest.fixture
def sequenced(pg_schema: str, tmp_path: Path) -> Iterator[LedgerLog]:
    """The Merkle log of a ledger of three documents sent, caught up."""
    settings = pg_settings(tmp_path, pg_schema)
    world = World.create(settings, clock=ManualClock())
    for _ in range(3):
        world.sent(recipients=(RECIPIENT, OTHER))
    log = open_log(settings, world.app)
    assert log.catch_up() == world.event_count()
    yield log
    world.app.close()


def test_appending_to_the_merkle_log_reads_its_size_by_the_index_not_a_scan(
        sequenced: LedgerLog) -> None:
    # In a statement with a WITH, PostgreSQL cannot answer max() from the index:
    # the size was read by scanning every leaf, on every append, so each command
    # cost time in proportion to the log's length.
    log = sequenced
    size = log.store.size()
    with log.store.datastore.get_connection() as conn, conn.cursor() as c:
        c.execute("ANALYZE " + log.store._sql("{p}ledger_leaves"))
        c.execute("EXPLAIN (FORMAT JSON) " + log.store._sql(APPEND_IN_ONE),
                  [[size], [10**9], [b"\0" * 32], [1], [10**9], [b"\0" * 32]])
        plan = c.fetchone()["QUERY PLAN"][0]["Plan"]
    reads = [node for node in _nodes(plan)
             if node.get("Relation Name") == "ledger_leaves" and "Scan" in node["Node Type"]]
    assert reads, plan
    assert all(node["Node Type"] in ("Index Only Scan", "Index Scan")
               and node["Scan Direction"] == "Backward" for node in reads), plan
    assert plan["Node Type"] == "Limit", plan


def test_reading_where_the_merkle_log_ends_reads_by_the_keys_not_a_scan(
        sequenced: LedgerLog) -> None:
    # The sequencer reads the last leaf and the events after it in one statement
    # after every group commit: a scan of either table would make each command
    # cost time in proportion to the log's length.
    store = sequenced.store
    with store.datastore.get_connection() as conn, conn.cursor() as c:
        # PostgreSQL plans a table of a few dozen rows as a scan, rightly: rows
        # enough for the plan of a ledger in use (the query is only explained)
        c.execute(f"INSERT INTO {store.table.name} (originator_id, originator_version, topic, "
                  "state) SELECT gen_random_uuid(), 1, 'filler', '\\x00' "
                  "FROM generate_series(1, 20000)")
        for table in ("{p}ledger_leaves", store.table.name):
            c.execute("ANALYZE " + store._sql(table))
        c.execute("EXPLAIN (FORMAT JSON) " + store._sql(
            TAIL.format(events=store.table.name, position=store.table.position)), (257,))
        plan = c.fetchone()["QUERY PLAN"][0]["Plan"]
    scans = [node for node in _nodes(plan) if "Scan" in node["Node Type"]]
    tables = {node["Relation Name"] for node in scans}
    assert tables == {"ledger_leaves", store.table.name.split(".")[-1].strip('"')}, plan
    assert all(node["Node Type"] in ("Index Only Scan", "Index Scan") for node in scans), plan
    # the events from the covered position on: a range of the index, not all of it filtered
    assert all("Index Cond" in node for node in scans if node["Relation Name"] != "ledger_leaves")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)
