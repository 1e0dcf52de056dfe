"""What counts as the store being unavailable, with real errors from both backends.

A store that cannot be reached or opened, or is locked beyond the lock timeout,
is a store fault (503, exit 9); bad SQL or a missing table is not (it is a bug:
500), even where the driver reports both with the same class.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from domain.errors import StoreUnavailableError
from infrastructure.ledger import open_ledger
from infrastructure.log_store import LogStore
from infrastructure.settings import Settings
from infrastructure.store_faults import store_fault, store_faults_as_errors
from tests.api.conftest import free_port
from tests.conftest import sqlite_settings
from tests.factories import World


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
