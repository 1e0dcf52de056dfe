"""Tells a PostgreSQL server that stopped answering from one that is busy, and cuts
the connections waiting on the first.

A statement gets no bytes back both while the server works on it (waits for the
log's lock, runs a long rebuild) and when the server, or a proxy on the way, has
stalled. Neither TCP keepalives nor ``tcp_user_timeout`` see a stalled proxy: it
still acknowledges every byte. The waiting connection cannot tell the two apart,
but another one can: while a connection has been lent out for ``PROBE_AFTER``
seconds, the watch asks the server, over a connection of its own, to answer a
``SELECT 1`` within ``answer_within`` seconds. A server that answers is busy and
its callers keep waiting, however long their work takes; one that does not has
stalled, and every connection lent out is cut (its socket shut down), so each
caller's wait ends at once with a connection error.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg

PROBE_AFTER = 1.0  # seconds a connection is lent out before the server is asked
CLOSE_WAIT = 10.0  # seconds closing waits for a question still being asked


@dataclass
class Lease:
    """One connection lent out, as the watch sees it."""

    since: float = field(default_factory=time.monotonic)
    socket: socket.socket | None = None  # the connection's socket, shared, not owned
    cut: bool = False  # the watch shut it: the server stopped answering

    def hold(self, conn: psycopg.Connection[Any]) -> None:
        # a duplicate of the descriptor: shutting it down reaches the connection,
        # and can never reach whatever socket later reuses the number
        self.socket = socket.socket(fileno=os.dup(conn.fileno()))
        self.since = time.monotonic()


class ServerWatch:
    """Asks the server whether it answers while connections are lent out; cuts them
    if it does not (see module)."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]],
                 answer_within: float) -> None:
        self.answer_within = answer_within
        self._changed = threading.Condition()
        self._held: dict[int, Lease] = {}
        self._last_probe = -math.inf
        self._watcher: threading.Thread | None = None
        self._closed = False
        self._prober = _Prober(connect)

    @contextmanager
    def lending(self) -> Iterator[Lease]:
        """Watch the connection the caller holds (``Lease.hold``) until it is back."""
        lease = Lease()
        with self._changed:  # no wake-up: the watch looks at least every PROBE_AFTER
            self._held[id(lease)] = lease
            self._start()
        try:
            yield lease
        finally:
            with self._changed:  # never while the watch may be shutting it down
                del self._held[id(lease)]
                if lease.socket is not None:
                    lease.socket.close()

    def close(self) -> None:
        if sys.is_finalizing():
            # the interpreter is ending and has frozen the daemon threads, one of
            # them perhaps holding a lock taken here: wait on nothing, the process's
            # end closes the sockets
            return
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._prober.close()

    def _start(self) -> None:
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, daemon=True,
                                             name="docledger-pg-watch")
            self._watcher.start()

    def _watch(self) -> None:
        while self._wait_until_probe_due():
            answered = self._prober.answers_within(self.answer_within)
            with self._changed:
                if self._closed:
                    return
                self._last_probe = time.monotonic()
                if not answered:
                    self._cut_all()

    def _wait_until_probe_due(self) -> bool:
        with self._changed:
            while not self._closed:
                due = self._probe_due()
                if due is not None and due <= time.monotonic():
                    return True
                self._changed.wait(PROBE_AFTER if due is None else due - time.monotonic())
            return False

    def _probe_due(self) -> float | None:
        watched = [lease.since for lease in self._held.values() if not lease.cut]
        if not watched:
            return None
        return max(min(watched), self._last_probe) + PROBE_AFTER

    def _cut_all(self) -> None:
        for lease in self._held.values():
            if lease.socket is not None and not lease.cut:
                lease.cut = True
                with suppress(OSError):
                    lease.socket.shutdown(socket.SHUT_RDWR)


class _Prober:
    """Runs ``SELECT 1`` on a connection of its own, in a thread of its own, so a
    server that never answers costs the watch no more than the time it allows."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]]) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._socket: socket.socket | None = None
        self._running: threading.Thread | None = None
        self._closed = False

    def answers_within(self, seconds: float) -> bool:
        answered = threading.Event()
        with self._lock:
            if self._closed or (self._running is not None and self._running.is_alive()):
                return False  # closing, or the last question is still unanswered
            self._running = threading.Thread(target=self._ask, args=(answered,),
                                             daemon=True, name="docledger-pg-probe")
            self._running.start()
        if answered.wait(seconds):
            return True
        self._give_up()
        return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            running = self._running
        self._give_up()
        if running is not None:
            running.join(CLOSE_WAIT)  # ends at once, or when its connect times out
        self._forget()

    def _ask(self, answered: threading.Event) -> None:
        # an error is an answer too (the server refuses, or has too many clients):
        # only silence means stalled; the kept connection may have died with an
        # earlier outage, so a failure there is asked again on a new one
        for _ in range(2):
            try:
                self._connection().execute("SELECT 1")
                break
            except psycopg.errors.ConnectionTimeout:
                self._forget()
                return  # silence
            except psycopg.Error:
                self._forget()
                if self._closed:
                    return
        answered.set()

    def _connection(self) -> psycopg.Connection[Any]:
        with self._lock:
            conn = self._conn
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
            with self._lock:
                self._conn, self._socket = conn, socket.socket(fileno=os.dup(conn.fileno()))
        return conn

    def _give_up(self) -> None:
        """End the question's wait: its thread then fails and drops the connection."""
        with self._lock:
            if self._socket is not None:
                with suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)

    def _forget(self) -> None:
        with self._lock:
            conn, sock, self._conn, self._socket = self._conn, self._socket, None, None
            if sock is not None:
                sock.close()
        if conn is not None:
            conn.close()
