"""Backends: every contract test runs on embedded SQLite and on PostgreSQL.

PostgreSQL is at 127.0.0.1:5432 (user postgres), database ``DOCLEDGER_TEST_PG_DB``
(default ``test``); every test works in a schema of its own, so suites can run side
by side on one server. When CI is set, an unreachable server fails the PostgreSQL
tests instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from tests.axis_support import axis  # noqa: F401 - a fixture: the local axis served
from tests.factories import ManualClock, World
from tests.pki import TestPKI, running_pki

TEST_PG_DB = os.environ.get("DOCLEDGER_TEST_PG_DB", "test")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": TEST_PG_DB}
# what a ledger process started by a test needs, next to DOCLEDGER_PG_SCHEMA
PG_ENV = {"DOCLEDGER_BACKEND": "postgres", "DOCLEDGER_PG_DB": TEST_PG_DB}


def pg_settings(tmp_path: Path, schema: str) -> Settings:
    return Settings(data=tmp_path / "data", backend="postgres", pg_db=TEST_PG_DB,
                    pg_schema=schema)


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(**PG, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc)


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _pg_reachable()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
    pytest.skip(f"PostgreSQL unreachable: {problem}")


def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data=tmp_path / "data", backend="sqlite")


@pytest.fixture
def pg_schema(postgres_available: None) -> Iterator[str]:
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return sqlite_settings(tmp_path)
    return pg_settings(tmp_path, request.getfixturevalue("pg_schema"))


@pytest.fixture(scope="session")
def pki() -> Iterator[TestPKI]:
    """The test PKI (tests/pki.py), made once per session, its CRL and OCSP
    responder served on 127.0.0.1 until the session ends."""
    with running_pki() as started:
        yield started


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def world(settings: Settings, clock: ManualClock) -> Iterator[World]:
    w = World.create(settings, clock=clock)
    yield w
    w.app.close()


@pytest.fixture
def service(world: World) -> LedgerService:
    """The world's ledger wired as the tool and the API wire it: group commit, the
    Merkle log, the views."""
    return bootstrap(world.settings, app=world.app)
