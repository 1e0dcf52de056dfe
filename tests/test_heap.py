"""The collector's settings of the processes that run long (infrastructure/heap.py):
the API server settles once its ledger is open, the audit for its replay, and
garbage in reference cycles is still collected."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import infrastructure.heap
from api.cli import app as cli_app
from api.http.app import create_app
from infrastructure.heap import YOUNG, settled
from infrastructure.ledger import init_ledger, run_audit, trust_anchors
from tests.conftest import sqlite_settings
from tests.factories import RECIPIENT, World


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_settle_freezes_what_is_alive_and_cycles_made_later_are_still_collected() -> None:
    out = run_python("""
        import gc, weakref
        from infrastructure.heap import settle
        settle()
        class Node: pass
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the collector frees it
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(gc.get_threshold()[0], gc.get_freeze_count() > 0, gone() is None)
    """)
    assert out == f"{YOUNG} True True"


def test_an_audit_worker_settles_as_it_starts() -> None:
    out = run_python("""
        import gc
        from infrastructure.parallel_audit import _init_worker
        _init_worker(None)  # what the pool runs in each worker process first
        print(gc.get_threshold()[0], gc.get_freeze_count() > 0)
    """)
    assert out == f"{YOUNG} True"


def test_settled_block_puts_the_collector_back_as_it_was() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0, "another test left objects frozen"
    with settled():
        assert gc.get_threshold() == (YOUNG, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settled_block_leaves_what_the_process_froze_before_frozen() -> None:
    out = run_python("""
        import gc
        from infrastructure.heap import settled
        gc.freeze()
        frozen = gc.get_freeze_count()
        with settled():
            pass
        print(gc.get_freeze_count() == frozen > 0, gc.get_threshold()[0])
    """)
    assert out == "True 700"


def test_audit_replays_with_the_collector_settled_and_puts_it_back(world: World) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    registrar, ledger = trust_anchors(world.settings)
    before = gc.get_threshold()
    during: list[tuple[int, bool]] = []

    def progress(events: int) -> None:  # its last call comes as the replay ends
        during.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))

    report = run_audit(world.app, registrar_key=registrar, ledger_key=ledger, workers=1,
                       progress=progress)
    assert report.events == world.event_count()
    assert during and set(during) == {(YOUNG, True)}
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_api_runs_on_open_once_its_ledger_is_open(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    init_ledger(settings).close()
    seen: list[bool] = []
    app = create_app(settings, on_open=lambda: seen.append(hasattr(app.state, "container")))
    assert seen == []
    with TestClient(app) as client:
        assert seen == [True]
        assert client.get("/healthz").status_code == 200
    assert seen == [True]


def test_serve_settles_its_heap_once_the_ledger_is_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = sqlite_settings(tmp_path)
    init_ledger(settings).close()
    calls: list[str] = []
    # settle() for real would freeze this test process for good: count its calls
    monkeypatch.setattr(infrastructure.heap, "settle", lambda: calls.append("settle"))

    def run(app: Any, **_: Any) -> None:  # uvicorn.run: start the app, ask once, stop
        with TestClient(app) as client:
            calls.append(f"healthz {client.get('/healthz').status_code}")

    monkeypatch.setattr(uvicorn, "run", run)
    result = CliRunner().invoke(cli_app, ["serve", "--data", str(settings.data)],
                                env={"DOCLEDGER_BACKEND": "sqlite"})
    assert result.exit_code == 0, result.output
    assert calls == ["settle", "healthz 200"]
