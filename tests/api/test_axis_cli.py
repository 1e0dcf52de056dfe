"""``docledger axis …`` in this process: clear errors and their exit codes, the
summary, and the refused messages listed for the operator."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.exchange.agency import Agency
from infrastructure.axis_client import AxisClient
from infrastructure.ledger import open_ledger
from tests.axis_server import AxisServer
from tests.axis_support import OUTSIDE, STRANGER, document, ledger_with_keys, local_axis
from tests.cli_support import run_cli
from tests.conftest import sqlite_settings
from tests.factories import RECIPIENT

SEAM = "tests.axis_standin:seam"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    settings = sqlite_settings(tmp_path_factory.mktemp("axis-cli"))
    ledger_with_keys(settings).app.close()
    yield settings.data


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, monkeypatch, "axis", *args)


def sync_args(url: str, data: Path, *more: str) -> list[str]:
    return ["sync", "--as", RECIPIENT, "--axis", url, "--system-id", "vxp.h41",
            "--data", str(data), *more]


def test_sync_without_a_secret_says_how_to_give_one(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    monkeypatch.delenv("DOCLEDGER_AXIS_SECRET", raising=False)
    code, _, err = run(capsys, monkeypatch, *sync_args("http://127.0.0.1:9", data, "--seam",
                                                       SEAM))
    assert code == 2 and "--secret-file" in err


def test_sync_with_a_seam_that_does_not_exist_says_so(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    monkeypatch.setenv("DOCLEDGER_AXIS_SEAM", "tests.axis_standin:nothing")
    code, _, err = run(capsys, monkeypatch, *sync_args("http://127.0.0.1:9", data))
    assert code == 2 and "tests.axis_standin:nothing" in err


def test_sync_by_default_acts_for_a_member_agency_only(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    monkeypatch.delenv("DOCLEDGER_AXIS_SEAM", raising=False)
    monkeypatch.setenv("DOCLEDGER_AXIS_SECRET", "secret-h41")
    args = sync_args("http://127.0.0.1:9", data)
    args[args.index(RECIPIENT)] = "000.00.77.Z77"
    code, _, err = run(capsys, monkeypatch, *args)
    assert code == 2 and "not a member agency" in err


def test_register_gives_agencies_reached_through_the_axis_the_gateway_key(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    ledger_with_keys(settings).app.close()
    folder = ["--data", str(settings.data)]
    code, out, _ = run(capsys, monkeypatch, "gateway-key", *folder, "--json")
    keyid = json.loads(out)["keyid"]
    assert code == 0 and (settings.data / "keys" / "axis-gateway.key").exists()
    code, out, err = run(capsys, monkeypatch, "register", OUTSIDE, "--name", "Cơ quan ngoài",
                         *folder, "--json")
    assert code == 0, err
    assert json.loads(out) == [{"code": OUTSIDE, "name": "Cơ quan ngoài", "registered": True}]
    code, out, _ = run(capsys, monkeypatch, "register", OUTSIDE, "--name", "x", *folder,
                       "--json")
    assert code == 0 and json.loads(out)[0]["registered"] is False  # already so
    app = open_ledger(settings)
    try:
        agency = app.find(Agency, Agency.id_for(OUTSIDE))
        assert agency is not None and list(agency.keys) == [keyid]
    finally:
        app.close()
    code, _, err = run(capsys, monkeypatch, "register", RECIPIENT, "--name", "x", *folder)
    assert code != 0 and "keys of its own" in err  # a member stays a member
    code, _, err = run(capsys, monkeypatch, "register", STRANGER, *folder)
    assert code == 2 and "not in the axis directory" in err


def test_sync_with_the_axis_down_exits_9(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DOCLEDGER_AXIS_SECRET", "secret-h41")
    code, _, err = run(capsys, monkeypatch,
                       *sync_args(f"http://127.0.0.1:{port}", data, "--seam", SEAM))
    assert code == 9 and "axis-unreachable" in err and "Traceback" not in err


def test_sync_prints_its_summary_and_refused_lists_what_was_refused(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    server = AxisServer(local_axis()).start()
    try:
        AxisClient(server.url, system_id="vxp.other", secret="secret-other").send_edoc(
            STRANGER, document(STRANGER, [RECIPIENT], 1), "eDoc", idempotency_key="k")
        monkeypatch.setenv("DOCLEDGER_AXIS_SECRET", "secret-h41")
        code, out, err = run(capsys, monkeypatch, *sync_args(server.url, data, "--seam", SEAM))
    finally:
        server.stop()
    assert code == 0, err
    assert "pulled 1, imported 0, acknowledged 0, refused 1, pushed 0" in out
    assert "refused" in err and STRANGER in err  # the progress line
    saved = data.parent / "refused"
    code, out, _ = run(capsys, monkeypatch, "refused", "--as", RECIPIENT, "--data", str(data),
                       "--json", "--save", str(saved))
    [kept] = json.loads(out)
    assert code == 0 and kept["sender"] == STRANGER and STRANGER in kept["reason"]
    [file] = saved.iterdir()
    assert file.name == f"{kept['doc_id']}.edxml" and STRANGER.encode() in file.read_bytes()


def test_sync_follow_runs_until_stopped_and_exits_0(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path) -> None:
    server = AxisServer(local_axis()).start()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def stop_after_two_runs() -> None:
        deadline = time.monotonic() + 30
        while server.axis.calls.get("getAgenciesList", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_after_two_runs, daemon=True)
    try:
        monkeypatch.setenv("DOCLEDGER_AXIS_SECRET", "secret-h41")
        stopper.start()
        code, out, err = run(capsys, monkeypatch, *sync_args(
            server.url, data, "--seam", SEAM, "--follow", "--interval", "0.1", "--json"))
    finally:
        stopper.join()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        server.stop()
    assert code == 0, err
    assert out.count('"pulled"') >= 2  # a summary per run
