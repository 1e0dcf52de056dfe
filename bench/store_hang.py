"""How long a caller waits to hear that a PostgreSQL server stopped answering.

The ledger talks to the server through the tests' TCP proxy, which then stalls
(accepts, acknowledges, forwards nothing: tests/store_proxy.py). Timed: a read
and a command, each the first to meet the stall on pooled connections that
answered a moment before, from the call to its ``StoreUnavailableError``. The
behaviour is pinned in tests/api/test_store_unavailable.py; docs/faults.md says
where the seconds go.

    DOCLEDGER_PG_DB=test python -m bench.store_hang    # always on PostgreSQL
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from domain.errors import StoreUnavailableError
from domain.evidence.keys import Ed25519Signer
from infrastructure.settings import Settings
from infrastructure.store_faults import store_faults_as_errors
from tests.conftest import PG, TEST_PG_DB
from tests.factories import SENDER, World
from tests.store_proxy import store_proxy


def seconds_to_hear(call: Callable[[], object]) -> float:
    start = time.monotonic()
    try:
        with store_faults_as_errors():
            call()
    except StoreUnavailableError:
        return time.monotonic() - start
    raise AssertionError("the stalled store answered")


def until_it_answers(world: World) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            world.app.recorder.max_notification_id()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with store_proxy() as proxy, tempfile.TemporaryDirectory() as data:
            world = World.create(Settings(data=Path(data), backend="postgres",
                                          pg_db=TEST_PG_DB, pg_schema=schema,
                                          pg_port=proxy.port), agencies=(SENDER,))
            command = world.signed(SENDER, "agency.add_key", {
                "code": SENDER, "key": Ed25519Signer.generate().public_key.to_spec()})
            for name, call in (("read", world.app.recorder.max_notification_id),
                               ("command", lambda: world.app.execute(command))):
                until_it_answers(world)  # on pooled connections that answer
                proxy.hang()
                print(f"{name}: store-unavailable after {seconds_to_hear(call):.1f} s")
                proxy.stop()
                proxy.start()
            world.app.close()
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
