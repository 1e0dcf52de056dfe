"""``docledger axis sync`` killed (SIGKILL) at each point of a run, then run again:
nothing doubled, nothing lost, on SQLite and PostgreSQL (docs/axis.md, "Crashes").

One story per backend, each run dying one step further:

1. ``before-ack``: the message is imported and the state says so, the axis was not
   told: it offers the message again (a message pulled twice);
2. ``after-send``: the axis took the outgoing message, its id was not recorded;
3. a run to the end (in the test's process: it saves a process start): the message
   is acknowledged without a second import, the refused one is failed with its
   reason, the push is retried under the same idempotency key and taken once.

The story is told twice: through the stand-in seam (tests/axis_standin.py, a
refused message among them), and through the ledger's own edXML seam (the
default, api/axis_seam.py: a document from an agency reached through the axis in,
its status 01 out).

Each process costs the tool's start (1.5 s and more), so the other points
(``after-get``, ``after-import``, ``after-refuse``) are stopped in-process, where a
run ends at them exactly as here: tests/contract/test_axis_sync.py.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from api.cli import main
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from infrastructure.axis_client import AxisClient
from infrastructure.axis_gateway import register_external
from infrastructure.gateway import GatewayIndex
from infrastructure.ledger import open_ledger
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from tests.api.conftest import Cli
from tests.axis_server import AxisServer
from tests.axis_standin import command_id_for
from tests.axis_support import (
    STRANGER,
    document,
    full_document,
    ledger_with_keys,
    put_outgoing,
    status,
)
from tests.factories import RECIPIENT, SENDER

ROOT = Path(__file__).resolve().parents[2]


def settings_for(data: Path, backend_env: dict[str, str]) -> Settings:
    if not backend_env:
        return Settings(data=data, backend="sqlite")
    return Settings(data=data, backend="postgres", pg_db=backend_env["DOCLEDGER_PG_DB"],
                    pg_schema=backend_env["DOCLEDGER_PG_SCHEMA"])


def events(settings: Settings) -> int:
    app = open_ledger(settings)
    try:
        return int(app.recorder.max_notification_id() or 0)
    finally:
        app.close()


def test_a_sync_killed_at_each_point_and_run_again_doubles_nothing_and_loses_nothing(
        tmp_path: Path, cli: Cli, backend_env: dict[str, str], axis: AxisServer,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "D"
    settings = settings_for(data, backend_env)
    ledger_with_keys(settings).app.close()
    good = AxisClient(axis.url, system_id="vxp.g22", secret="secret-g22").send_edoc(
        SENDER, document(SENDER, [RECIPIENT], 1), "eDoc", idempotency_key="g22-1")
    bad = AxisClient(axis.url, system_id="vxp.other", secret="secret-other").send_edoc(
        STRANGER, document(STRANGER, [RECIPIENT], 2), "eDoc", idempotency_key="x01-1")
    put_outgoing(data, RECIPIENT, 1, "status-03", "status", status(RECIPIENT, SENDER, "03"))
    secret = tmp_path / "h41.secret"
    secret.write_text("secret-h41\n")
    before = events(settings)

    args = ["axis", "sync", "--as", RECIPIENT, "--axis", axis.url, "--system-id", "vxp.h41",
            "--secret-file", str(secret), "--data", str(data),
            "--seam", "tests.axis_standin:seam", "--json"]

    def sync(crash_at: str) -> tuple[int, str]:
        run = cli(*args, env={"PYTHONPATH": str(ROOT),  # the seam is in tests/
                              "DOCLEDGER_AXIS_CRASH_AT": crash_at})
        return run.returncode, run.stdout + run.stderr

    def rerun() -> tuple[int, str]:
        """The run after the crashes, in this process (it saves a process start)."""
        for name, value in backend_env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DOCLEDGER_AXIS_CRASH_AT", raising=False)
        monkeypatch.setattr(sys, "argv", ["docledger", *args])
        with pytest.raises(SystemExit) as ended:
            main()
        captured = capsys.readouterr()
        return int(ended.value.code or 0), captured.out + captured.err

    assert sync("before-ack")[0] == -signal.SIGKILL
    imported = events(settings)
    assert imported > before  # the message is in the ledger, unacknowledged
    assert axis.axis.messages[good].statuses == {RECIPIENT: "processing"}
    code, output = sync("after-send")
    assert code == -signal.SIGKILL, output
    assert axis.axis.messages[bad].statuses == {RECIPIENT: "fail"}
    assert len(axis.axis.inbox(SENDER)) == 1  # taken; its id not recorded
    code, output = rerun()
    assert code == 0, output

    summary = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert summary["pulled"] == 0 and summary["pushed"] == 1
    # imported once, though pulled twice; and two receipts more: the refused
    # message's, and the push's (killed after the send, receipted by the rerun)
    assert events(settings) == imported + 2
    messages = axis.axis.messages
    assert messages[good].statuses == {RECIPIENT: "done"}
    assert messages[bad].statuses == {RECIPIENT: "fail"}
    assert STRANGER in messages[bad].reasons[RECIPIENT]
    [pushed] = axis.axis.inbox(SENDER)  # sent twice, taken once
    assert pushed.sender == RECIPIENT and pushed.idempotency_key == "status-03"
    app = open_ledger(settings)
    try:
        assert app.outcome_of(command_id_for(messages[good].data))
        receipts = GatewayIndex.beside(app).by_agency(RECIPIENT)  # one per message
        assert [(r.direction, r.axis_id) for r in receipts] == [
            ("in", good), ("in", bad), ("out", pushed.doc_id)]
    finally:
        app.close()


def test_the_ledgers_own_seam_killed_at_each_point_and_run_again_doubles_nothing(
        tmp_path: Path, cli: Cli, backend_env: dict[str, str], axis: AxisServer,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same story through the default seam (api/axis_seam.py): a document from an
    agency reached through the axis is imported once though pulled twice, and the
    status 01 going back is taken once though sent twice."""
    data = tmp_path / "D"
    settings = settings_for(data, backend_env)
    world = ledger_with_keys(settings)
    service = bootstrap(settings, app=world.app)
    register_external(service, STRANGER, "Bộ Ngoại giao")
    service.close()
    doc_id = AxisClient(axis.url, system_id="vxp.other", secret="secret-other").send_edoc(
        STRANGER, full_document(STRANGER, [RECIPIENT], 1), "eDoc", idempotency_key="x01-1")
    secret = tmp_path / "h41.secret"
    secret.write_text("secret-h41\n")
    before = events(settings)
    args = ["axis", "sync", "--as", RECIPIENT, "--axis", axis.url, "--system-id", "vxp.h41",
            "--secret-file", str(secret), "--data", str(data), "--json"]

    killed = cli(*args, env={"DOCLEDGER_AXIS_CRASH_AT": "before-ack"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    imported = events(settings)
    assert imported > before
    assert axis.axis.messages[doc_id].statuses == {RECIPIENT: "processing"}
    killed = cli(*args, env={"DOCLEDGER_AXIS_CRASH_AT": "after-send"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert axis.axis.messages[doc_id].statuses == {RECIPIENT: "done"}
    assert len(axis.axis.inbox(STRANGER)) == 1  # the 01 taken; its id not recorded

    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DOCLEDGER_AXIS_CRASH_AT", raising=False)
    monkeypatch.delenv("DOCLEDGER_AXIS_SEAM", raising=False)
    monkeypatch.setattr(sys, "argv", ["docledger", *args])
    with pytest.raises(SystemExit) as ended:
        main()
    output = capsys.readouterr().out
    assert ended.value.code in (0, None), output
    summary = json.loads(output[output.index("{"):output.rindex("}") + 1])
    assert (summary["pulled"], summary["imported"], summary["pushed"]) == (0, 0, 1)
    # imported once, though pulled twice; one receipt more: the push's (killed after
    # the send, receipted by the rerun)
    assert events(settings) == imported + 1
    [status_01] = axis.axis.inbox(STRANGER)  # sent twice, taken once
    assert status_01.sender == RECIPIENT and b"<edXML:StatusCode>01<" in status_01.data
    app = open_ledger(settings)
    try:
        document = Document.id_for(STRANGER, f"{STRANGER},2026/11/27,1/BNG-VP")
        assert app.find(Delivery, Delivery.id_for(document, RECIPIENT)) is not None
        receipts = GatewayIndex.beside(app).by_agency(RECIPIENT)  # one per message
        assert [(r.direction, r.axis_id) for r in receipts] == [
            ("in", doc_id), ("out", status_01.doc_id)]
    finally:
        app.close()
