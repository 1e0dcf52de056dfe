"""The plain alternative: the same workload on eventsourcing without signatures
or a ledger. A document is sent to 3 recipients; each accepts, assigns and
completes. One command, one save, one commit, as a straightforward service would.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class PlainDocument(Aggregate):
    @event("Created")
    def __init__(self, sender: str, subject: str, recipients: list[str]) -> None:
        self.sender = sender
        self.subject = subject
        self.recipients = recipients
        self.number: int | None = None

    @event("Issued")
    def issue(self, number: int) -> None:
        self.number = number


class PlainDelivery(Aggregate):
    @event("Dispatched")
    def __init__(self, document: UUID, recipient: str) -> None:
        self.document = document
        self.recipient = recipient
        self.state = "arrived"

    @event("StatusChanged")
    def change(self, state: str, detail: str) -> None:
        self.state = state


class PlainExchange(Application):
    """Unsigned commands, no Merkle log, no receipts, no registers."""

    def send(self, sender: str, recipients: list[str]) -> tuple[UUID, list[UUID]]:
        doc = PlainDocument(sender, "Về việc triển khai", recipients)
        doc.issue(1)
        deliveries = [PlainDelivery(doc.id, r) for r in recipients]
        self.save(doc, *deliveries)
        return doc.id, [d.id for d in deliveries]

    def act(self, delivery_id: UUID, state: str) -> None:
        delivery: Any = self.repository.get(delivery_id)
        delivery.change(state, "")
        self.save(delivery)


def run_flow(app: PlainExchange, sender: str, recipients: list[str]) -> int:
    """One document's whole flow; returns the number of commands it took."""
    _, deliveries = app.send(sender, recipients)
    for delivery in deliveries:
        for state in ("accepted", "assigned", "completed"):
            app.act(delivery, state)
    return 1 + 3 * len(deliveries)


def new_agency() -> str:
    return uuid4().hex[:13]
