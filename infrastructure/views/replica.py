"""Reading the views from a PostgreSQL streaming replica (docs/replicas.md).

The views worker projects into tables on the primary; the replica replays them.
A read goes to the replica only when it is a standby that keeps up (its lag
under ``max_lag``) and has replayed what the reader asked for; otherwise it is
answered by the primary. Every replica read runs in a read-only REPEATABLE READ
transaction whose first statement asks ``pg_is_in_recovery()``: its snapshot
was taken while the server was a standby, so it holds only what the primary
wrote. A replica that answers "not in recovery" was promoted: it is a copy that
may diverge (anyone may write to it), and it is never read again by this process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from domain.errors import InvalidInputError
from infrastructure.views.store import LIVE, ViewStore

log = logging.getLogger("docledger.replica")

State = Literal["streaming", "lagging", "down", "promoted"]
PROBE_EVERY = 0.5  # seconds a probe's finding is reused
POLL = 0.01  # seconds between looks while waiting for the replica to replay
CONNECT_TIMEOUT = 2
LSN_PATTERN = r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"


class PromotedReplicaError(Exception):
    """The replica is no longer a standby: what it holds may not be the primary's."""


@dataclass(frozen=True)
class ReplicaStatus:
    """What the last probe found: whether reads may go to the replica, and why not."""

    state: State
    lag_seconds: float | None = None
    replay_lsn: str | None = None
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state == "streaming"


def conninfo(target: str) -> str:
    """``host:port`` (user and database left to the caller) or a libpq DSN as given."""
    if "=" in target or "://" in target:
        return target
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidInputError(f"DOCLEDGER_PG_REPLICA: {target!r} is neither host:port nor a DSN")
    return f"host={host} port={port}"


