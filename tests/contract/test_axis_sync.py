"""The connector against the local axis, in-process, on SQLite and PostgreSQL:
pulled messages imported once and acknowledged, refusals failed with their reason
and kept, pushes sent once, the directory fetched; a run stopped at each named
point finished by the next. (The real command killed by SIGKILL:
tests/api/test_axis_crash.py.)"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest

from infrastructure.axis_client import AxisClient
from infrastructure.axis_state import (
    ACKNOWLEDGED,
    IMPORTED,
    REFUSAL_SENT,
    SEND_REFUSED,
    SENT,
    AxisState,
)
from infrastructure.axis_sync import AxisSync, Importer, ImportResult, Summary
from infrastructure.service import LedgerService
from infrastructure.settings import Settings
from tests.axis_server import AxisServer
from tests.axis_standin import command_id_for, seam
from tests.axis_support import (
    OUTSIDE,
    STRANGER,
    document,
    put_outgoing,
    served_ledger,
    status,
)
from tests.factories import RECIPIENT, SENDER


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Killed(BaseException):
    """The process stopped here: nothing after this point of the run happens."""


@pytest.fixture
def ledger(settings: Settings) -> Iterator[LedgerService]:
    with served_ledger(settings) as service:
        yield service


def client(axis: AxisServer, system: str, secret: str, **kw: int) -> AxisClient:
    return AxisClient(axis.url, system_id=system, secret=secret, timeout=5, **kw)


class Counting:
    """The stand-in importer, counting what it is handed."""

    def __init__(self, importer: Importer) -> None:
        self.importer = importer
        self.senders: list[str] = []

    def import_message(self, data: bytes, as_agency: str) -> ImportResult:
        self.senders.append(SENDER if SENDER.encode() in data else STRANGER)
        return self.importer.import_message(data, as_agency)


def sync(axis: AxisServer, ledger: LedgerService, kill_at: str | None = None,
         at: Callable[[str], None] | None = None, imports: list[str] | None = None,
         **kw: int) -> Summary | None:
    """One run as the recipient's system; None if it was killed at ``kill_at``
    (``at`` is called at every point; the senders of what the importer is handed
    are added to ``imports``)."""
    def hook(point: str) -> None:
        if at is not None:
            at(point)
        if point == kill_at:
            raise Killed(point)

    importer, exporter = seam(ledger, RECIPIENT)
    counting = Counting(importer)
    runner = AxisSync(client=client(axis, "vxp.h41", "secret-h41", **kw),
                      state=AxisState.beside(ledger.app), importer=counting, exporter=exporter,
                      agency=RECIPIENT, hook=hook, notary=ledger)
    if imports is not None:
        counting.senders = imports
    try:
        return runner.run()
    except Killed:
        return None


def test_received_messages_are_imported_once_acknowledged_or_refused_and_kept(
        axis: AxisServer, ledger: LedgerService) -> None:
    good = client(axis, "vxp.g22", "secret-g22").send_edoc(
        SENDER, document(SENDER, [RECIPIENT], 1), "eDoc", idempotency_key="g22-1")
    bad = client(axis, "vxp.other", "secret-other").send_edoc(
        STRANGER, document(STRANGER, [RECIPIENT], 2), "eDoc", idempotency_key="x01-1")

    handed: dict[str, list[str]] = {}
    for point in ("after-get", "after-import", "after-receipt", "before-ack", "after-refuse"):
        assert sync(axis, ledger, kill_at=point, imports=handed.setdefault(point, [])) is None
    events = ledger.app.recorder.max_notification_id()
    last = sync(axis, ledger, imports=handed.setdefault("last", []))
    again = sync(axis, ledger)

    assert handed == {
        "after-get": [],  # stopped before the import
        "after-import": [SENDER],  # imported, not recorded: handed over again
        "after-receipt": [SENDER],  # imported (a repeat) and receipted, not recorded
        "before-ack": [SENDER],  # imported (a repeat) and recorded, not acknowledged
        "after-refuse": [STRANGER],  # the first only acknowledged; the second refused
        "last": [],  # the refusal told to the axis from what was kept
    }
    assert last is not None and again is not None
    assert (last.pulled, last.imported, last.refused, last.acknowledged) == (1, 0, 0, 0)
    assert (again.pulled, again.imported) == (0, 0)  # done and failed: not offered again
    assert ledger.app.recorder.max_notification_id() == events  # nothing doubled
    messages = axis.axis.messages
    assert ledger.app.outcome_of(command_id_for(messages[good].data))  # nothing lost
    assert messages[good].statuses == {RECIPIENT: "done"}
    assert messages[bad].statuses == {RECIPIENT: "fail"}
    assert STRANGER in messages[bad].reasons[RECIPIENT]
    state = AxisState.beside(ledger.app)
    assert (row := state.received(RECIPIENT, good)) is not None and row.state == ACKNOWLEDGED
    [kept] = state.refused(RECIPIENT)
    assert kept.state == REFUSAL_SENT and kept.data == messages[bad].data
    assert kept.error is not None and STRANGER in kept.error
    assert [e.code for e in state.directory()] == sorted([SENDER, RECIPIENT, STRANGER, OUTSIDE])
    # one receipt each of the bytes delivered, the refused message's too
    receipts = ledger.gateway_index().by_agency(RECIPIENT)
    assert [(r.direction, r.axis_id, r.sha256) for r in receipts] == [
        ("in", good, sha256(messages[good].data)), ("in", bad, sha256(messages[bad].data))]


def test_outgoing_messages_are_pushed_once_and_a_refused_push_is_kept(
        axis: AxisServer, ledger: LedgerService) -> None:
    recall = client(axis, "vxp.g22", "secret-g22").send_edoc(
        SENDER, status(SENDER, RECIPIENT, "13"), "status", idempotency_key="g22-13")
    data = ledger.settings.data
    put_outgoing(data, RECIPIENT, 1, "status-03", "status", status(RECIPIENT, SENDER, "03"))
    put_outgoing(data, RECIPIENT, 2, "to-nobody", "status",
                 status(RECIPIENT, "000.00.98.Z99", "03"))

    assert sync(axis, ledger, kill_at="after-send") is None  # sent, not receipted
    assert sync(axis, ledger, kill_at="after-send-receipt") is None  # receipted, not recorded
    first = sync(axis, ledger)
    again = sync(axis, ledger)

    assert first is not None and again is not None
    assert (first.pushed, first.push_refused) == (1, 1)  # the retry, and the refusal
    assert (again.pushed, again.push_refused) == (0, 0)
    [message] = axis.axis.inbox(SENDER)  # sent twice, taken once
    state = AxisState.beside(ledger.app)
    assert state.sent(RECIPIENT, "status-03") == (SENT, message.doc_id)
    assert state.sent(RECIPIENT, "to-nobody") == (SEND_REFUSED, None)
    assert state.cursor(RECIPIENT) == 2
    assert axis.axis.messages[recall].statuses == {RECIPIENT: "done"}  # status messages pulled too
    # what the axis took, receipted once (the refused push was not taken: no receipt)
    outs = [r for r in ledger.gateway_index().by_agency(RECIPIENT) if r.direction == "out"]
    assert [(r.axis_id, r.sha256) for r in outs] == [
        (message.doc_id, sha256(status(RECIPIENT, SENDER, "03")))]


def test_the_axis_reserialises_in_transit_and_appends_its_trace_header(
        axis: AxisServer) -> None:
    sent = document(SENDER, [RECIPIENT], 3)
    doc_id = client(axis, "vxp.g22", "secret-g22").send_edoc(SENDER, sent, "eDoc",
                                                             idempotency_key="k-3")
    got = client(axis, "vxp.h41", "secret-h41").get_edoc(RECIPIENT, doc_id)
    assert got != sent
    assert b"a comment the axis drops" not in got
    assert got.count(b"<edXML:TraceHeader>") == 2
    assert got.index(SENDER.encode() + b"</edXML:OrganId><edXML:Timestamp>") < got.index(
        b"<edXML:OrganId>001.00.20.TT2</edXML:OrganId>")  # appended after the sender's


def test_a_message_the_axis_lost_before_its_acknowledgement_is_skipped_and_stays_imported(
        axis: AxisServer, ledger: LedgerService) -> None:
    doc_id = client(axis, "vxp.g22", "secret-g22").send_edoc(
        SENDER, document(SENDER, [RECIPIENT], 4), "eDoc", idempotency_key="g22-4")

    def purge(point: str) -> None:
        if point == "before-ack":  # the axis's operator removes the message meanwhile
            del axis.axis.messages[doc_id]

    summary = sync(axis, ledger, at=purge)
    assert summary is not None
    assert (summary.pulled, summary.imported, summary.skipped) == (1, 1, 1)
    row = AxisState.beside(ledger.app).received(RECIPIENT, doc_id)
    assert row is not None and row.state == IMPORTED


def test_a_message_too_large_to_read_is_failed_for_good_not_offered_forever(
        axis: AxisServer, ledger: LedgerService) -> None:
    doc_id = client(axis, "vxp.g22", "secret-g22").send_edoc(
        SENDER, document(SENDER, [RECIPIENT], 5), "eDoc", idempotency_key="g22-5")
    first = sync(axis, ledger, max_message=512)
    again = sync(axis, ledger, max_message=512)
    assert first is not None and again is not None
    assert (first.pulled, first.refused, again.pulled) == (1, 1, 0)
    assert axis.axis.messages[doc_id].statuses == {RECIPIENT: "fail"}
    assert "larger than 512 bytes" in axis.axis.messages[doc_id].reasons[RECIPIENT]


def test_other_bytes_served_under_the_same_id_after_a_crash_get_a_receipt_of_their_own(
        axis: AxisServer, ledger: LedgerService) -> None:
    doc_id = client(axis, "vxp.g22", "secret-g22").send_edoc(
        SENDER, document(SENDER, [RECIPIENT], 6), "eDoc", idempotency_key="g22-6")
    assert sync(axis, ledger, kill_at="after-receipt") is None
    first = axis.axis.messages[doc_id].data
    # the axis serves the message again with another hop in its trace
    hop = (b"<edXML:TraceHeader><edXML:OrganId>001.00.20.TT2</edXML:OrganId>"
           b"<edXML:Timestamp>2026/11/27 08:09:00</edXML:Timestamp></edXML:TraceHeader>")
    at = first.rindex(b"</edXML:TraceHeader>") + len(b"</edXML:TraceHeader>")
    axis.axis.messages[doc_id].data = first[:at] + hop + first[at:]
    assert sync(axis, ledger) is not None
    receipts = ledger.gateway_index().by_agency(RECIPIENT)
    assert [(r.axis_id, r.sha256) for r in receipts] == [
        (doc_id, sha256(first)), (doc_id, sha256(axis.axis.messages[doc_id].data))]
