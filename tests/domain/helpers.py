"""Small builders shared by the domain unit tests (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from domain.exchange.delivery import Delivery

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
ENV: dict[str, Any] = {}


def at(minutes: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def dispatched() -> Delivery:
    return Delivery._create(
        Delivery.Dispatched,
        id=uuid4(),
        envelope={},
        timestamp=T0,
        document=str(uuid4()),
        sender="000.00.00.G22",
        recipient="000.00.00.H41",
        reference="1/QĐ-UBND",
        priority=0,
        due_date=None,
    )


def arrived() -> Delivery:
    """A delivery that has arrived, with its creation events already collected."""
    d = dispatched()
    d.arrive(envelope={}, at=T0)
    d.collect_events()
    return d


def replay(events: list[Any], start: Any = None) -> Any:
    agg = start
    for e in events:
        agg = e.mutate(agg)
    return agg


# act name -> a call on a Delivery
def _assign(d: Delivery, due: str | None = None) -> None:
    d.assign(lead_unit="Phòng Tư pháp", officer="Lê Văn D", co_units=["Phòng Nội vụ"],
             instructions="xử lý", due_date=due, envelope={}, at=at(1))


ACTS: dict[str, Any] = {
    "accept": lambda d: d.accept(1, 2026, envelope={}, at=at(1)),
    "refuse": lambda d: d.refuse("sai thẩm quyền", envelope={}, at=at(1)),
    "assign": _assign,
    "progress": lambda d: d.report_progress("đang xử lý", envelope={}, at=at(1)),
    "complete": lambda d: d.complete("đã xong", envelope={}, at=at(1)),
    "request_recall": lambda d: d.request_recall("sai sót", envelope={}, at=at(1)),
    "agree_recall": lambda d: d.answer_recall(True, "đồng ý", envelope={}, at=at(1)),
    "refuse_recall": lambda d: d.answer_recall(False, "đã xử lý", envelope={}, at=at(1)),
}
