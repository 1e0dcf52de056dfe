"""The store unreachable, hanging or locked, under a real server and the command line.

On PostgreSQL the ledger talks to the server through a proxy the test stops (the
store is down: connections refused and cut) or hangs (it accepts and never
answers); on SQLite the analogue is the database file locked by another process
beyond the lock timeout, or a file that cannot be opened. Timings here are
behaviour, not speed: a bound says the answer does not hang.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.client import LedgerClient
from api.demo import DEPARTMENT, DISTRICT_EAST, DISTRICT_WEST
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder
from tests.api.conftest import Cli, LiveServer, environment
from tests.conftest import PG_ENV, TEST_PG_DB
from tests.store_proxy import StoreProxy
from tests.waiting import wait_until

SQLITE_LOCK_TIMEOUT = 1  # seconds the server waits on a locked file before giving up


class Outage:
    """Makes the store unavailable and available again, whichever the backend."""

    def __init__(self, backend: str, proxy: StoreProxy | None) -> None:
        self.backend, self.proxy = backend, proxy
        self._lock: sqlite3.Connection | None = None
        self.data: Path | None = None

    def begin(self, *, hang: bool = False) -> None:
        if self.proxy is not None:
            self.proxy.hang() if hang else self.proxy.stop()
            return
        assert self.data is not None
        # another process holds the write lock: commands (and the nonce a signed
        # read records) wait the lock timeout, then fail
        self._lock = sqlite3.connect(self.data / "ledger.sqlite", isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy.start()
        elif self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None


@pytest.fixture
def proxy() -> Iterator[StoreProxy]:
    proxy = StoreProxy()
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_env(request: pytest.FixtureRequest, proxy: StoreProxy) -> dict[str, str]:
    """As tests/api/conftest.py's, the PostgreSQL server reached through the proxy."""
    if request.param == "sqlite":
        return {"DOCLEDGER_SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT)}
    schema = request.getfixturevalue("pg_schema")
    return PG_ENV | {"DOCLEDGER_PG_SCHEMA": schema, "DOCLEDGER_PG_PORT": str(proxy.port)}


@pytest.fixture
def outage(backend_env: dict[str, str], proxy: StoreProxy) -> Iterator[Outage]:
    backend = "postgres" if "DOCLEDGER_PG_PORT" in backend_env else "sqlite"
    made = Outage(backend, proxy if backend == "postgres" else None)
    yield made
    made.end()


def client(server: LiveServer, code: str = DEPARTMENT) -> LedgerClient:
    signer = load_signer(DataFolder(server.data).agency_key(code))
    return LedgerClient(server.url, code, signer, http=httpx.Client(base_url=server.url,
                                                                    timeout=60))


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def add_key_command(who: LedgerClient) -> bytes:
    """A command an agency may sign for itself: add a fresh key."""
    return sign_command(who.signer, "agency.add_key",
                        {"code": who.party, "key": Ed25519Signer.generate().public_key.to_spec()},
                        agency=who.party, staff="văn thư")


def post(who: LedgerClient, raw: bytes) -> httpx.Response:
    return who.http.post("/v1/commands", content=raw,
                         headers={"content-type": "application/json"})


def whoami(who: LedgerClient) -> httpx.Response:
    return who.http.get("/v1/whoami", auth=who.auth)


def assert_store_unavailable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    problem: dict[str, Any] = response.json()
    assert problem["type"] == "urn:docledger:problem:store-unavailable", problem
    return problem


def test_store_unreachable_answers_503_store_unavailable_in_seconds_and_recovers(
        ledger: Path, cli: Cli, serve: Callable[[Path], LiveServer], outage: Outage) -> None:
    server = serve(ledger)
    agency = client(server)
    assert whoami(agency).status_code == 200
    outage.data = ledger
    outage.begin()

    health, took = timed(lambda: httpx.get(f"{server.url}/healthz", timeout=30))
    assert health.status_code == 200 and took < 1.0
    ready, took = timed(lambda: httpx.get(f"{server.url}/readyz", timeout=30))
    assert took < 3.0 and ready.status_code in (200, 503)  # SQLite still reads when locked
    if outage.backend == "postgres":
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"

    read, took = timed(lambda: whoami(agency))
    assert_store_unavailable(read)  # not 401: the caller's key is not at fault
    assert took < 10.0
    raw = add_key_command(agency)
    command, took = timed(lambda: post(agency, raw))
    assert_store_unavailable(command)
    assert took < 10.0
    remote = cli("agency", "add-key", DEPARTMENT, "--as", DEPARTMENT, "--pubkey",
                 str(DataFolder(ledger).agency_key(DISTRICT_EAST)) + ".pub", "--server",
                 server.url, "--key", str(DataFolder(ledger).agency_key(DEPARTMENT)))
    assert remote.returncode == 9, remote.stdout + remote.stderr
    one_line_error(remote, "store-unavailable")

    outage.end()
    answer = post_once_the_store_answers(agency, raw)
    assert answer.status_code == 201, answer.text  # it had not been committed
    assert whoami(agency).status_code == 200


# the longest a caller may wait for a store that stopped answering: generous, for a
# loaded machine (a behaviour bound, not a speed target: without the liveness
# check a caller waited out each statement's 15 s)
HANG_ANSWERED_WITHIN = 8.0


@pytest.mark.postgres
@pytest.mark.parametrize("backend_env", ["postgres"], indirect=True)
def test_store_that_hangs_answers_503_within_seconds_writes_nothing_and_recovers(
        ledger: Path, cli: Cli, serve: Callable[[Path], LiveServer],
        backend_env: dict[str, str], outage: Outage) -> None:
    server = serve(ledger)
    agency = client(server)
    raw = add_key_command(agency)
    head = _log_head(backend_env, ledger)
    # each the first to meet the hang, on connections that answered a moment ago
    for request in (lambda: whoami(agency), lambda: post(agency, raw)):
        assert wait_until(lambda: whoami(agency).status_code == 200, 30)
        outage.begin(hang=True)
        answer, took = timed(request)
        assert_store_unavailable(answer)
        assert took < HANG_ANSWERED_WITHIN
        outage.end()
    outage.begin(hang=True)
    start = time.monotonic()
    local = add_key(cli, ledger, {})
    assert local.returncode == 9, local.stdout + local.stderr
    one_line_error(local, "store-unavailable")
    assert time.monotonic() - start < HANG_ANSWERED_WITHIN + 5  # a new process, too
    assert _log_head(backend_env, ledger) == head  # nothing written

    outage.end()  # the same server, not restarted, serves again
    answer = post_once_the_store_answers(agency, raw)
    assert answer.status_code == 201, answer.text  # it had not been committed
    assert whoami(agency).status_code == 200


@pytest.mark.postgres
def test_store_that_hangs_answers_503_while_healthz_answers_at_once(
        tmp_path: Path, proxy: StoreProxy, pg_schema: str) -> None:
    env = PG_ENV | {"DOCLEDGER_PG_SCHEMA": pg_schema, "DOCLEDGER_PG_PORT": str(proxy.port)}
    run = _runner(env)
    data = tmp_path / "D"
    assert run("demo", "--data", str(data)).returncode == 0
    server = _serve(tmp_path, data, env)
    try:
        agency = client(server)
        assert whoami(agency).status_code == 200
        proxy.hang()
        # more hung requests than the server has threads for them
        with ThreadPoolExecutor(48) as pool:
            hung = [pool.submit(whoami, agency) for _ in range(48)]
            time.sleep(1.0)  # let them reach the store
            health, took = timed(lambda: httpx.get(f"{server.url}/healthz", timeout=30))
            assert health.status_code == 200 and took < 1.0
            ready, took = timed(lambda: httpx.get(f"{server.url}/readyz", timeout=30))
            assert ready.status_code == 503 and took < 3.0
            start = time.monotonic()
            answers = [f.result(timeout=60) for f in hung]
            # the first ones wait for the liveness check (seconds), the rest less
            assert time.monotonic() - start < 40
        for answer in answers:
            assert_store_unavailable(answer)
    finally:
        proxy.stop()
        server.stop()


def post_once_the_store_answers(agency: httpx.Client, raw: bytes) -> httpx.Response:
    """Send the command until the answer is no longer 503 (at most 30 s): the pool
    finds the store again on a caller's request, not on a timer."""
    answer = post(agency, raw)

    def answered() -> bool:
        nonlocal answer
        answer = post(agency, raw)
        return answer.status_code != 503

    if answer.status_code == 503:
        wait_until(answered, 30, every=0.5)
    return answer


def _runner(env: dict[str, str]) -> Cli:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True,
                              text=True, env=environment(env), timeout=120)
    return run


