"""The ledger's PostgreSQL recorder: eventsourcing's, sending events in binary.

eventsourcing inserts a transaction's events as one array of a composite type
(``unnest(%s::stored_event[])``). psycopg dumps such an array in its text
format by default, escaping every field of every event in Python: hex and
quotes for each event's JSON state. That was the largest single cost of
committing a group on the write path (measured, 20 events of ~0.9 KB: 1,067 µs
of CPU per insert in text, 233 µs in binary). Asking for the binary format
(``%b``) sends the same values: the table, the rows and the order of the
returned notification ids are eventsourcing's.

The statements every commit runs (lock, insert, notify, and the cache guard's
look at the log's last position) are composed once, to bytes: eventsourcing
keeps them as ``psycopg.sql`` compositions, which psycopg renders again on
every execution (3.7% of the group commit leader's time, 0.5% rendered once).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier


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

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify_statement)


RECORDER_ENV = {"APPLICATION_RECORDER_TOPIC": get_topic(BinaryInsertRecorder)}
