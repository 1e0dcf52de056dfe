"""Processes that open one store at the same moment all open it.

The API, the views worker and every CLI command create whatever tables are
missing when they open the ledger. On PostgreSQL, two doing that at once used to
collide in the server's catalogue ("tuple concurrently updated", a duplicate
pg_type key) and one of them failed to start. Threads stand in for processes
here: each opens the store with connections of its own, as a process does.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from infrastructure.ledger import init_ledger
from infrastructure.nonces import NonceStore
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from tests.conftest import PG, pg_settings

OPENERS = 4
ROUNDS = 6


def open_everything(settings: Settings) -> None:
    """What a starting API process opens: the service (ledger, Merkle log, views)
    and the nonce store."""
    service = bootstrap(settings)
    try:
        NonceStore.beside(service.app)
    finally:
        service.close()


def fresh_store(settings: Settings, tmp_path: Path, round: int) -> Settings:
    """An initialised store whose views and tracking tables are not made yet: on
    SQLite a new folder each round; on PostgreSQL the same schema, whose event
    store functions are made again by every opener."""
    if settings.backend == "sqlite":
        settings = settings.model_copy(update={"data": tmp_path / f"round-{round}"})
    if round == 0 or settings.backend == "sqlite":
        init_ledger(settings).close()
    return settings


def race_to_open(settings: Settings) -> list[BaseException]:
    """``OPENERS`` threads open the store at the same moment: what each failed with."""
    start = threading.Barrier(OPENERS)
    failures: list[BaseException] = []

    def opener() -> None:
        start.wait()
        try:
            open_everything(settings)
        except BaseException as exc:  # noqa: BLE001 - every failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_race_of_processes_opening_one_store_at_once_fails_none(
        settings: Settings, tmp_path: Path) -> None:
    failures: list[BaseException] = []
    for round in range(ROUNDS):
        settings = fresh_store(settings, tmp_path, round)
        failures += race_to_open(settings)
    assert failures == []
    open_everything(settings)  # and the store is whole afterwards


@pytest.mark.postgres
def test_openers_racing_into_a_schema_not_made_yet_make_it_once_and_all_open(
        pg_schema: str, tmp_path: Path) -> None:
    # the operator named a schema nobody made: the first opener makes it
    missing = pg_schema + "_new"
    settings = pg_settings(tmp_path, missing)
    try:
        init_ledger(settings).close()
        assert race_to_open(settings) == []
        with psycopg.connect(**PG) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s",
                                  (missing,)).fetchone()
        assert tables is not None and tables[0] > 0
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{missing}" CASCADE')
