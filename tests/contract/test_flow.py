"""The exchange works the same on every backend."""

from __future__ import annotations

from uuid import UUID

from domain.exchange.delivery import Delivery, DeliveryState
from domain.exchange.document import Document, DocumentState
from tests.factories import OTHER, RECIPIENT, SENDER, World


def delivery(world: World, doc: str, code: str) -> Delivery:
    found = world.app.find(Delivery, Delivery.id_for(UUID(doc), code))
    assert found is not None
    return found


def test_send_creates_one_arrived_delivery_per_recipient(world: World) -> None:
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    assert world.app.find(Document, UUID(doc)).state is DocumentState.SENT
    for code in (RECIPIENT, OTHER):
        assert delivery(world, doc, code).state is DeliveryState.ARRIVED


def test_full_handling_reaches_completed(world: World) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng Tư pháp",
                                             "officer": "Lê Văn D", "due_date": "2026-12-10"})
    world.act(RECIPIENT, "delivery.progress", {"document": doc, "note": "đang xử lý"})
    world.act(RECIPIENT, "delivery.complete", {"document": doc, "note": "đã xong"})
    d = delivery(world, doc, RECIPIENT)
    assert d.state is DeliveryState.COMPLETED
    assert d.due_date == "2026-12-10"


def test_outgoing_and_incoming_numbers_run_without_gaps(world: World) -> None:
    docs = [world.sent(recipients=(RECIPIENT,)) for _ in range(3)]
    numbers = [world.app.find(Document, UUID(d)).number for d in docs]
    assert numbers == [1, 2, 3]
    incoming = [world.act(RECIPIENT, "delivery.accept", {"document": d}).result["incoming_number"]
                for d in reversed(docs)]
    assert incoming == [1, 2, 3]


def test_agreed_recall_cancels_and_refused_recall_restores(world: World) -> None:
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.act(SENDER, "delivery.recall", {"document": doc, "reason": "sai sót"})
    world.act(RECIPIENT, "delivery.answer_recall", {"document": doc, "agree": False,
                                                    "reason": "đã xử lý"})
    world.act(OTHER, "delivery.answer_recall", {"document": doc, "agree": True, "reason": "ok"})
    assert delivery(world, doc, RECIPIENT).state is DeliveryState.ACCEPTED
    assert delivery(world, doc, OTHER).state is DeliveryState.RECALLED


def test_retry_with_same_bytes_returns_original_result_and_writes_nothing(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    first = world.app.execute(raw)
    count = world.event_count()
    again = world.app.execute(raw)
    assert again.repeated and again.result == first.result and again.events == first.events
    assert world.event_count() == count


def test_update_carries_new_version_to_live_deliveries(world: World) -> None:
    doc = world.sent()
    attachment = {"name": "qd.pdf", "media_type": "application/pdf", "size": 3,
                  "sha256": _put(world, b"v2!")}
    outcome = world.act(SENDER, "document.revise", {"document": doc, "business_type": 2,
                                                    "attachments": [attachment],
                                                    "reason": "đính chính"})
    assert outcome.result["revision"] == 1
    assert delivery(world, doc, RECIPIENT).revision == 1


def _put(world: World, data: bytes) -> str:
    from infrastructure.ledger import DataFolder

    return DataFolder(world.settings.data).blobs.put(data)
