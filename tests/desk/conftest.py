"""The desk's fixtures: a live server in this process, chromium driven by Playwright.

``desk`` is a ledger (sqlite or postgres, as the ``settings`` fixture says) with
two agencies, served on 127.0.0.1 by uvicorn on a thread of the test process
(the app ``docledger serve`` runs: the API and /desk/). ``cli`` runs
``docledger`` in-process (typer's runner) against the data folder or, with
``--server``, against the live server. ``browser`` is one chromium per module
(Debian's, never a downloaded one); ``signed_in`` opens a page signed in as an
agency through the sign-in page, its key file picked as a clerk would.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright import sync_api as playwright_sync
from typer.testing import CliRunner, Result

from api.cli import app as cli_app
from api.desk.mount import create_served_app
from infrastructure.settings import Settings

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

A = "000.00.00.G22"  # the sender
B = "000.00.00.H41"  # the recipient, whose clerk uses the desk
C = "000.00.00.A80"  # a third agency
NAMES = {A: "Văn phòng Chính phủ", B: "UBND tỉnh Thừa Thiên Huế", C: "Sở Tư pháp"}
SCREENSHOTS = Path(__file__).parent / "screenshots"
WIDTH, HEIGHT = 1280, 900
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
runner = CliRunner()


def backend_env(settings: Settings) -> dict[str, str]:
    env = {"DOCLEDGER_BACKEND": settings.backend}
    if settings.backend == "postgres":
        env |= {"DOCLEDGER_PG_DB": settings.pg_db, "DOCLEDGER_PG_SCHEMA": settings.pg_schema}
    return env


@dataclass
class Desk:
    """A served ledger: its URL, data folder and the agencies' key files."""

    url: str
    data: Path
    env: dict[str, str]
    server: uvicorn.Server

    def key(self, code: str) -> Path:
        return self.data / "keys" / "agencies" / f"{code}.key"

    def cli(self, *args: str, server: bool = False) -> Result:
        """``docledger ARGS`` in this process, on the data folder (or via the server)."""
        where = ["--server", self.url] if server else ["--data", str(self.data)]
        result = runner.invoke(cli_app, [*args, *where], env=self.env, catch_exceptions=False)
        return result


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def desk(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    env = backend_env(settings)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    data = settings.data
    served = Desk("", data, env, None)  # type: ignore[arg-type]
    assert served.cli("init").exit_code == 0
    for code in (A, B, C):
        done = served.cli("agency", "register", code, NAMES[code])
        assert done.exit_code == 0, done.output
    app = create_served_app(Settings(data=data, backend=settings.backend,
                                     pg_db=settings.pg_db, pg_schema=settings.pg_schema,
                                     checkpoint_seconds=0,
                                     # one server, no separate views worker on PostgreSQL
                                     views_in_process=True))
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the desk did not start"
        time.sleep(0.02)
    port = sock.getsockname()[1]
    served.url, served.server = f"http://127.0.0.1:{port}", server
    yield served
    server.should_exit = True
    thread.join(15)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # .ci/run installs it: a run without it tests no desk
            pytest.fail("chromium is required in CI and is missing (apt-get install -y chromium)")
        pytest.skip("no chromium (apt-get install -y chromium)")
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    """Pages at 1280 px, each in its own context (own cookies, own IndexedDB)."""
    contexts: list[Any] = []

    def make(width: int = WIDTH) -> Any:
        context = browser.new_context(viewport={"width": width, "height": HEIGHT},
                                      locale="vi-VN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, desk: Desk, code: str, key: Path | None = None) -> Any:
    """Sign in through the sign-in page with ``code``'s key file; lands on the inbox."""
    page.goto(f"{desk.url}/desk/signin")
    page.fill("#agency", code)
    page.set_input_files("#keyfile", str(key or desk.key(code)))
    page.click("#signin button[type=submit]")
    page.wait_for_url(f"{desk.url}/desk/inbox")
    return page


@pytest.fixture
def signed_in(desk: Desk, new_page: Callable[[], Any]) -> Callable[[str], Any]:
    """``signed_in(code)``: a fresh page signed in as ``code``."""
    return lambda code: sign_in(new_page(), desk, code)


def screenshot(page: Any, name: str) -> Path:
    """Save the page at 1280 px for review (tests/desk/screenshots/, gitignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target
