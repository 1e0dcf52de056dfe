"""eventsourcing's SQLite factory, with the event store's tables made by one
process at a time (see infrastructure/schema_lock.py)."""

from __future__ import annotations

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteFactory, SQLiteTrackingRecorder

from infrastructure.schema_lock import file_schema_lock


class SchemaLockedSQLiteFactory(SQLiteFactory):
    """Creates the recorders (and with them their tables) under the schema lock."""

    def application_recorder(self) -> ApplicationRecorder:
        with file_schema_lock(self._database()):
            return super().application_recorder()

    def tracking_recorder(
            self, tracking_recorder_class: type[SQLiteTrackingRecorder] | None = None
    ) -> SQLiteTrackingRecorder:
        with file_schema_lock(self._database()):
            return super().tracking_recorder(tracking_recorder_class)

    def _database(self) -> str:
        return str(self.env.get(self.SQLITE_DBNAME) or ":memory:")
