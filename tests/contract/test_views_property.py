"""Property: whatever the agencies do, in whatever order, the live views (followed
after every command) equal a rebuild from the log, row for row, and agree with
the domain's own state of every delivery."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DocLedgerError
from domain.exchange.delivery import Delivery, DeliveryState
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker, check
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, World
from tests.views_support import revise, send, vn_today

AGENCIES = (SENDER, RECIPIENT, OTHER, THIRD)
ACTS = ("accept", "refuse", "assign", "progress", "complete", "recall", "answer_recall")
# "drive" takes an act the delivery's current state allows (so deliveries get far:
# assigned, completed, recalled); "any" tries any act, which the domain may refuse.
KINDS = ("send", "drive", "drive", "drive", "drive", "drive", "drive", "any", "revise", "tick")
ALLOWED = {
    DeliveryState.ARRIVED: ("accept", "accept", "refuse", "recall"),
    DeliveryState.ACCEPTED: ("assign", "assign", "recall"),
    DeliveryState.ASSIGNED: ("assign", "progress", "complete", "complete", "recall"),
    DeliveryState.IN_PROGRESS: ("progress", "complete", "complete", "recall"),
    DeliveryState.RECALL_REQUESTED: ("answer_recall",),
}

Step = tuple[str, int, int, bool, int]
steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 2), st.integers(0, 3), st.booleans(),
              st.integers(-3, 6)),
    min_size=10, max_size=30)


def perform(world: World, docs: list[tuple[str, str, list[str]]], step: Step) -> None:
    kind, pick, who, flag, days = step
    if kind == "tick":
        world.app.clock.advance(days=1)  # type: ignore[attr-defined]
        return
    if kind == "send" or not docs:
        sender = SENDER if flag or not docs else OTHER
        others = [a for a in AGENCIES if a != sender]
        mask = (pick * 4 + who) % 7 + 1
        recipients = [a for i, a in enumerate(others) if mask >> i & 1]
        due = None if days < -2 else (vn_today(world) + timedelta(days=days)).isoformat()
        docs.append((send(world, tuple(recipients), sender=sender, priority=who % 4,
                          due_date=due), sender, recipients))
        return
    doc, sender, recipients = docs[pick % len(docs)]
    recipient = recipients[who % len(recipients)]
    if kind == "revise":
        if sender == SENDER:
            revise(world, doc, data=f"bản {pick}-{days}".encode())
        return
    if kind == "drive":
        delivery = world.app.find(Delivery, Delivery.id_for(UUID(doc), recipient))
        assert delivery is not None
        options = ALLOWED.get(delivery.state)  # type: ignore[arg-type]
        if options is None:
            return  # refused, completed or recalled: nothing left to do
        act = options[days % len(options)]
    else:
        act = ACTS[(days + who) % len(ACTS)]
    ref = {"document": doc}
    if act == "assign":
        due = None if flag else (vn_today(world) + timedelta(days=days)).isoformat()
        world.act(recipient, "delivery.assign", {
            **ref, "lead_unit": f"Phòng {who % 3}", "due_date": due,
            **({"officer": f"Cán bộ {days % 2}"} if days % 3 else {})})
    elif act == "recall":
        world.act(sender, "delivery.recall", {
            **ref, "reason": "thu hồi", **({"recipients": [recipient]} if flag else {})})
    elif act == "answer_recall":
        world.act(recipient, "delivery.answer_recall", {**ref, "agree": flag, "reason": "trả lời"})
    elif act == "refuse":
        world.act(recipient, "delivery.refuse", {**ref, "reason": "không đúng thẩm quyền"})
    elif act in ("progress", "complete"):
        world.act(recipient, f"delivery.{act}", {**ref, "note": act})
    else:
        world.act(recipient, f"delivery.{act}", ref)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=steps)
def test_followed_views_equal_a_rebuild_and_the_domain(world: World, script: list[Step]) -> None:
    if THIRD not in world.keys:
        world.register(THIRD)
    store = ViewStore(world.app)
    worker = ViewWorker(world.app, store)
    docs: list[tuple[str, str, list[str]]] = []
    for step in script:
        try:
            perform(world, docs, step)
        except DocLedgerError:
            pass  # the domain refused it; nothing was written
        worker.catch_up()
        assert store.position() == world.event_count()

    position, differences = check(world.app)
    assert position == world.event_count()
    assert differences == []

    rows = store.query("SELECT delivery_id, state, incoming_number, revision "
                       "FROM {t:v_deliveries}")
    for row in rows:
        delivery = world.app.find(Delivery, UUID(row["delivery_id"]))
        assert delivery is not None
        assert (row["state"], row["incoming_number"], row["revision"]) == (
            delivery.state.value if delivery.state else None, delivery.incoming_number,
            delivery.revision)

    numbers: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for r in store.query("SELECT agency, direction, year, number FROM {t:v_register} "
                         "ORDER BY agency, direction, year, number"):
        numbers[(r["agency"], r["direction"], r["year"])].append(r["number"])
    for key, found in numbers.items():
        assert found == list(range(1, len(found) + 1)), key
