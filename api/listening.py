"""The listening socket of ``docledger serve --reuse-port``: many processes, one port.

Each process binds its own socket with SO_REUSEPORT and the kernel spreads the
connections over them, so N independent servers (each its own ledger session,
aggregate cache and Merkle log catch-up) share one address with nothing in
front. uvicorn's ``--workers`` is not used for that: its shared socket is made
without the TCP protocol number, so asyncio does not set TCP_NODELAY on the
connections it accepts and every keep-alive request after the first waits about
40 ms for the client's delayed ACK (measured: 0.9 ms against 44 ms a request on
one connection; uvicorn issue 3149). The socket here is made with IPPROTO_TCP.
"""

from __future__ import annotations

import socket


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
