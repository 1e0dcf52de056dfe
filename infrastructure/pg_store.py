"""eventsourcing's PostgreSQL factory, with every wait on the store bounded.

Left as they are, a store that is down or hangs holds each caller far beyond any
client's patience: eventsourcing retries a failed read or write ten times, each
attempt waiting up to the pool timeout for a connection (52 s measured for one
read); a new connection to a server that accepts and never answers waits
forever, and so does a statement on a connection whose server stopped
answering. Here:

- a new connection gives up after ``connect_timeout`` (libpq), and TCP
  keepalives notice a peer that has gone;
- a server that leaves a liveness probe unanswered for ``POSTGRES_IO_TIMEOUT``
  seconds (default 2) while statements wait on it counts as stalled, and the
  connections lent out are cut (``infrastructure.pg_watch``); a server that
  answers is busy, and a statement waiting for a lock or doing long work is
  never cut;
- once a connection broke (or was cut), the pool's other connections are
  replaced, and once one could not be had or broke, the next callers wait only
  briefly for one (``OUTAGE_WAIT``) and are not retried (StoreOutageError)
  until one is had again: during an outage a caller learns it at once, while
  the pool keeps reconnecting in the background with its own backoff.

Every failure is an eventsourcing OperationalError or a StoreOutageError, which
``infrastructure.store_faults`` classifies as the store being unavailable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
)
from eventsourcing.postgres import (
    PostgresDatastore,
    PostgresFactory,
    TPostgresTrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType

from infrastructure.pg_watch import ServerWatch
from infrastructure.schema_lock import schema_lock
from infrastructure.store_faults import StoreOutageError

IO_TIMEOUT = "POSTGRES_IO_TIMEOUT"
DEFAULT_IO_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2  # seconds, libpq's minimum
RECONNECT_WITHIN = 10.0
OUTAGE_WAIT = 0.05  # seconds a caller waits for a connection while the store is out
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
              "keepalives_count": 3, "tcp_user_timeout": 15_000}


class BoundedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory; its pool's waits are bounded (see module)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        io_timeout = float(self.env.get(IO_TIMEOUT) or DEFAULT_IO_TIMEOUT)
        self.watch = bound_waits(self.datastore, io_timeout)

    def application_recorder(self) -> ApplicationRecorder:
        with schema_lock(self.datastore):  # its tables, made by one process at a time
            return super().application_recorder()

    def tracking_recorder(
            self, tracking_recorder_class: type[TPostgresTrackingRecorder] | None = None
    ) -> TPostgresTrackingRecorder:
        with schema_lock(self.datastore):
            return super().tracking_recorder(tracking_recorder_class)

    def close(self) -> None:
        self.watch.close()
        super().close()


def bound_waits(datastore: PostgresDatastore, io_timeout: float) -> ServerWatch:
    pool = datastore.pool
    assert not callable(pool.kwargs), "eventsourcing gives the pool its kwargs as a dict"
    assert isinstance(pool.conninfo, str), "eventsourcing gives the pool no conninfo"
    conninfo = pool.conninfo
    # the watch connects as the pool does, with the same (shared) arguments
    pool.kwargs = connect_with = {**(pool.kwargs or {}), "connect_timeout": CONNECT_TIMEOUT,
                                  **KEEPALIVES}
    # the pool's own reconnection backs off (1, 2, 4 … s) until this, then gives
    # up until a caller asks again: a store back after a long outage is found in
    # seconds, not after the minutes the backoff would have grown to
    pool.reconnect_timeout = RECONNECT_WITHIN
    watch = ServerWatch(lambda: psycopg.connect(conninfo, **connect_with, autocommit=True),
                        answer_within=io_timeout)
    normal_wait = pool.timeout
    get_connection = datastore.get_connection

    @contextmanager
    def connection() -> Iterator[Any]:
        conn = None
        out = pool.timeout == OUTAGE_WAIT
        with watch.lending() as lease:
            try:
                with get_connection() as conn:
                    lease.hold(conn)
                    pool.timeout = normal_wait  # the store answers again
                    yield conn
            except (OperationalError, InterfaceError) as exc:
                broken = conn is not None and (conn.broken or conn.closed)
                if conn is None or broken:
                    pool.timeout = OUTAGE_WAIT
                if broken:
                    # its siblings went to the same server: likely as dead, and each
                    # would cost a caller another timeout; the pool makes new ones
                    pool.drain()
                if lease.cut:
                    raise StoreOutageError(
                        f"the store did not answer within {io_timeout:g} s") from exc
                if out and conn is None:
                    # known to be out: not worth eventsourcing's ten retries (seconds
                    # each caller would spend, many of them queued behind one lock)
                    raise StoreOutageError(str(exc)) from exc
                raise

    datastore.get_connection = connection  # type: ignore[method-assign]
    return watch
