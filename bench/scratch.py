"""A benchmark's own throw-away store, removed when the benchmark's process ends."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from infrastructure.settings import Settings


def scratch_settings(prefix: str, **overrides: Any) -> Settings:
    """Settings with a fresh temporary data folder and, on PostgreSQL, a fresh
    schema; both are dropped when the process exits."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, data, ignore_errors=True)
    settings = Settings(data=data, **overrides)
    if settings.backend != "postgres":
        return settings
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:8]
    connect = {"host": settings.pg_host, "port": settings.pg_port, "user": settings.pg_user,
               "password": settings.pg_password.get_secret_value(), "dbname": settings.pg_db,
               "autocommit": True}
    with psycopg.connect(**connect) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with contextlib.suppress(psycopg.Error), psycopg.connect(**connect) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    atexit.register(drop)
    return settings.model_copy(update={"pg_schema": schema})
