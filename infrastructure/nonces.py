"""Request nonces seen by the HTTP API, in a table beside the event store.

A signed request's nonce is claimed once: the table's primary key refuses a
second claim, on SQLite and PostgreSQL alike, so a request is accepted at most
once even by several API processes on one database. Each nonce is kept until
its request could not be accepted again anyway, then forgotten.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from infrastructure.log_store import EventsTable
from infrastructure.schema_lock import hold_schema_lock

# (The column is named ``expires_at`` for existing ledgers; it holds the
# keep-until instant, past the request's ``expires`` by the clock leeway.)
SCHEMA = ("CREATE TABLE IF NOT EXISTS {p}api_nonces "
          "(nonce TEXT PRIMARY KEY, expires_at TEXT NOT NULL)")
FORGET_EXPIRED = "DELETE FROM {p}api_nonces WHERE expires_at < %s"
CLAIM = "INSERT INTO {p}api_nonces (nonce, expires_at) VALUES (%s, %s)"


class NonceStore:
    """Nonces seen, each kept until its request could not be accepted again anyway."""

    def __init__(self, table: EventsTable) -> None:
        self.table = table
        with table.datastore.transaction(commit=True) as cursor:
            if table.postgres:
                hold_schema_lock(cursor)
            cursor.execute(table.sql(SCHEMA))

    @classmethod
    def beside(cls, app: Application[UUID]) -> NonceStore:
        """The nonce store in the database of ``app``'s events."""
        return cls(EventsTable.of(app.recorder))

    def claim(self, nonce: str, keep_until: dt.datetime, now: dt.datetime) -> bool:
        """Record ``nonce`` until ``keep_until``; False if it was claimed before
        (and is not forgotten yet: nonces kept until before ``now`` are)."""
        try:
            with self.table.datastore.transaction(commit=True) as cursor:
                cursor.execute(self.table.sql(FORGET_EXPIRED), (now.isoformat(),))
                cursor.execute(self.table.sql(CLAIM), (nonce, keep_until.isoformat()))
        except IntegrityError:
            return False
        return True
