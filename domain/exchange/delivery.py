"""One document's journey to one recipient, through the status codes 01–16."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.errors import IllegalTransitionError
from domain.exchange.codes import STATE_AFTER, DeliveryState, Status
from domain.exchange.ids import delivery_id
from domain.exchange.records import Record

S = DeliveryState
ACTIVE = frozenset({S.ARRIVED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS})

# act -> (states it may start from, state it leads to; None = back to before recall)
TRANSITIONS: dict[str, tuple[frozenset[DeliveryState], DeliveryState | None]] = {
    "accept": (frozenset({S.ARRIVED}), S.ACCEPTED),
    "refuse": (frozenset({S.ARRIVED}), S.REFUSED),
    "assign": (frozenset({S.ACCEPTED, S.ASSIGNED}), S.ASSIGNED),
    "progress": (frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.IN_PROGRESS),
    "complete": (frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.COMPLETED),
    "request_recall": (ACTIVE, S.RECALL_REQUESTED),
    "agree_recall": (frozenset({S.RECALL_REQUESTED}), S.RECALLED),
    "refuse_recall": (frozenset({S.RECALL_REQUESTED}), None),
    # the sender's update takes the recipient off the document: from any state in
    # which the recipient still holds it and has not finished with it
    "remove": (ACTIVE | {S.RECALL_REQUESTED}, S.REMOVED),
}


class Delivery(Record):
    """The recipient's copy of a sent document and every status it passed."""

    TOPIC = topics.DELIVERY

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.DELIVERY, "Created")

    @staticmethod
    def id_for(document: UUID, recipient: str) -> UUID:
        return delivery_id(document, recipient)

    class Dispatched(Record.Created):
        TOPIC = topics.event(topics.DELIVERY, "Dispatched")

        document: str
        sender: str
        recipient: str
        reference: str
        priority: int
        due_date: str | None

        def apply(self, delivery: Any) -> None:
            delivery.document = self.document
            delivery.sender = self.sender
            delivery.recipient = self.recipient
            delivery.reference = self.reference
            delivery.priority = self.priority
            delivery.due_date = self.due_date
            delivery.state = None
            delivery.state_before_recall = None
            delivery.incoming_number = None
            delivery.revision = 0
            delivery.stamped = {}

    class StatusEvent(Record.Event):
        TOPIC = topics.event(topics.DELIVERY, "StatusEvent")

        status: str  # the standard's status code, kept as data

        def apply(self, delivery: Any) -> None:
            if self.status == Status.RECALL_REQUESTED:
                delivery.state_before_recall = delivery.state
            if self.status == Status.RECALL_REFUSED:
                delivery.state = delivery.state_before_recall
            else:
                delivery.state = STATE_AFTER[self.status]

    class Arrived(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "Arrived")

    class IncomingStamped(Record.Event):
        """A copy of a PDF attachment stamped with the incoming number and date ("dấu
        đến"); its envelope is the ledger's ``delivery.stamped`` statement."""

        TOPIC = topics.event(topics.DELIVERY, "IncomingStamped")

        original: str  # sha256 of the attachment as sent
        copy: dict[str, Any]  # the stamped copy: name, media_type, size, sha256

        def apply(self, delivery: Any) -> None:
            delivery.stamped = {**delivery.stamped, self.original: self.copy}

    class Accepted(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "Accepted")

        incoming_number: int
        year: int

        def apply(self, delivery: Any) -> None:
            super().apply(delivery)
            delivery.incoming_number = self.incoming_number

    class Refused(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "Refused")

        reason: str

    class Assigned(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "Assigned")

        lead_unit: str
        officer: str | None
        co_units: list[str]
        instructions: str
        due_date: str | None

        def apply(self, delivery: Any) -> None:
            super().apply(delivery)
            if self.due_date is not None:
                delivery.due_date = self.due_date

    class ProgressReported(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "ProgressReported")

        note: str

    class Completed(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "Completed")

        note: str

    class RecallRequested(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "RecallRequested")

        reason: str

    class RecallAgreed(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "RecallAgreed")

        reason: str

    class RecallRefused(StatusEvent):
        TOPIC = topics.event(topics.DELIVERY, "RecallRefused")

        reason: str

    class Revised(Record.Event):
        TOPIC = topics.event(topics.DELIVERY, "Revised")

        business_type: int
        revision: int
        attachments: list[dict[str, Any]]

        def apply(self, delivery: Any) -> None:
            delivery.revision = self.revision

    class Removed(Record.Event):
        """The sender's update (document.revise, schema 2) took this recipient off the
        document. No status code of the standard says it; the state is terminal."""

        TOPIC = topics.event(topics.DELIVERY, "Removed")

        revision: int  # the document's revision that no longer lists the recipient
        reason: str

        def apply(self, delivery: Any) -> None:
            delivery.state = S.REMOVED

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        document: str
        sender: str
        recipient: str
        reference: str
        priority: int
        due_date: str | None
        state: DeliveryState | None
        state_before_recall: DeliveryState | None
        incoming_number: int | None
        revision: int
        stamped: dict[str, dict[str, Any]]  # original sha256 -> its stamped copy

    def _change(self, act: str, event_class: type[Any], status: Status, **data: Any) -> None:
        self.check_can(act)
        self.trigger_event(event_class, status=status.value, **data)

    def arrive(self, *, envelope: dict[str, Any], at: datetime) -> None:
        if self.state is not None:
            raise IllegalTransitionError("delivery has already arrived")
        self.trigger_event(
            self.Arrived, status=Status.ARRIVED.value, envelope=envelope, timestamp=at
        )

    def record_stamp(self, original: str, copy: dict[str, Any], *, envelope: dict[str, Any],
                     at: datetime) -> None:
        """Keep the copy of ``original`` the ledger stamped with the incoming number."""
        self.trigger_event(self.IncomingStamped, envelope=envelope, timestamp=at,
                           original=original, copy=copy)

    def accept(self, number: int, year: int, *, envelope: dict[str, Any], at: datetime) -> None:
        self._change(
            "accept", self.Accepted, Status.ACCEPTED,
            incoming_number=number, year=year, envelope=envelope, timestamp=at,
        )

    def check_can(self, act: str) -> None:
        """Raise unless ``act`` is allowed now (used before taking a number)."""
        allowed, _ = TRANSITIONS[act]
        if self.state not in allowed:
            current = "not arrived" if self.state is None else self.state.value
            raise IllegalTransitionError(
                f"cannot {act.replace('_', ' ')} delivery of {self.reference} "
                f"to {self.recipient}: it is {current}"
            )

    def refuse(self, reason: str, *, envelope: dict[str, Any], at: datetime) -> None:
        self._change(
            "refuse", self.Refused, Status.REFUSED,
            reason=reason, envelope=envelope, timestamp=at,
        )

    def assign(
        self,
        *,
        lead_unit: str,
        officer: str | None,
        co_units: list[str],
        instructions: str,
        due_date: str | None,
        envelope: dict[str, Any],
        at: datetime,
    ) -> None:
        self._change(
            "assign", self.Assigned, Status.ASSIGNED,
            lead_unit=lead_unit, officer=officer, co_units=co_units,
            instructions=instructions, due_date=due_date,
            envelope=envelope, timestamp=at,
        )

    def report_progress(self, note: str, *, envelope: dict[str, Any], at: datetime) -> None:
        self._change(
            "progress", self.ProgressReported, Status.IN_PROGRESS,
            note=note, envelope=envelope, timestamp=at,
        )

    def complete(self, note: str, *, envelope: dict[str, Any], at: datetime) -> None:
        self._change(
            "complete", self.Completed, Status.COMPLETED,
            note=note, envelope=envelope, timestamp=at,
        )

    def request_recall(self, reason: str, *, envelope: dict[str, Any], at: datetime) -> None:
        self._change(
            "request_recall", self.RecallRequested, Status.RECALL_REQUESTED,
            reason=reason, envelope=envelope, timestamp=at,
        )

    def answer_recall(
        self, agree: bool, reason: str, *, envelope: dict[str, Any], at: datetime
    ) -> None:
        if agree:
            self._change(
                "agree_recall", self.RecallAgreed, Status.RECALL_AGREED,
                reason=reason, envelope=envelope, timestamp=at,
            )
        else:
            self._change(
                "refuse_recall", self.RecallRefused, Status.RECALL_REFUSED,
                reason=reason, envelope=envelope, timestamp=at,
            )

    def remove(self, revision: int, reason: str, *, envelope: dict[str, Any],
               at: datetime) -> None:
        """The sender takes this recipient off the document (an update's receiver list)."""
        self.check_can("remove")
        self.trigger_event(self.Removed, envelope=envelope, timestamp=at,
                           revision=revision, reason=reason)

    @property
    def is_live(self) -> bool:
        """Still in the recipient's hands (not refused, recalled or removed)."""
        return self.state not in (S.REFUSED, S.RECALLED, S.REMOVED)

    def revise(
        self,
        business_type: int,
        revision: int,
        attachments: list[dict[str, Any]],
        *,
        envelope: dict[str, Any],
        at: datetime,
    ) -> None:
        self.trigger_event(
            self.Revised, envelope=envelope, timestamp=at,
            business_type=business_type, revision=revision, attachments=attachments,
        )

