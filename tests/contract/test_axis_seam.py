"""The connector through the ledger's own edXML seam (api/axis_seam.py) against the
local axis, in-process, on SQLite and PostgreSQL: a document from an agency
reached only through the axis lands in a member's inbox as that agency's send
(signed with the gateway's key), the member's clerk accepts it, and the status
goes back out on the axis; nothing is doubled by running again (docs/axis.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from uuid import UUID

import pytest

from api.axis_seam import seam
from domain import topics
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.edxml.model import (
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    DocumentMessage,
    Receiver,
    ReceiverType,
    StatusMessage,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from infrastructure.axis_client import AxisClient
from infrastructure.axis_gateway import Agencies, gateway_key, register_external
from infrastructure.axis_state import AxisState
from infrastructure.axis_sync import AxisSync, Exporter, Importer, Summary
from infrastructure.service import LedgerService
from infrastructure.settings import Settings
from infrastructure.views import queries
from tests.axis_server import AxisServer
from tests.axis_support import (
    OUTSIDE,
    STRANGER,
    full_document,
    served_ledger,
    status,
)
from tests.factories import RECIPIENT, SENDER

EXTERNAL = STRANGER  # registered on the ledger as reached through the axis


@pytest.fixture
def ledger(settings: Settings) -> Iterator[LedgerService]:
    with served_ledger(settings) as service:
        register_external(service, EXTERNAL, "Bộ Ngoại giao")
        yield service


def client(axis: AxisServer, system: str, secret: str) -> AxisClient:
    return AxisClient(axis.url, system_id=system, secret=secret, timeout=5)


def send_as_external(axis: AxisServer, message: bytes, sender: str = EXTERNAL,
                     service_type: str = "eDoc", key: str = "k") -> str:
    return client(axis, "vxp.other", "secret-other").send_edoc(
        sender, message, service_type, idempotency_key=key)  # type: ignore[arg-type]


def sync(axis: AxisServer, ledger: LedgerService, agency: str = RECIPIENT,
         made: tuple[Importer, Exporter] | None = None) -> Summary:
    """One run; ``made``: the seam of an earlier run (a connector that follows)."""
    importer, exporter = made or seam(ledger, agency)
    lines: list[str] = []
    runner = AxisSync(client=client(axis, "vxp.h41", "secret-h41"),
                      state=AxisState.beside(ledger.app), importer=importer, exporter=exporter,
                      agency=agency, progress=lines.append, notary=ledger)
    summary = runner.run()
    summary.lines = lines  # type: ignore[attr-defined]
    return summary


def events(ledger: LedgerService) -> int:
    """The events of agencies' acts: the gateway's receipts (one per message carried,
    docs/gateway.md) left out."""
    return sum(1 for n in ledger.app.recorder.select_notifications(1, 100_000)
               if n.topic != topics.GATEWAY_RECORDED)


def statuses_to(axis: AxisServer, agency: str) -> list[StatusMessage]:
    found = []
    for m in axis.axis.inbox(agency):
        parsed = parse_edxml(m.data)
        if isinstance(parsed, StatusMessage):
            found.append(parsed)
    return found


def test_a_document_from_an_external_agency_comes_in_and_its_status_goes_back_out(
        axis: AxisServer, ledger: LedgerService) -> None:
    message = full_document(EXTERNAL, [RECIPIENT, OUTSIDE], 7)
    doc_id = send_as_external(axis, message)
    document = Document.id_for(EXTERNAL, f"{EXTERNAL},2026/11/27,7/BNG-VP")

    first = sync(axis, ledger)

    assert (first.pulled, first.imported, first.acknowledged) == (1, 1, 1)
    assert axis.axis.messages[doc_id].statuses[RECIPIENT] == "done"
    doc = ledger.app.find(Document, document)
    assert doc is not None and doc.sender == EXTERNAL
    assert doc.recipients == [RECIPIENT]  # the copy delivered to X: OUTSIDE is not on the ledger
    sent = [e for e in ledger.app.events_of(document) if isinstance(e, Document.Sent)]
    key = gateway_key(ledger.folder)
    assert key is not None
    assert sent[0].envelope["signatures"][0]["keyid"] == key.keyid  # the gateway's word
    ledger.view_worker.catch_up()  # with PostgreSQL a worker would
    rows = queries.inbox(ledger.views, queries.InboxQuery(agency=RECIPIENT),
                         queries.date.today())
    assert [r["document_id"] for r in rows] == [str(document)]
    [arrived] = statuses_to(axis, EXTERNAL)  # 01 told back in the same run
    assert arrived.status_code == "01" and arrived.sender.organ_id == RECIPIENT

    ledger.act(RECIPIENT, "delivery.accept", {"document": str(document)})  # X's clerk
    second = sync(axis, ledger)
    before = events(ledger)
    third = sync(axis, ledger)

    assert (second.pulled, second.pushed) == (0, 1)
    accepted = [s for s in statuses_to(axis, EXTERNAL) if s.status_code == "03"]
    assert len(accepted) == 1
    assert accepted[0].response_for.organ_id == EXTERNAL
    assert accepted[0].response_for.document_id == f"{EXTERNAL},2026/11/27,7/BNG-VP"
    assert (third.pulled, third.imported, third.pushed) == (0, 0, 0)
    assert events(ledger) == before
    assert len(axis.axis.inbox(EXTERNAL)) == 2  # 01 and 03, once each
    receipts = ledger.gateway_index().by_agency(RECIPIENT)  # the gateway's, one each
    assert [(r.direction, r.axis_id) for r in receipts] == [
        ("in", doc_id), *[("out", m.doc_id) for m in axis.axis.inbox(EXTERNAL)]]


def test_a_message_pulled_again_is_a_repeat_and_doubles_nothing(
        axis: AxisServer, ledger: LedgerService) -> None:
    message = full_document(EXTERNAL, [RECIPIENT], 8)
    importer, _ = seam(ledger, RECIPIENT)
    first = importer.import_message(message, RECIPIENT)
    before = events(ledger)
    again = importer.import_message(message, RECIPIENT)
    assert not first.repeated and again.repeated
    assert events(ledger) == before


def member_document(ledger: LedgerService, number: int) -> str:
    """A document of the member RECIPIENT, signed and issued, not yet sent."""
    doc = ledger.act(RECIPIENT, "document.create", {
        "document_id": f"{RECIPIENT},2026/11/27,{number}/VPCP-TTĐT",
        "header": {"code_notation": "VPCP-TTĐT", "document_type": {"type": 2,
                   "type_name": "Công văn"}, "subject": "Gửi cơ quan ngoài",
                   "promulgation_place": "Hà Nội", "promulgation_date": "2026-11-27",
                   "signer": {"full_name": "Nguyễn Văn B"}, "priority": 0}}).result["document"]
    ledger.act(RECIPIENT, "document.sign", {"document": doc,
                                            "signer": {"full_name": "Nguyễn Văn B"}})
    ledger.act(RECIPIENT, "document.issue", {"document": doc})
    return str(doc)


def test_a_status_from_an_external_agency_becomes_its_delivery_event(
        axis: AxisServer, ledger: LedgerService) -> None:
    doc = member_document(ledger, 1)
    ledger.act(RECIPIENT, "document.send", {"document": doc, "recipients": [EXTERNAL, SENDER]})

    pushed = sync(axis, ledger)
    [out] = [m for m in axis.axis.inbox(EXTERNAL)]
    sent = parse_edxml(out.data)
    assert isinstance(sent, DocumentMessage) and sent.doc_type is BusinessDocType.NEW
    assert [o.organ_id for o in sent.recipients] == [EXTERNAL]  # members read the ledger
    assert axis.axis.inbox(SENDER) == []
    assert pushed.pushed == 1

    send_as_external(axis, status(EXTERNAL, RECIPIENT, "03"), service_type="status")
    pulled = sync(axis, ledger)
    assert (pulled.imported, pulled.acknowledged) == (1, 1)
    delivery = ledger.app.find(Delivery, Delivery.id_for(UUID(doc), EXTERNAL))
    assert delivery is not None and delivery.incoming_number == 1
    assert pulled.pushed == 0  # its own status is not echoed back


def test_a_sender_not_on_the_ledger_is_deferred_until_registered_not_lost(
        axis: AxisServer, ledger: LedgerService) -> None:
    doc_id = send_as_external(axis, full_document(OUTSIDE, [RECIPIENT], 9), sender=OUTSIDE)

    following = seam(ledger, RECIPIENT)  # one connector, running again and again
    deferred = sync(axis, ledger, made=following)
    assert (deferred.pulled, deferred.imported, deferred.skipped) == (1, 0, 1)
    assert axis.axis.messages[doc_id].statuses[RECIPIENT] == "processing"
    assert any(f"docledger axis register {OUTSIDE}" in line
               for line in deferred.lines)  # type: ignore[attr-defined]

    register_external(ledger, OUTSIDE, "Cơ quan ngoài")
    taken = sync(axis, ledger, made=following)
    assert (taken.pulled, taken.imported, taken.acknowledged) == (1, 1, 1)
    assert axis.axis.messages[doc_id].statuses[RECIPIENT] == "done"


def test_a_member_message_not_signed_by_the_member_is_refused_with_its_reason(
        axis: AxisServer, ledger: LedgerService) -> None:
    doc_id = client(axis, "vxp.g22", "secret-g22").send_edoc(
        SENDER, full_document(SENDER, [RECIPIENT], 10), "eDoc", idempotency_key="g22")
    summary = sync(axis, ledger)
    assert (summary.refused, summary.imported) == (1, 0)
    assert axis.axis.messages[doc_id].statuses[RECIPIENT] == "fail"
    assert "keys of its own" in axis.axis.messages[doc_id].reasons[RECIPIENT]


def test_a_member_message_the_member_recorded_itself_is_a_repeat(
        axis: AxisServer, ledger: LedgerService) -> None:
    from api.edxml_import import import_edxml
    from api.session import LocalSession

    message = full_document(SENDER, [RECIPIENT], 11)
    import_edxml(LocalSession(ledger), message, SENDER)  # with its own key
    client(axis, "vxp.g22", "secret-g22").send_edoc(SENDER, message, "eDoc",
                                                    idempotency_key="g22-11")
    before = events(ledger)
    summary = sync(axis, ledger)
    assert (summary.pulled, summary.imported, summary.acknowledged) == (1, 0, 1)
    assert events(ledger) == before


def test_a_message_the_mapping_refuses_is_refused_naming_the_element(
        axis: AxisServer, ledger: LedgerService) -> None:
    bad = full_document(EXTERNAL, [RECIPIENT], 12).replace(
        b"<edXML:PromulgationDate>2026/11/27</edXML:PromulgationDate>",
        b"<edXML:PromulgationDate>2026/02/30</edXML:PromulgationDate>")
    doc_id = send_as_external(axis, bad)
    before = events(ledger)
    summary = sync(axis, ledger)
    assert summary.refused == 1 and events(ledger) == before
    reason = axis.axis.messages[doc_id].reasons[RECIPIENT]
    assert "edxml-invalid-value" in reason and "PromulgationDate" in reason


def test_a_copy_delivered_to_another_agency_is_refused(ledger: LedgerService) -> None:
    importer, _ = seam(ledger, RECIPIENT)
    with pytest.raises(Exception, match="not to 000.00.00.H41"):
        importer.import_message(full_document(EXTERNAL, [SENDER], 13), RECIPIENT)


def test_external_agencies_are_those_holding_the_gateway_key(ledger: LedgerService) -> None:
    agencies = Agencies(ledger.app, ledger.folder)
    assert agencies.kind(EXTERNAL) == "external"
    assert agencies.kind(RECIPIENT) == "member"
    assert agencies.kind(OUTSIDE) is None
    assert register_external(ledger, EXTERNAL, "again") is None  # already so
    with pytest.raises(Exception, match="keys of its own"):
        register_external(ledger, SENDER, "a member")


def test_a_members_acts_towards_external_recipients_go_out_once_each_as_they_were(
        axis: AxisServer, ledger: LedgerService) -> None:
    register_external(ledger, OUTSIDE, "Cơ quan ngoài")
    doc = member_document(ledger, 2)
    ledger.act(RECIPIENT, "document.send", {"document": doc, "recipients": [EXTERNAL]})
    ledger.act(RECIPIENT, "document.send", {"document": doc, "recipients": [OUTSIDE]})
    ledger.act(RECIPIENT, "document.revise", {
        "document": doc, "business_type": 2, "reason": "Bổ sung nơi nhận",
        "add_recipients": [SENDER], "remove_recipients": [OUTSIDE]})
    ledger.act(RECIPIENT, "delivery.recall", {"document": doc, "recipients": [EXTERNAL],
                                              "reason": "Sai sót"})
    _, exporter = seam(ledger, RECIPIENT)
    listed = exporter.outgoing(RECIPIENT, 0)
    messages = [parse_edxml(m.data) for m in listed]

    assert [m.doc_type for m in messages  # type: ignore[union-attr]
            ] == [BusinessDocType.NEW, BusinessDocType.NEW, BusinessDocType.UPDATE,
                  BusinessDocType.RECALL]
    assert [[o.organ_id for o in m.recipients] for m in messages] == [
        [EXTERNAL], [OUTSIDE], [EXTERNAL, OUTSIDE], [EXTERNAL]]
    # a send goes to its own recipients only; an update to those it removes too
    update = messages[2]
    assert isinstance(update, DocumentMessage) and update.business is not None
    info = update.business.document_info
    assert info is not None and sorted(r.organ_id for r in info.receivers) == sorted(
        [OUTSIDE, SENDER])
    positions = [m.position for m in listed]
    assert positions == sorted(positions) and len(set(m.id for m in listed)) == 4
    assert exporter.outgoing(RECIPIENT, 0) == listed  # the same acts, the same messages
    assert exporter.outgoing(RECIPIENT, positions[1]) == listed[2:]

    summary = sync(axis, ledger)
    assert summary.pushed == 4 and len(axis.axis.inbox(EXTERNAL)) == 3
    assert len(axis.axis.inbox(OUTSIDE)) == 2 and axis.axis.inbox(SENDER) == []


def test_a_recall_from_an_external_agency_is_its_recall_of_the_addressees_copy(
        ledger: LedgerService) -> None:
    importer, _ = seam(ledger, RECIPIENT)
    original = full_document(EXTERNAL, [RECIPIENT, OUTSIDE], 14)
    importer.import_message(original, RECIPIENT)
    parsed = parse_edxml(original)
    assert isinstance(parsed, DocumentMessage)
    recall = write_edxml(replace(parsed, business=Business(
        doc_type=BusinessDocType.RECALL, reason="Ban hành nhầm")))

    done = importer.import_message(recall, RECIPIENT)

    assert not done.repeated and "delivery.recall" in done.note
    document = Document.id_for(EXTERNAL, parsed.document_id)
    delivery = ledger.app.find(Delivery, Delivery.id_for(document, RECIPIENT))
    assert delivery is not None and delivery.state_before_recall is not None
    assert importer.import_message(recall, RECIPIENT).repeated


def test_an_update_whose_copy_changes_only_other_agencies_records_nothing_and_is_done(
        ledger: LedgerService) -> None:
    importer, _ = seam(ledger, RECIPIENT)
    original = full_document(EXTERNAL, [RECIPIENT, OUTSIDE], 15)
    importer.import_message(original, RECIPIENT)
    parsed = parse_edxml(original)
    assert isinstance(parsed, DocumentMessage)
    update = write_edxml(replace(parsed, business=Business(
        doc_type=BusinessDocType.UPDATE, reason="Bỏ nơi nhận",
        document_info=BusinessDocumentInfo(document_receiver="1", receivers=(
            Receiver(organ_id=OUTSIDE, receiver_type=ReceiverType.REMOVED),)))))
    before = events(ledger)

    done = importer.import_message(update, RECIPIENT)  # refused would be told 'fail'

    assert "changes nothing of this copy" in done.note
    assert events(ledger) == before
    document = Document.id_for(EXTERNAL, parsed.document_id)
    delivery = ledger.app.find(Delivery, Delivery.id_for(document, RECIPIENT))
    assert delivery is not None and delivery.state != "removed"