class ReplicaViews(ViewStore):
    """The live views as the replica holds them: read only, and a read that fails
    on the replica is answered by the primary's views."""

    def __init__(self, primary: ViewStore, replica: Replica) -> None:  # noqa: D107
        # not ViewStore.__init__: nothing is ever created or written here
        self.recorder = primary.recorder
        self.datastore = primary.datastore
        self.postgres = True
        self.prefix, self.suffix, self.tracking_name = primary.prefix, LIVE, "views"
        self.app_name = primary.app_name
        self._sql_cache = {}
        self.primary = primary
        self.replica = replica

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Any]:
        if commit:
            raise PromotedReplicaError("the replica is never written to")
        with self.replica.snapshot() as cursor:
            yield cursor

    def query(self, template: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            rows = super().query(template, params)
        except (psycopg.Error, PoolTimeout, PromotedReplicaError) as exc:
            self.replica.failed(exc)
            return self.primary.query(template, params)
        self.replica.served("replica")
        return rows

    def position(self) -> int:
        rows = super().query(f"SELECT notification_id FROM {self._tracking_table()} "
                             "WHERE application_name = %s", [self.tracking_name])
        return int(rows[0]["notification_id"]) if rows else 0


class Replica:
    """A streaming replica of the ledger's database, and the decision to read from it."""

    def __init__(self, primary: ViewStore, target: str, *, user: str, password: str,
                 dbname: str, max_lag: float) -> None:
        self.primary = primary
        self.max_lag = max_lag
        self.pool = ConnectionPool(
            conninfo(target), min_size=0, max_size=8, timeout=CONNECT_TIMEOUT, open=True,
            name="docledger-replica",
            kwargs={"user": user, "password": password, "dbname": dbname,
                    "connect_timeout": CONNECT_TIMEOUT, "row_factory": dict_row,
                    "autocommit": False, "application_name": "docledger-reader"},
            configure=_read_only)
        self._probe_conninfo = psycopg.conninfo.make_conninfo(
            conninfo(target), user=user, password=password, dbname=dbname,
            connect_timeout=CONNECT_TIMEOUT, application_name="docledger-probe")
        self.views = ReplicaViews(primary, self)
        self.reads: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._probing = threading.Lock()
        self._status = ReplicaStatus("down", detail="not probed yet")
        self._probed_at = float("-inf")
        self._promoted = False

    # ---- reading -------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """A cursor in a transaction whose snapshot was taken while the server was a standby."""
        if self._promoted:
            raise PromotedReplicaError("the replica was promoted")
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery() AS standby")
            row = cursor.fetchone()
            if not row or not row["standby"]:
                self._promote()
                raise PromotedReplicaError("the replica was promoted")
            yield cursor

    def views_for(self, wait_for: int | None, after_lsn: str | None) -> ViewStore | None:
        """The replica's views if it keeps up and has replayed notification ``wait_for``
        (the views include it) and WAL position ``after_lsn``, waiting for that at
        most ``max_lag`` seconds; None: read from the primary."""
        if not self.status().usable:
            self.served("primary-unusable")
            return None
        deadline = time.monotonic() + self.max_lag
        try:
            while not self._replayed(wait_for, after_lsn):
                if time.monotonic() >= deadline:
                    self.served("primary-behind")
                    return None
                time.sleep(POLL)
        except (psycopg.Error, PoolTimeout, PromotedReplicaError) as exc:
            self.failed(exc)
            return None
        return self.views

    def _replayed(self, wait_for: int | None, after_lsn: str | None) -> bool:
        if after_lsn is None and wait_for is None:
            return True
        with self.snapshot() as c:
            if after_lsn is not None:
                c.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn AS done", (after_lsn,))
                row = c.fetchone()
                if not row or not row["done"]:
                    return False
            if wait_for is not None:
                c.execute(self.views.sql(f"SELECT notification_id FROM "
                                         f"{self.views._tracking_table()} "
                                         "WHERE application_name = %s"), ("views",))
                row = c.fetchone()
                return row is not None and row["notification_id"] >= wait_for
        return True

    def counts(self) -> dict[str, int]:
        """View reads answered so far, by source (``replica``, ``primary-<why>``)."""
        with self._lock:
            return dict(self.reads)

    def served(self, source: str) -> None:
        with self._lock:
            self.reads[source] += 1

    def failed(self, exc: BaseException) -> None:
        """A read on the replica failed: the primary answers, and the next read probes."""
        log.warning("replica read failed, reading from the primary: %s", exc)
        self.served("primary-failed")
        with self._lock:
            self._probed_at = float("-inf")

    # ---- probing --------------------------------------------------------------------

    def status(self) -> ReplicaStatus:
        """The replica's state, probed at most every ``PROBE_EVERY`` seconds. One
        thread probes at a time; the others take the last finding meanwhile, so a
        replica slow to answer holds one caller, not every reader."""
        with self._lock:
            if time.monotonic() - self._probed_at < PROBE_EVERY:
                return self._status
        if not self._probing.acquire(blocking=False):
            return self._status
        try:
            found = self._probe()
            with self._lock:
                self._status, self._probed_at = found, time.monotonic()
            return found
        finally:
            self._probing.release()

    def _probe(self) -> ReplicaStatus:
        if self._promoted:
            return PROMOTED
        try:  # a connection of its own: the pool would wait its timeout for a server down
            with psycopg.connect(self._probe_conninfo, row_factory=dict_row) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS "
                    "lsn, EXTRACT(EPOCH FROM clock_timestamp() - "
                    "pg_last_xact_replay_timestamp())::float8 AS age").fetchone()
        except psycopg.Error as exc:
            return ReplicaStatus("down", detail=str(exc).strip() or type(exc).__name__)
        if row is None or not row["standby"]:
            self._promote()
            return PROMOTED
        lsn, age = row["lsn"], row["age"]
        with self.primary.transaction(commit=False) as c:
            c.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::float8 AS behind",
                      (lsn,))
            behind = c.fetchone()["behind"]
        # caught up: no lag, however long ago the primary last wrote; behind: as old
        # as the last transaction it replayed (an upper bound on how stale it reads)
        lag = 0.0 if behind is None or behind <= 0 else max(0.0, age or 0.0)
        if lag > self.max_lag:
            return ReplicaStatus("lagging", lag, lsn, f"{behind:.0f} bytes of WAL behind")
        return ReplicaStatus("streaming", lag, lsn)

    def _promote(self) -> None:
        """Stop reading the replica for good: it left recovery, so it may diverge."""
        if not self._promoted:
            log.error("the replica is no longer a standby (promoted): its views are no "
                      "longer read; reads go to the primary")
        self._promoted = True

    def close(self) -> None:
        self.pool.close()


PROMOTED = ReplicaStatus("promoted", detail="the replica is no longer a standby; "
                                            "it is not read again by this process")


def _read_only(conn: psycopg.Connection[Any]) -> None:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
