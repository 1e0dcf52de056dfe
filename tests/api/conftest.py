"""A real API server for the tests: ``docledger serve`` (uvicorn) as a child process.

``backend_env`` gives the environment of one backend (embedded SQLite, or
PostgreSQL in a fresh schema); ``cli`` runs ``docledger`` in it; ``serve``
starts the server on a free port, waits (bounded) for /healthz and stops it at
the end of the test with SIGINT, uvicorn's graceful shutdown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_ENV
from tests.replica_support import pg_replica, standby  # noqa: F401 - fixtures

ENV_KEYS = ("DOCLEDGER_BACKEND", "DOCLEDGER_PG_DB", "DOCLEDGER_PG_SCHEMA", "DOCLEDGER_ENV")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

Cli = Callable[..., subprocess.CompletedProcess[str]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(env: dict[str, str]) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    return {**clean, **env, "COLUMNS": "200"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    schema = request.getfixturevalue("pg_schema")
    return PG_ENV | {"DOCLEDGER_PG_SCHEMA": schema}


@pytest.fixture
def cli(backend_env: dict[str, str]) -> Cli:
    """Run ``docledger ARGS`` as a process in the backend's environment."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True,
                              text=True, env=environment({**backend_env, **(env or {})}),
                              timeout=120)

    return run


@dataclass
class LiveServer:
    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGINT (graceful: lifespan shutdown closes the ledger), then kill if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode


@pytest.fixture
def serve(backend_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start ``docledger serve --data D [ARGS]`` on a free port (or the one given);
    every one started is stopped."""
    started: list[LiveServer] = []

    def start(data: Path, *args: str, port: int | None = None) -> LiveServer:
        port = port or free_port()
        log = tmp_path / f"server-{port}-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1", "--port",
                 str(port), "--data", str(data), *args],
                stdout=out, stderr=subprocess.STDOUT,
                # a checkpoint after every command, so fresh receipts are provable at once
                env=environment({**backend_env, "DOCLEDGER_CHECKPOINT_SECONDS": "0"}))
        server = LiveServer(f"http://127.0.0.1:{port}", data, process, log)
        started.append(server)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        server.stop()
        pytest.fail(f"the server did not answer /healthz in {START_TIMEOUT}s:\n"
                    f"{server.output()}")

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def ledger(tmp_path: Path, cli: Cli) -> Path:
    """A data folder the demo filled, on the backend under test."""
    data = tmp_path / "D"
    made = cli("demo", "--data", str(data))
    assert made.returncode == 0, made.stderr
    return data