def _serve(tmp_path: Path, data: Path, env: dict[str, str]) -> LiveServer:
    from tests.api.conftest import free_port

    port = free_port()
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--port", str(port), "--data", str(data)],
            stdout=out, stderr=subprocess.STDOUT, env=environment(env))
    server = LiveServer(f"http://127.0.0.1:{port}", data, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(server.output())


# ---- the command line --------------------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"({code})" in lines[0], result.stderr


def test_cli_on_an_unavailable_store_exits_9_and_audit_8_in_one_line(
        ledger: Path, cli: Cli, outage: Outage) -> None:
    outage.data = ledger
    outage.begin()
    send = add_key(cli, ledger, {})
    assert send.returncode == 9, send.stdout + send.stderr
    one_line_error(send, "store-unavailable")
    if outage.backend == "postgres":  # a locked SQLite file still reads
        inbox = cli("inbox", DISTRICT_EAST, "--data", str(ledger))
        assert inbox.returncode == 9, inbox.stdout + inbox.stderr
        one_line_error(inbox, "store-unavailable")
        audit = cli("audit", "--data", str(ledger))
        assert audit.returncode == 8, audit.stdout + audit.stderr
        one_line_error(audit, "audit-incomplete")


def test_cli_on_a_database_file_that_cannot_be_opened_exits_9_and_audit_8(
        tmp_path: Path) -> None:
    run = _runner({})
    data = tmp_path / "D"
    assert run("demo", "--data", str(data)).returncode == 0
    (data / "ledger.sqlite").rename(tmp_path / "moved.sqlite")
    (data / "ledger.sqlite").mkdir()  # a path SQLite cannot open as a database
    inbox = run("inbox", DISTRICT_EAST, "--data", str(data))
    assert inbox.returncode == 9, inbox.stdout + inbox.stderr
    one_line_error(inbox, "store-unavailable")
    audit = run("audit", "--data", str(data))
    assert audit.returncode == 8, audit.stdout + audit.stderr
    one_line_error(audit, "audit-incomplete")


# ---- the views worker ---------------------------------------------------------------------


def test_views_worker_outlives_a_store_outage_and_catches_up_after_it(
        ledger: Path, cli: Cli, backend_env: dict[str, str], outage: Outage) -> None:
    worker_env = {"DOCLEDGER_VIEWS_IN_PROCESS": "false"}
    assert add_key(cli, ledger, worker_env).returncode == 0  # events for the worker to apply
    outage.data = ledger
    outage.begin()
    worker = subprocess.Popen(
        [sys.executable, "-m", "api", "project", "--follow", "--data", str(ledger)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=environment(backend_env | worker_env))
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(worker.stderr or []), daemon=True).start()
    try:
        assert wait_until(lambda: sum("trying again" in line for line in lines) >= 2, 30), lines
        assert worker.poll() is None, lines  # a transient fault does not end it
        outage.end()
        assert wait_until(lambda: _views_at_head(backend_env, ledger), 30), lines
        if outage.backend == "postgres":  # and once it follows, an outage again
            outage.begin()
            seen = sum("trying again" in line for line in lines)
            assert wait_until(lambda: sum("trying again" in ln for ln in lines) >= seen + 2, 30)
            outage.end()
            assert add_key(cli, ledger, worker_env, DISTRICT_WEST).returncode == 0
            assert wait_until(lambda: _views_at_head(backend_env, ledger), 30), lines
            assert wait_until(lambda: any("catching up again" in line for line in lines), 10), lines
        assert worker.poll() is None, lines
    finally:
        worker.terminate()
        worker.wait(15)


def add_key(cli: Cli, ledger: Path, env: dict[str, str],
            key_of: str = DISTRICT_EAST) -> subprocess.CompletedProcess[str]:
    """The department adds a key (another agency's public key: any new key will do)."""
    return cli("agency", "add-key", DEPARTMENT, "--as", DEPARTMENT, "--pubkey",
                str(DataFolder(ledger).agency_key(key_of)) + ".pub",
                "--data", str(ledger), env=env)


def _views_at_head(backend_env: dict[str, str], ledger: Path) -> bool:
    """Whether the views hold every event, read straight from the real store."""
    from infrastructure.ledger import open_ledger
    from infrastructure.settings import Settings
    from infrastructure.views.store import ViewStore

    schema = backend_env.get("DOCLEDGER_PG_SCHEMA")
    settings = (Settings(data=ledger, backend="postgres", pg_db=TEST_PG_DB, pg_schema=schema)
                if schema else Settings(data=ledger))
    app = open_ledger(settings)
    try:
        return ViewStore(app).position() == app.recorder.max_notification_id()
    finally:
        app.close()


def _log_head(backend_env: dict[str, str], ledger: Path) -> int | None:
    """The last notification in the log, read straight from the real store."""
    from infrastructure.ledger import open_ledger
    from infrastructure.settings import Settings

    settings = Settings(data=ledger, backend="postgres", pg_db=TEST_PG_DB,
                        pg_schema=backend_env["DOCLEDGER_PG_SCHEMA"])
    app = open_ledger(settings)
    try:
        return app.recorder.max_notification_id()
    finally:
        app.close()

