"""Gateway receipts (docs/gateway.md): the ledger's signed word on edXML bytes the
axis carried, one leaf of the Merkle log each, idempotent by (direction, agency,
axis id, SHA-256), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from domain.errors import AuditFailure, InvalidInputError, VerificationError
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import verify_inclusion
from domain.verification.gateway import check_receipt_bytes, open_receipt_event
from domain.verification.monitor import GATEWAY, LogEvent, naming
from infrastructure.ledger import DataFolder, run_audit, trust_anchors
from infrastructure.service import LedgerService
from tests.factories import RECIPIENT, SENDER, World

SAMPLES = Path(__file__).parents[1] / "assets" / "edxml" / "samples"
DOWNLOADED = (SAMPLES / "document-downloaded-from-vxp-2019.edxml").read_bytes()
STATUS = (SAMPLES / "status-03-accepted.edxml").read_bytes()


def stored_event(service: LedgerService, receipt_id: str) -> tuple[int, bytes, str]:
    [n] = service.log.store.notifications_of([(receipt_id, 1)])
    return n.id, n.state, n.topic


def test_a_receipt_commits_to_the_bytes_their_trace_and_their_addressing(
        service: LedgerService) -> None:
    receipt = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    s = receipt.statement
    assert (s["type"], s["direction"], s["agency"], s["axis_id"], s["service_type"]) == (
        "gateway.receipt", "in", RECIPIENT, "axis-1", "eDoc")
    assert s["sha256"] == hashlib.sha256(DOWNLOADED).hexdigest()
    assert s["size"] == len(DOWNLOADED) and s["readable"] is True
    assert s["trace"] and all(set(t) == {"organ_id", "timestamp"} for t in s["trace"])
    assert isinstance(s["document_id"], str) and s["from"] and s["to"]
    assert s["response_for"] is None
    # the bytes are kept, content-addressed
    assert DataFolder(service.settings.data).blobs.path_for(s["sha256"]).read_bytes() == (
        DOWNLOADED)
    # a leaf under a checkpoint
    position, state, topic = stored_event(service, str(receipt.aggregate_id))
    assert position == receipt.notification_id
    service.log.issue_checkpoint(force=True)
    checkpoint = service.log.store.latest_checkpoint()
    assert checkpoint is not None
    index = service.log.store.leaf_index_of(notification_id=position)
    leaf = event_leaf_hash(receipt.aggregate_id, 1, topic, state)
    verify_inclusion(index, checkpoint.size, leaf,
                     service.log.inclusion_proof(index, checkpoint.size), checkpoint.root)
    _, ledger_key = trust_anchors(service.settings)
    opened = open_receipt_event(aggregate_id=receipt.aggregate_id, version=1, topic=topic,
                                state=state, ledger_key=ledger_key)
    assert opened == s
    check_receipt_bytes(opened, DOWNLOADED)


def test_a_status_message_receipt_names_what_it_responds_for(service: LedgerService) -> None:
    s = service.record_gateway_receipt("out", SENDER, "axis-9", "status", STATUS).statement
    assert s["readable"] is True and s["trace"] == []
    assert s["response_for"]["organ_id"] and s["document_id"] == s["response_for"][
        "document_id"]


def test_the_same_bytes_again_return_the_first_receipt_and_write_nothing(
        service: LedgerService, world: World) -> None:
    first = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    before = world.event_count()
    again = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    assert world.event_count() == before
    assert again.repeated and not first.repeated
    assert (again.aggregate_id, again.envelope, again.statement) == (
        first.aggregate_id, first.envelope, first.statement)


def test_other_bytes_under_the_same_axis_id_get_a_receipt_of_their_own(
        service: LedgerService, world: World) -> None:
    first = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    other = DOWNLOADED.replace(b"</edXML:edXMLEnvelope>", b"</edXML:edXMLEnvelope>\n", 1)
    assert other != DOWNLOADED
    second = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", other)
    assert second.aggregate_id != first.aggregate_id and not second.repeated
    assert [r.sha256 for r in service.gateway_index().by_agency(RECIPIENT)] == [
        first.sha256, second.sha256]


def test_bytes_the_parser_refuses_are_receipted_as_unreadable(service: LedgerService) -> None:
    s = service.record_gateway_receipt("in", RECIPIENT, "axis-2", "eDoc", b"<not xml").statement
    assert (s["readable"], s["trace"], s["document_id"], s["from"], s["to"]) == (
        False, [], None, None, [])


@pytest.mark.parametrize(("direction", "agency", "axis_id", "service_type"), [
    ("sideways", RECIPIENT, "axis-1", "eDoc"), ("in", "", "axis-1", "eDoc"),
    ("in", RECIPIENT, "x" * 201, "eDoc"), ("in", RECIPIENT, "axis-1", "fax"),
    ("in", RECIPIENT, "axis\n1", "eDoc")])
def test_a_receipt_request_naming_nothing_valid_is_refused_and_writes_nothing(
        service: LedgerService, world: World, direction: str, agency: str, axis_id: str,
        service_type: str) -> None:
    before = world.event_count()
    with pytest.raises(InvalidInputError):
        service.record_gateway_receipt(direction, agency, axis_id, service_type, DOWNLOADED)
    assert world.event_count() == before


def test_the_index_finds_receipts_by_digest_and_agency(service: LedgerService) -> None:
    a = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    b = service.record_gateway_receipt("out", SENDER, "axis-2", "status", STATUS)
    index = service.gateway_index()
    assert [r.aggregate_id for r in index.by_sha256(a.sha256)] == [a.aggregate_id]
    assert [r.axis_id for r in index.by_agency(SENDER)] == ["axis-2"]
    assert [r.aggregate_id for r in index.of_hashes([b.sha256, a.sha256])] == [
        a.aggregate_id, b.aggregate_id]


def test_the_audit_checks_receipts_between_commands(service: LedgerService,
                                                    world: World) -> None:
    service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    world.sent()
    service.record_gateway_receipt("out", SENDER, "axis-2", "status", STATUS)
    registrar_key, ledger_key = trust_anchors(world.settings)
    report = run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key)
    assert report.events == world.app.recorder.max_notification_id()
    # cut into ranges, a range may start at a receipt
    report = run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key,
                       workers=1, ranges=4)
    assert report.events == world.app.recorder.max_notification_id()


def test_a_receipt_whose_statement_was_altered_in_the_store_fails_the_audit(
        service: LedgerService, world: World) -> None:
    receipt = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    t = service.log.store.table
    with t.datastore.transaction(commit=True) as c:
        c.execute(t.sql(f"SELECT {t.position} AS p, state FROM {t.name} "
                        f"WHERE {t.position} = %s"), (receipt.notification_id,))
        state = bytes(c.fetchone()["state"])
        c.execute(t.sql(f"UPDATE {t.name} SET state = %s WHERE {t.position} = %s"),
                  (state.replace(b'"payload":"', b'"payload":"X', 1), receipt.notification_id))
    registrar_key, ledger_key = trust_anchors(world.settings)
    with pytest.raises(AuditFailure, match="gateway receipt"):
        run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key)


def test_altered_bytes_are_not_the_receipts(service: LedgerService) -> None:
    s = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED).statement
    with pytest.raises(VerificationError, match="are not the receipt's"):
        check_receipt_bytes(s, DOWNLOADED.replace(b"TT2", b"TT3", 1))


def test_an_agencys_monitor_sees_its_own_receipts_and_no_one_elses(
        service: LedgerService) -> None:
    mine = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    service.record_gateway_receipt("out", SENDER, "axis-2", "status", STATUS)
    events = []
    for n in service.log.store.notifications_of(
            [(str(r.aggregate_id), 1) for r in service.gateway_index().by_sha256(mine.sha256)
             + service.gateway_index().by_agency(SENDER)]):
        events.append(LogEvent(leaf_index=service.log.store.leaf_index_of(notification_id=n.id),
                               notification_id=n.id, aggregate_id=n.originator_id,
                               version=1, topic=n.topic, state=n.state))
    assert [(e.aggregate_id, why) for e, why in naming(events, RECIPIENT)] == [
        (mine.aggregate_id, GATEWAY)]


def test_the_index_reads_the_log_window_by_window_and_only_once(
        service: LedgerService, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("infrastructure.gateway.SCAN", 3)
    first = service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", DOWNLOADED)
    world.sent()  # a stretch of log with no receipt in it
    last = service.record_gateway_receipt("out", SENDER, "axis-2", "status", STATUS)
    index = service.gateway_index()
    assert [r.aggregate_id for r in index.of_hashes([first.sha256, last.sha256])] == [
        first.aggregate_id, last.aggregate_id]
    world.sent()
    assert [r.axis_id for r in index.by_agency(SENDER)] == ["axis-2"]  # no row twice
