"""One process at a time creates a ledger's tables.

Every process that opens a ledger (the API, the views worker, each CLI command)
creates whatever tables are missing, with ``CREATE ... IF NOT EXISTS`` and the
event store's ``CREATE OR REPLACE FUNCTION``. PostgreSQL does not serialise
these: two processes doing it at once collide in its catalogue ("tuple
concurrently updated", a duplicate ``pg_type`` key), and one of them fails to
open; so each does it under one advisory lock of the database, and makes the
ledger's schema first if it is not there. On SQLite the
statements are serialised by the file's lock, but the event store records its
tracking table's migration in a transaction of its own after creating it, and
two processes creating it at once both try to record it; there the event
store's tables are made under an exclusive lock of a file beside the database.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql

# the lock's key: any 64-bit number no other user of the database takes
SCHEMA_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"docledger: creating tables").digest()[:8], "big", signed=True)


def hold_schema_lock(cursor: Any) -> None:
    """Hold the lock until the cursor's transaction ends (PostgreSQL only)."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))


@contextmanager
def schema_lock(datastore: Any) -> Iterator[None]:
    """Hold the lock over work done in transactions of its own (the event
    store's ``create_table``), on a connection of the pool set aside for it."""
    with datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            create_schema(conn, datastore.schema)
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def create_schema(conn: Any, schema: str) -> None:
    """The ledger's schema, made if the operator named one that is not there yet
    (asked first: a role that may not create schemas can still use one made for it)."""
    found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if found is None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


@contextmanager
def file_schema_lock(database: str) -> Iterator[None]:
    """Hold an exclusive lock of the file beside ``database`` (SQLite); none for a
    database in memory, which no other process can open."""
    if database == ":memory:" or database.startswith("file::memory:") or "mode=memory" in database:
        yield
        return
    fd = os.open(database + ".schema-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
