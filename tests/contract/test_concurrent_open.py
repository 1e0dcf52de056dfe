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

from infrastructure.ledger import init_ledger
from infrastructure.nonces import NonceStore
from infrastructure.service import bootstrap
from infrastructure.settings import Settings

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


def test_race_of_processes_opening_one_store_at_once_fails_none(
        settings: Settings, tmp_path: Path) -> None:
    failures: list[BaseException] = []
    for round in range(ROUNDS):
        settings = fresh_store(settings, tmp_path, round)
        start = threading.Barrier(OPENERS)

        def opener(start: threading.Barrier = start, store: Settings = settings) -> None:
            start.wait()
            try:
                open_everything(store)
            except BaseException as exc:  # noqa: BLE001 - every failure is the finding
                failures.append(exc)

        threads = [threading.Thread(target=opener) for _ in range(OPENERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    open_everything(settings)  # and the store is whole afterwards
