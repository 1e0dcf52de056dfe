"""The ledger's PostgreSQL recorder: eventsourcing's, committing a group's events in
one statement, sent in binary.

eventsourcing inserts a transaction's events as one array of a composite type
(``unnest(%s::stored_event[])``). psycopg dumps such an array in its text
format by default, escaping every field of every event in Python: hex and
quotes for each event's JSON state. That was the largest single cost of
committing a group on the write path (measured, 20 events of ~0.9 KB: 1,067 µs
of CPU per insert in text, 233 µs in binary). Asking for the binary format
(``%b``) sends the same values: the table, the rows and the order of the
returned notification ids are eventsourcing's.

eventsourcing commits a group's events in a pipelined transaction of its own:
BEGIN, ``SET LOCAL lock_timeout``, ``LOCK TABLE … IN EXCLUSIVE MODE`` (so that
notification ids are committed in the order they are taken: a reader following
the log never passes a gap a slower transaction fills later), ``NOTIFY``, the
insert, a sync, COMMIT: seven statements, each costing the client a round of
psycopg's pipeline and transaction machinery. Here the same statements run
inside one function of the schema (``docledger_insert_events``), called as one
prepared statement in autocommit, which is its own transaction: the same lock
held to the commit, the same notification, the same rows and ids, one round
trip (measured on the group-commit write path, see BENCHMARKS.md).
eventsourcing's own function (``POSTGRES_ENABLE_DB_FUNCTIONS``) does the same
without the table lock, so it would not keep the log's order.

The statements every commit runs (lock, insert, notify, and the cache guard's
look at the log's last position) are composed once, to bytes: eventsourcing
keeps them as ``psycopg.sql`` compositions, which psycopg renders again on
every execution (3.7% of the group commit leader's time, 0.5% rendered once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic, retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier

INSERT_FUNCTION = "docledger_insert_events"


def _rendered(statement: Composable) -> bytes:
    # identifiers quoted as a connection would; the ledger's names are plain ASCII
    return statement.as_bytes(None)


class BinaryInsertRecorder(PostgresApplicationRecorder):
    """eventsourcing's application recorder; events are sent in binary."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_events_statement = _rendered(SQL(  # type: ignore[assignment]
            "INSERT INTO {schema}.{table} AS t ("
            "originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state "
            "FROM unnest(%b::{schema}.{stored_event_type}[]) "
            "RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            stored_event_type=Identifier(self.stored_event_type_name),
        ))
        self.lock_table_statements = [_rendered(s) if isinstance(s, Composable) else s
                                      for s in self.lock_table_statements]
        self.max_notification_id_statement = _rendered(  # type: ignore[assignment]
            self.max_notification_id_statement)
        self._notify_statement = _rendered(SQL("NOTIFY {0}").format(
            Identifier(self.channel_name)))
        names = {"schema": Identifier(self.datastore.schema),
                 "function": Identifier(INSERT_FUNCTION),
                 "table": Identifier(self.events_table_name),
                 "stored_event_type": Identifier(self.stored_event_type_name)}
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{stored_event_type}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN "
            "SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} AS t "
            "(originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "RETURNING notification_id; "
            "END; $BODY$"
        ).format(lock_timeout=self.datastore.lock_timeout,
                 channel=Identifier(self.channel_name), **names))
        self._insert_call = _rendered(SQL(
            "SELECT {function} AS notification_id FROM {schema}.{function}(%b)").format(**names))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """The events in one statement (see module); their notification ids in order."""
        if not stored_events:
            return []
        rows = [self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic,
                                               e.state) for e in stored_events]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._insert_call, (rows,), prepare=True)
            return [int(row["notification_id"]) for row in curs.fetchall()]

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify_statement)


RECORDER_ENV = {"APPLICATION_RECORDER_TOPIC": get_topic(BinaryInsertRecorder)}
