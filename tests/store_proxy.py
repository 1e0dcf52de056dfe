"""A TCP proxy in front of the test PostgreSQL server that a test controls.

It lets a test make the store unreachable without touching the real server:
``stop()`` closes the listener and every relayed connection (the store is down:
connections are refused), ``hang()`` keeps accepting but relays nothing any more
in either direction (a store that never answers), ``start()`` forwards again on
the same port (the store is back).
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.conftest import PG


class StoreProxy:
    """Forwards 127.0.0.1:<port> to the test server; stop, hang and start at will."""

    def __init__(self, target: tuple[str, int] = (PG["host"], PG["port"])) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._relaying = threading.Event()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._relaying.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one: the store is down."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def hang(self) -> None:
        """Accept connections but relay nothing: a store that never answers."""
        self._relaying.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if self._relaying.is_set():
                threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets.append(upstream)
        pair = {client: upstream, upstream: client}
        try:
            while True:
                if not self._relaying.is_set():
                    self._relaying.wait(0.1)  # hung: hold both ends open, pass nothing on
                    continue
                ready, _, _ = select.select(list(pair), [], [], 0.1)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    pair[s].sendall(data)
        except (OSError, ValueError):  # closed under us by stop()
            return
        finally:
            for s in pair:
                with suppress(OSError):
                    s.close()


@contextmanager
def store_proxy() -> Iterator[StoreProxy]:
    proxy = StoreProxy()
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
