"""The connector against the local axis, in-process, on SQLite and PostgreSQL:
pulled messages imported once and acknowledged, refusals kept and failed with their
reason, pushes sent once, the directory fetched. (The crash cases run the real
command and kill it: tests/api/test_axis_crash.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.exchange.signing import new_command_id
from infrastructure.axis_client import AxisClient
from infrastructure.axis_state import ACKNOWLEDGED, REFUSAL_SENT, SEND_REFUSED, AxisState
from infrastructure.axis_sync import AxisSync
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from tests.axis_server import AxisServer
from tests.axis_standin import command_id_for, seam
from tests.axis_support import (
    STRANGER,
    document,
    ledger_with_keys,
    local_axis,
    put_outgoing,
    status,
)
from tests.factories import RECIPIENT, SENDER


@pytest.fixture
def axis() -> Iterator[AxisServer]:
    server = AxisServer(local_axis()).start()
    yield server
    server.stop()


@pytest.fixture
def ledger(settings: Settings) -> Iterator[LedgerService]:
    world = ledger_with_keys(settings)
    service = bootstrap(settings, app=world.app)
    yield service
    service.close()


def client(axis: AxisServer, system: str, secret: str) -> AxisClient:
    return AxisClient(axis.url, system_id=system, secret=secret, timeout=5)


def syncer(axis: AxisServer, ledger: LedgerService) -> AxisSync:
    importer, exporter = seam(ledger, RECIPIENT)
    return AxisSync(client=client(axis, "vxp.h41", "secret-h41"),
                    state=AxisState.beside(ledger.app), importer=importer, exporter=exporter,
                    agency=RECIPIENT)


def test_a_received_message_is_imported_once_and_acknowledged_done(
        axis: AxisServer, ledger: LedgerService) -> None:
    g22 = client(axis, "vxp.g22", "secret-g22")
    doc_id = g22.send_edoc(SENDER, document(SENDER, [RECIPIENT], 1), "eDoc",
                           idempotency_key=new_command_id())
    first = syncer(axis, ledger).run()
    again = syncer(axis, ledger).run()

    assert (first.pulled, first.imported, first.acknowledged) == (1, 1, 1)
    assert (again.pulled, again.imported) == (0, 0)
    assert axis.axis.messages[doc_id].statuses == {RECIPIENT: "done"}
    delivered = axis.axis.messages[doc_id].data
    assert ledger.app.outcome_of(command_id_for(delivered))  # recorded in the ledger, once
    row = AxisState.beside(ledger.app).received(RECIPIENT, doc_id)
    assert row is not None and row.state == ACKNOWLEDGED


def test_the_axis_reserialises_in_transit_and_appends_its_trace_header(
        axis: AxisServer) -> None:
    g22 = client(axis, "vxp.g22", "secret-g22")
    sent = document(SENDER, [RECIPIENT], 2)
    doc_id = g22.send_edoc(SENDER, sent, "eDoc", idempotency_key="k-2")
    got = client(axis, "vxp.h41", "secret-h41").get_edoc(RECIPIENT, doc_id)
    assert got != sent
    assert b"a comment the axis drops" not in got
    assert got.count(b"TraceHeader>") == 4  # two TraceHeaders, open and close tags
    assert b"<edXML:OrganId>001.00.20.TT2</edXML:OrganId>" in got


def test_a_message_the_importer_refuses_is_failed_with_its_reason_and_kept(
        axis: AxisServer, ledger: LedgerService) -> None:
    stranger = AxisClient(axis.url, system_id="vxp.other", secret="secret-other")
    doc_id = stranger.send_edoc(STRANGER, document(STRANGER, [RECIPIENT], 3), "eDoc",
                                idempotency_key="k-3")
    first = syncer(axis, ledger).run()
    again = syncer(axis, ledger).run()

    assert (first.pulled, first.refused, first.imported) == (1, 1, 0)
    assert again.pulled == 0  # failed on the axis: not offered, not retried
    assert axis.axis.messages[doc_id].statuses == {RECIPIENT: "fail"}
    assert STRANGER in axis.axis.messages[doc_id].reasons[RECIPIENT]
    [kept] = AxisState.beside(ledger.app).refused(RECIPIENT)
    assert kept.state == REFUSAL_SENT and kept.data == axis.axis.messages[doc_id].data
    assert kept.error is not None and STRANGER in kept.error


def test_an_outgoing_message_is_pushed_once_under_its_idempotency_key(
        axis: AxisServer, ledger: LedgerService) -> None:
    put_outgoing(ledger.settings.data, RECIPIENT, 1, "status-1", "status",
                 status(RECIPIENT, SENDER, "03"))
    first = syncer(axis, ledger).run()
    # the cursor forgotten, as after a crash before it moved: the retry is sent again
    # and the axis's answer lost, as after a crash between the send and its record
    state = AxisState.beside(ledger.app)
    with state.table.datastore.transaction(commit=True) as c:
        c.execute(state.table.sql("DELETE FROM {p}axis_cursor"))
        c.execute(state.table.sql("UPDATE {p}axis_sent SET state = 'sending', axis_id = NULL"))
    again = syncer(axis, ledger).run()

    assert (first.pushed, again.pushed) == (1, 1)
    assert axis.axis.sends == 1
    [message] = axis.axis.inbox(SENDER)
    assert state.sent(RECIPIENT, "status-1") == ("sent", message.doc_id)


def test_a_push_the_axis_refuses_is_kept_and_not_sent_again(
        axis: AxisServer, ledger: LedgerService) -> None:
    put_outgoing(ledger.settings.data, RECIPIENT, 1, "to-nobody", "status",
                 status(RECIPIENT, "000.00.98.Z99", "03"))
    first = syncer(axis, ledger).run()
    again = syncer(axis, ledger).run()
    assert (first.push_refused, again.push_refused, again.pushed) == (1, 0, 0)
    assert AxisState.beside(ledger.app).sent(RECIPIENT, "to-nobody") == (SEND_REFUSED, None)


def test_the_directory_is_fetched_into_its_table(axis: AxisServer,
                                                 ledger: LedgerService) -> None:
    summary = syncer(axis, ledger).run()
    codes = [e.code for e in AxisState.beside(ledger.app).directory()]
    assert summary.directory == 3 and codes == sorted([SENDER, RECIPIENT, STRANGER])
