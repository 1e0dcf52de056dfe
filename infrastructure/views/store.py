"""The view tables and their tracking position, in the ledger's own database.

Rows and the tracking position are written in one transaction, through
eventsourcing's tracking recorder (single-row tracking: a position can only
move forward, so replaying an old batch fails instead of doubling rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder

from domain.errors import ConcurrencyError
from domain.ledger.application import DocLedger
from domain.text import display
from infrastructure.schema_lock import hold_schema_lock
from infrastructure.views import search_index
from infrastructure.views.handlers import Op, UnhandledEventError
from infrastructure.views.schema import (
    INDEXES,
    SCHEMA_FINGERPRINT,
    TABLES,
    create_statements,
    index_statements,
)

LIVE = ""


class StaleBatchError(ConcurrencyError):
    """The views moved since the batch was read (a switch, or another worker)."""

    def __init__(self, name: str, after: int) -> None:
        super().__init__(f"views {name!r} are no longer at position {after}; batch discarded")


@dataclass(frozen=True)
class ViewFailure:
    """The event the views stopped on: they stay at the position before it."""

    notification_id: int
    topic: str
    reason: str


TABLE_REF = re.compile(r"\{t:(\w+)\}")


class ViewStore:
    """One set of view tables (live, or a shadow beside it) and its tracking name.

    A shadow may be made with only the indexes feeding needs (``indexes=False``):
    a rebuild fills it first and adds the readers' indexes after
    (``create_indexes``), a check only compares its rows.
    """

    def __init__(self, app: DocLedger, suffix: str = LIVE, *, indexes: bool = True) -> None:
        self.recorder: TrackingRecorder = app.factory.tracking_recorder()
        self.datastore: Any = self.recorder.datastore  # type: ignore[attr-defined]
        self.postgres = isinstance(self.recorder, PostgresTrackingRecorder)
        self.prefix = f'"{self.datastore.schema}".' if self.postgres else ""
        self.suffix = suffix
        self.tracking_name = "views" + suffix
        self.app_name = app.name
        self._sql_cache: dict[str, str] = {}
        with self.transaction() as c:
            if self.postgres:
                hold_schema_lock(c)
            c.execute(f"CREATE TABLE IF NOT EXISTS {self.prefix}view_failures (name TEXT "
                      "PRIMARY KEY, notification_id BIGINT NOT NULL, topic TEXT NOT NULL, "
                      "reason TEXT NOT NULL)")
            if suffix == LIVE:
                self._reset_if_schema_changed(c)
            full = indexes or suffix == LIVE
            for statement in create_statements(self.prefix, suffix, self.postgres,
                                               indexes=full):
                c.execute(statement)
            if full:
                search_index.create(c, self.prefix, suffix, self.postgres)

    def create_indexes(self) -> None:
        """The secondary indexes a shadow made with ``indexes=False`` lacks."""
        with self.transaction() as c:
            if self.postgres:
                hold_schema_lock(c)
            for statement in index_statements(self.prefix, self.suffix, feeding=False):
                c.execute(statement)
            search_index.create(c, self.prefix, self.suffix, self.postgres)

    def _reset_if_schema_changed(self, c: Any) -> None:
        """Views are derived: when their tables change shape (a new release), drop
        them and the position, so the worker rebuilds them from the log."""
        c.execute(f"CREATE TABLE IF NOT EXISTS {self.prefix}view_schema (fingerprint TEXT)")
        c.execute(f"SELECT fingerprint FROM {self.prefix}view_schema")
        row = c.fetchone()
        if row is not None and row["fingerprint"] == SCHEMA_FINGERPRINT:
            return
        search_index.drop(c, LIVE, self.postgres)
        for table in TABLES:
            c.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}")
        self._set_tracking(c, self.tracking_name, None)
        c.execute(f"DELETE FROM {self.prefix}view_schema")
        c.execute(self.sql(f"INSERT INTO {self.prefix}view_schema (fingerprint) VALUES (%s)"),
                  (SCHEMA_FINGERPRINT,))

    # ---- plumbing -------------------------------------------------------------

    def sql(self, template: str) -> str:
        """Resolve ``{t:table}`` names and placeholders for this backend."""
        cached = self._sql_cache.get(template)
        if cached is None:
            cached = TABLE_REF.sub(lambda m: f"{self.prefix}{m.group(1)}{self.suffix}", template)
            if not self.postgres:
                cached = cached.replace("%s", "?")
            self._sql_cache[template] = cached
        return cached

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    def query(self, template: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.transaction(commit=False) as c:
            c.execute(self.sql(template), tuple(params))
            return [dict(row) for row in c.fetchall()]

    # ---- feeding ----------------------------------------------------------------

    def position(self) -> int:
        return self.recorder.max_tracking_id(self.tracking_name) or 0

    def apply(self, ops: list[Op], notification_id: int, *, after: int | None = None) -> None:
        """Write a batch's rows and move the tracking position, atomically.

        ``after`` is the position the batch was read from. The position moves
        only if it is still that (compare and set), so a batch read before a
        rebuild's switch, or by a second worker, rolls back instead of landing
        on other tables or doubling rows; raises StaleBatchError then.
        """
        with self.transaction() as c:
            # PostgreSQL: pipeline the statements instead of a round trip each.
            with c.connection.pipeline() if self.postgres else nullcontext():
                for template, params in ops:
                    c.execute(self.sql(template), params)
            if after is None:
                self.recorder._insert_tracking(  # type: ignore[attr-defined]
                    c, Tracking(application_name=self.tracking_name,
                                notification_id=notification_id))
            else:
                self._advance(c, after, notification_id)

    def _advance(self, c: Any, after: int, notification_id: int) -> None:
        if after == 0:
            try:
                self.recorder._insert_tracking(  # type: ignore[attr-defined]
                    c, Tracking(application_name=self.tracking_name,
                                notification_id=notification_id))
            except IntegrityError:
                raise StaleBatchError(self.tracking_name, after) from None
            return
        c.execute(self.sql(f"UPDATE {self._tracking_table()} SET notification_id = %s "
                           "WHERE application_name = %s AND notification_id = %s "
                           "RETURNING notification_id"),
                  (notification_id, self.tracking_name, after))
        if c.fetchone() is None:
            raise StaleBatchError(self.tracking_name, after)

    def _tracking_table(self) -> str:
        return (f'{self.prefix}"{self.recorder.tracking_table_name}"'  # type: ignore[attr-defined]
                if self.postgres else "tracking")

    # ---- an event the views cannot apply ------------------------------------------------

    def record_failure(self, error: UnhandledEventError) -> None:
        """Keep, beside the views, the event they stopped on and why: readiness and
        check-views report it until the views move past it."""
        with self.transaction() as c:
            c.execute(self.sql(f"DELETE FROM {self.prefix}view_failures WHERE name = %s"),
                      (self.tracking_name,))
            c.execute(self.sql(f"INSERT INTO {self.prefix}view_failures "
                               "(name, notification_id, topic, reason) VALUES (%s, %s, %s, %s)"),
                      (self.tracking_name, error.notification_id, display(error.topic),
                       display(error.reason)))

    def failure(self) -> ViewFailure | None:
        with self.transaction(commit=False) as c:
            c.execute(self.sql(f"SELECT notification_id, topic, reason FROM "
                               f"{self.prefix}view_failures WHERE name = %s"),
                      (self.tracking_name,))
            row = c.fetchone()
        return None if row is None else ViewFailure(row["notification_id"], row["topic"],
                                                    row["reason"])

    def clear_failure(self, position: int) -> None:
        """Forget a failure the views have since moved past (a fixed handler)."""
        with self.transaction() as c:
            c.execute(self.sql(f"DELETE FROM {self.prefix}view_failures "
                               "WHERE name = %s AND notification_id <= %s"),
                      (self.tracking_name, position))

    def wait(self, notification_id: int, timeout: float) -> None:
        """Block until the views include ``notification_id`` (read-your-writes)."""
        self.recorder.wait(self.tracking_name, notification_id, timeout=timeout)

    # ---- shadows: rebuild beside, then switch --------------------------------------

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        columns, key = TABLES[table]
        names = ", ".join(c for c, _ in columns)
        with self.transaction(commit=False) as c:
            c.execute(self.sql(f"SELECT {names} FROM {{t:{table}}} ORDER BY {', '.join(key)}"))
            return [tuple(row[name] for name, _ in columns) for row in c.fetchall()]

    def drop(self) -> None:
        with self.transaction() as c:
            search_index.drop(c, self.suffix, self.postgres)
            for table in TABLES:
                c.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}{self.suffix}")
            self._set_tracking(c, self.tracking_name, None)
            c.execute(self.sql(f"DELETE FROM {self.prefix}view_failures WHERE name = %s"),
                      (self.tracking_name,))

    def replace_live(self) -> None:
        """Make these (shadow) tables the live ones, with their position, in one step."""
        with self.transaction() as c:
            search_index.swap(c, self.prefix, self.suffix, self.postgres, before=True)
            for table in TABLES:
                c.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}")
                c.execute(f"ALTER TABLE {self.prefix}{table}{self.suffix} RENAME TO {table}")
            # indexes move with their table but keep the shadow's names
            for table, (index, columns) in ((t, i) for t, ix in INDEXES.items() for i in ix):
                old, new = f"{table}{self.suffix}_{index}", f"{table}_{index}"
                if self.postgres:
                    c.execute(f"ALTER INDEX {self.prefix}{old} RENAME TO {new}")
                else:  # SQLite cannot rename an index
                    c.execute(f"DROP INDEX {old}")
                    c.execute(f"CREATE INDEX {new} ON {table} ({columns})")
            search_index.swap(c, self.prefix, self.suffix, self.postgres, before=False)
            position = self.position()
            self._set_tracking(c, "views", position)
            self._set_tracking(c, self.tracking_name, None)
            c.execute(self.sql(f"DELETE FROM {self.prefix}view_failures WHERE name IN (%s, %s) "
                               "AND notification_id <= %s"),
                      ("views", self.tracking_name, position))

    def _set_tracking(self, c: Any, name: str, position: int | None) -> None:
        c.execute(self.sql(f"DELETE FROM {self._tracking_table()} WHERE application_name = %s"),
                  (name,))
        if position:
            self.recorder._insert_tracking(  # type: ignore[attr-defined]
                c, Tracking(application_name=name, notification_id=position))

