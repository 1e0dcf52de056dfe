"""The trivial baseline (bench.http's one-line FastAPI POST) served as ``docledger
serve --reuse-port`` serves the ledger: one process of N sharing a port.

    python -m bench.trivial_server PORT
"""

from __future__ import annotations

import sys

import uvicorn

from api.listening import reuse_port_socket
from bench.http import trivial

if __name__ == "__main__":
    config = uvicorn.Config(trivial, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[reuse_port_socket("127.0.0.1", int(sys.argv[1]))])
