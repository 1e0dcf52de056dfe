"""What counts as the store being unavailable, with real errors from both backends.

A store that cannot be reached or opened, or is locked beyond the lock timeout,
is a store fault (503, exit 9); bad SQL or a missing table is not (it is a bug:
500), even where the driver reports both with the same class; nor is a write
waiting, within the lock timeout, for another writer to let go of the log.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
import pytest

from domain.errors import StoreUnavailableError
from domain.evidence.keys import Ed25519Signer
from infrastructure.ledger import open_ledger
from infrastructure.log_store import LogStore
from infrastructure.settings import Settings
from infrastructure.store_faults import store_fault, store_faults_as_errors
from tests.api.conftest import free_port
from tests.conftest import PG, sqlite_settings
from tests.factories import SENDER, World
from tests.store_proxy import store_proxy
from tests.waiting import wait_until

# longer than a store that stops answering is given (docs/faults.md), shorter than
# the lock timeout: a write waiting this long for the log is waiting, not failing
LOCK_HELD_SECONDS = 5.0


def unreachable(settings: Settings) -> Settings:
    """The same ledger, its database out of reach: a closed port, or a file that is
    not a database file."""
    if settings.backend == "postgres":
        return settings.model_copy(update={"pg_port": free_port()})
    (settings.data / "ledger.sqlite").rename(settings.data / "elsewhere.sqlite")
    (settings.data / "ledger.sqlite").mkdir()
    return settings


def test_unreachable_store_is_a_store_fault(world: World) -> None:
    with pytest.raises(StoreUnavailableError, match="the store is unavailable"), \
            store_faults_as_errors():
        open_ledger(unreachable(world.settings)).recorder.max_notification_id()


def test_bad_sql_is_not_a_store_fault(world: World) -> None:
    store = LogStore(world.app)
    with pytest.raises(Exception) as raised, store._cursor(commit=False) as c:
        c.execute("SELECT * FROM no_such_table")
    assert store_fault(raised.value) is None


def test_sqlite_locked_beyond_the_lock_timeout_is_a_store_fault(tmp_path: Path) -> None:
    world = World.create(sqlite_settings(tmp_path))
    world.app.close()
    locked = world.settings.model_copy(update={"sqlite_lock_timeout": 1})
    app = open_ledger(locked)
    with closing(sqlite3.connect(locked.data / "ledger.sqlite", isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(Exception) as raised, LogStore(app)._cursor(commit=True) as c:
            c.execute("INSERT INTO ledger_checkpoints VALUES (0, x'00', 'n', 't')")
        other.execute("ROLLBACK")
    app.close()
    fault = store_fault(raised.value)
    assert fault is not None and "locked" in str(fault)


def test_command_waiting_for_the_log_lock_behind_another_writer_succeeds(world: World) -> None:
    command = world.signed(SENDER, "agency.add_key",
                           {"code": SENDER, "key": Ed25519Signer.generate().public_key.to_spec()})
    before = world.event_count()
    released = threading.Event()
    finished: list[tuple[object, bool]] = []  # the outcome, and whether the lock was free

    def write() -> None:
        outcome = _result(world, command)
        finished.append((outcome, released.is_set()))

    with _log_locked_by_another_writer(world) as waiting_for_lock:
        writer = threading.Thread(target=write)
        writer.start()
        assert waiting_for_lock(), "the command never waited for the log's lock"
        time.sleep(LOCK_HELD_SECONDS)  # the other writer's long transaction
        released.set()
    writer.join(60)
    [(outcome, after_release)] = finished
    assert not isinstance(outcome, Exception), outcome
    assert after_release  # it waited for the other writer, and then wrote
    assert world.event_count() > before


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_long_statement_on_a_busy_store_is_not_cut(world: World) -> None:
    # the server sends nothing back for the whole statement, as a stalled one would
    with LogStore(world.app)._cursor(commit=False) as c:
        c.execute("SELECT pg_sleep(%s), 42 AS answer", [LOCK_HELD_SECONDS])
        assert c.fetchone()["answer"] == 42


@pytest.mark.postgres
@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
@pytest.mark.parametrize("io_timeout", [1.0, 5.0])  # below and above two connects (2 s each)
def test_statement_on_a_store_that_stalls_is_a_store_fault(world: World,
                                                           io_timeout: float) -> None:
    with store_proxy() as proxy:
        app = open_ledger(world.settings.model_copy(
            update={"pg_port": proxy.port, "pg_io_timeout": io_timeout}))
        try:
            app.recorder.max_notification_id()  # its pooled connections answer
            proxy.hang()
            finished: list[object] = []
            read = threading.Thread(target=lambda: finished.append(_read(app)), daemon=True)
            read.start()
            read.join(30)
        finally:
            proxy.stop()
            app.close()
    [fault] = finished
    assert isinstance(fault, StoreUnavailableError), fault
    assert f"did not answer within {io_timeout:g} s" in str(fault)


def _read(app: object) -> object:
    try:
        with store_faults_as_errors():
            return app.recorder.max_notification_id()  # type: ignore[attr-defined]
    except StoreUnavailableError as exc:
        return exc


def _result(world: World, command: bytes) -> object:
    try:
        return world.app.execute(command)
    except Exception as exc:  # the test reports it
        return exc


@contextmanager
def _log_locked_by_another_writer(world: World) -> Iterator[Callable[[], bool]]:
    """Another connection holds the write lock on the log; yields a function that
    tells when a writer of this ledger is queued behind it (always true on SQLite,
    which cannot tell)."""
    if world.settings.backend == "sqlite":
        with closing(sqlite3.connect(world.settings.data / "ledger.sqlite",
                                     isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            yield lambda: True
            other.execute("ROLLBACK")
        return
    table = f'"{world.settings.pg_schema}"."{world.app.recorder.events_table_name}"'
    with psycopg.connect(**PG) as other:
        other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        yield lambda: wait_until(lambda: _lock_waiters(table) > 0, 30)
        other.rollback()


def _lock_waiters(table: str) -> int:
    with psycopg.connect(**PG, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted"
                           " AND relation = %s::regclass", [table]).fetchone()
    return int(row[0]) if row else 0

