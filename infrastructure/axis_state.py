"""What the axis connector remembers, in tables beside the ledger's event store.

- ``axis_received``: each message pulled from the axis, by (agency, the axis's
  id): how far it got (``importing`` → ``imported`` → ``acknowledged``, or
  ``refused`` → ``refusal-sent``), the digest of its bytes, and for a refused one
  its bytes and the reason, kept for the operator;
- ``axis_sent``: each outgoing message, by (agency, its stable id): ``sending``
  until the axis named its id, then ``sent`` with that id (or ``send-refused``
  with the axis's reason, kept for the operator and not sent again);
- ``axis_cursor``: per agency, the exporter's position up to which everything
  is sent;
- ``axis_directory``: the axis's agency directory as last fetched.

Each state change is one statement in a transaction of its own, written after
the step it records; docs/axis.md says what a crash between them leaves and why
the next run neither doubles nor loses anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application

from infrastructure.axis_client import DirectoryEntry
from infrastructure.log_store import EventsTable
from infrastructure.schema_lock import hold_schema_lock

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS {p}axis_received (agency TEXT NOT NULL, doc_id TEXT NOT NULL, "
    "service_type TEXT NOT NULL, sender TEXT NOT NULL, state TEXT NOT NULL, "
    "sha256 TEXT, error TEXT, data {blob}, updated_at TEXT NOT NULL, "
    "PRIMARY KEY (agency, doc_id))",
    "CREATE TABLE IF NOT EXISTS {p}axis_sent (agency TEXT NOT NULL, outgoing_id TEXT NOT NULL, "
    "service_type TEXT NOT NULL, state TEXT NOT NULL, axis_id TEXT, error TEXT, "
    "updated_at TEXT NOT NULL, "
    "PRIMARY KEY (agency, outgoing_id))",
    "CREATE TABLE IF NOT EXISTS {p}axis_cursor (agency TEXT PRIMARY KEY, position {int} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}axis_directory (code TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "parent TEXT NOT NULL, fetched_at TEXT NOT NULL)",
]

IMPORTING, IMPORTED, ACKNOWLEDGED = "importing", "imported", "acknowledged"
REFUSED, REFUSAL_SENT = "refused", "refusal-sent"
SENDING, SENT, SEND_REFUSED = "sending", "sent", "send-refused"


@dataclass(frozen=True, kw_only=True)
class ReceivedRow:
    agency: str
    doc_id: str
    service_type: str
    sender: str
    state: str
    sha256: str | None
    error: str | None
    data: bytes | None
    updated_at: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class AxisState:
    """The connector's tables in the ledger's own database."""

    def __init__(self, table: EventsTable) -> None:
        self.table = table
        types = {"int": "BIGINT", "blob": "BYTEA"} if table.postgres else {
            "int": "INTEGER", "blob": "BLOB"}
        with table.datastore.transaction(commit=True) as c:
            if table.postgres:
                hold_schema_lock(c)
            for statement in SCHEMA:
                c.execute(table.sql(statement.format(p="{p}", **types)))

    @classmethod
    def beside(cls, app: Application[UUID]) -> AxisState:
        """The connector's state in the database of ``app``'s events."""
        return cls(EventsTable.of(app.recorder))

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        with self.table.datastore.transaction(commit=True) as c:
            c.execute(self.table.sql(statement), values)

    # ---- received ----------------------------------------------------------------

    def received(self, agency: str, doc_id: str) -> ReceivedRow | None:
        found = self._received("agency = %s AND doc_id = %s", (agency, doc_id))
        return found[0] if found else None

    def refused(self, agency: str) -> list[ReceivedRow]:
        """The messages refused for ``agency``, kept with their reason, oldest first."""
        return self._received("agency = %s AND state IN (%s, %s)",
                              (agency, REFUSED, REFUSAL_SENT))

    def _received(self, where: str, values: tuple[object, ...]) -> list[ReceivedRow]:
        with self.table.datastore.transaction(commit=False) as c:
            c.execute(self.table.sql(
                "SELECT agency, doc_id, service_type, sender, state, sha256, error, data, "
                f"updated_at FROM {{p}}axis_received WHERE {where} ORDER BY updated_at"), values)
            return [ReceivedRow(agency=r["agency"], doc_id=r["doc_id"],
                                service_type=r["service_type"], sender=r["sender"],
                                state=r["state"], sha256=r["sha256"], error=r["error"],
                                data=None if r["data"] is None else bytes(r["data"]),
                                updated_at=r["updated_at"]) for r in c.fetchall()]

    def mark_received(self, agency: str, doc_id: str, *, service_type: str, sender: str,
                      state: str, sha256: str | None = None, error: str | None = None,
                      data: bytes | None = None) -> None:
        """Record how far the message got (whatever was recorded before is replaced,
        but a digest or reason already known is kept when none is given)."""
        self._write(
            "INSERT INTO {p}axis_received (agency, doc_id, service_type, sender, state, sha256, "
            "error, data, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (agency, doc_id) DO UPDATE SET state = excluded.state, "
            "sha256 = coalesce(excluded.sha256, {p}axis_received.sha256), "
            "error = coalesce(excluded.error, {p}axis_received.error), "
            "data = coalesce(excluded.data, {p}axis_received.data), "
            "updated_at = excluded.updated_at",
            (agency, doc_id, service_type, sender, state, sha256, error, data, _now()))

    # ---- sent --------------------------------------------------------------------

    def sent(self, agency: str, outgoing_id: str) -> tuple[str, str | None] | None:
        """(state, the axis's id) of an outgoing message; None if never tried."""
        with self.table.datastore.transaction(commit=False) as c:
            c.execute(self.table.sql("SELECT state, axis_id FROM {p}axis_sent "
                                     "WHERE agency = %s AND outgoing_id = %s"),
                      (agency, outgoing_id))
            row = c.fetchone()
        return None if row is None else (row["state"], row["axis_id"])

    def mark_sending(self, agency: str, outgoing_id: str, service_type: str) -> None:
        self._write("INSERT INTO {p}axis_sent (agency, outgoing_id, service_type, state, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (agency, outgoing_id) DO NOTHING",
                    (agency, outgoing_id, service_type, SENDING, _now()))

    def mark_sent(self, agency: str, outgoing_id: str, axis_id: str) -> None:
        self._write("UPDATE {p}axis_sent SET state = %s, axis_id = %s, updated_at = %s "
                    "WHERE agency = %s AND outgoing_id = %s",
                    (SENT, axis_id, _now(), agency, outgoing_id))

    def mark_send_refused(self, agency: str, outgoing_id: str, error: str) -> None:
        """The axis refused the message: kept with the reason, not sent again."""
        self._write("UPDATE {p}axis_sent SET state = %s, error = %s, updated_at = %s "
                    "WHERE agency = %s AND outgoing_id = %s",
                    (SEND_REFUSED, error, _now(), agency, outgoing_id))

    # ---- the exporter's cursor ---------------------------------------------------

    def cursor(self, agency: str) -> int:
        with self.table.datastore.transaction(commit=False) as c:
            c.execute(self.table.sql("SELECT position FROM {p}axis_cursor WHERE agency = %s"),
                      (agency,))
            row = c.fetchone()
        return 0 if row is None else int(row["position"])

    def advance_cursor(self, agency: str, position: int) -> None:
        self._write("INSERT INTO {p}axis_cursor (agency, position) VALUES (%s, %s) "
                    "ON CONFLICT (agency) DO UPDATE SET position = excluded.position "
                    "WHERE {p}axis_cursor.position < excluded.position", (agency, position))

    # ---- directory ---------------------------------------------------------------

    def replace_directory(self, entries: Iterable[DirectoryEntry]) -> int:
        """Replace the directory with what the axis listed, in one transaction."""
        rows = [(e.code, e.name, e.parent, _now()) for e in entries]
        with self.table.datastore.transaction(commit=True) as c:
            c.execute(self.table.sql("DELETE FROM {p}axis_directory"))
            if rows:
                c.executemany(self.table.sql(
                    "INSERT INTO {p}axis_directory (code, name, parent, fetched_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (code) DO NOTHING"), rows)
        return len(rows)

    def directory(self) -> list[DirectoryEntry]:
        with self.table.datastore.transaction(commit=False) as c:
            c.execute(self.table.sql("SELECT code, name, parent FROM {p}axis_directory "
                                     "ORDER BY code"))
            return [DirectoryEntry(code=r["code"], name=r["name"], parent=r["parent"])
                    for r in c.fetchall()]
