"""Given events / when command / then events, on the Delivery aggregate alone."""

from __future__ import annotations

import pytest

from domain.errors import IllegalTransitionError
from domain.exchange.codes import STATE_AFTER, Status
from domain.exchange.delivery import Delivery, DeliveryState
from tests.domain.helpers import ACTS, arrived, at, dispatched, replay

S = DeliveryState


def given(*acts: str) -> Delivery:
    d = arrived()
    for act in acts:
        ACTS[act](d)
    d.collect_events()
    return d


def then_one(d: Delivery, cls: type, status: str) -> object:
    events = d.collect_events()
    assert [type(e) for e in events] == [cls]
    assert events[0].status == status
    return events[0]


def assert_refused(d: Delivery, act: str) -> None:
    state, version = d.state, d.version
    with pytest.raises(IllegalTransitionError):
        ACTS[act](d)
    assert d.collect_events() == []
    assert d.state == state and d.version == version


# ---- arrival ----------------------------------------------------------------


def test_dispatched_has_no_state_until_arrival() -> None:
    d = dispatched()
    assert d.state is None
    d.arrive(envelope={}, at=at())
    events = d.collect_events()
    assert [type(e) for e in events] == [Delivery.Dispatched, Delivery.Arrived]
    assert events[1].status == "01"
    assert d.state is S.ARRIVED
    assert d.reference == "1/QĐ-UBND" and d.recipient == "000.00.00.H41"


def test_arrive_twice_is_illegal() -> None:
    d = arrived()
    with pytest.raises(IllegalTransitionError):
        d.arrive(envelope={}, at=at(1))
    assert d.collect_events() == []


@pytest.mark.parametrize("act", sorted(ACTS))
def test_nothing_is_allowed_before_arrival(act: str) -> None:
    d = dispatched()
    d.collect_events()
    assert_refused(d, act)


# ---- happy path -------------------------------------------------------------


def test_accept_takes_the_incoming_number() -> None:
    d = given()
    d.accept(7, 2026, envelope={"k": "v"}, at=at(5))
    e = then_one(d, Delivery.Accepted, "03")
    assert e.incoming_number == 7 and e.year == 2026 and e.envelope == {"k": "v"}
    assert e.timestamp == at(5)
    assert d.state is S.ACCEPTED and d.incoming_number == 7


def test_refuse_from_arrived() -> None:
    d = given()
    d.refuse("không đúng thẩm quyền", envelope={}, at=at(1))
    e = then_one(d, Delivery.Refused, "02")
    assert e.reason == "không đúng thẩm quyền"
    assert d.state is S.REFUSED and not d.is_live


def test_assign_after_accept_and_due_date_override() -> None:
    d = given("accept")
    d.assign(lead_unit="Phòng A", officer=None, co_units=["Phòng B"], instructions="",
             due_date="2026-12-10", envelope={}, at=at(2))
    e = then_one(d, Delivery.Assigned, "04")
    assert e.lead_unit == "Phòng A" and e.co_units == ["Phòng B"] and e.officer is None
    assert d.state is S.ASSIGNED and d.due_date == "2026-12-10"


def test_assign_without_due_date_keeps_previous_due_date() -> None:
    d = given("accept")
    ACTS["assign"](d)  # due None
    d.collect_events()
    assert d.due_date is None
    d.assign(lead_unit="A", officer=None, co_units=[], instructions="", due_date="2026-12-01",
             envelope={}, at=at(3))
    d.assign(lead_unit="B", officer=None, co_units=[], instructions="", due_date=None,
             envelope={}, at=at(4))
    assert d.due_date == "2026-12-01"


def test_reassign_is_allowed() -> None:
    d = given("accept", "assign")
    ACTS["assign"](d)
    then_one(d, Delivery.Assigned, "04")
    assert d.state is S.ASSIGNED


def test_progress_then_progress_then_complete() -> None:
    d = given("accept", "assign")
    d.report_progress("bước 1", envelope={}, at=at(2))
    then_one(d, Delivery.ProgressReported, "05")
    d.report_progress("bước 2", envelope={}, at=at(3))
    then_one(d, Delivery.ProgressReported, "05")
    assert d.state is S.IN_PROGRESS
    d.complete("xong", envelope={}, at=at(4))
    e = then_one(d, Delivery.Completed, "06")
    assert e.note == "xong" and d.state is S.COMPLETED


def test_complete_directly_from_assigned() -> None:
    d = given("accept", "assign")
    ACTS["complete"](d)
    then_one(d, Delivery.Completed, "06")
    assert d.state is S.COMPLETED


# ---- recall -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "state"),
    [((), S.ARRIVED), (("accept",), S.ACCEPTED), (("accept", "assign"), S.ASSIGNED),
     (("accept", "assign", "progress"), S.IN_PROGRESS)],
)
def test_refused_recall_restores_the_state_before_the_request(
    before: tuple[str, ...], state: DeliveryState
) -> None:
    d = given(*before)
    d.request_recall("sai sót", envelope={}, at=at(5))
    e = then_one(d, Delivery.RecallRequested, "13")
    assert e.reason == "sai sót"
    assert d.state is S.RECALL_REQUESTED and d.state_before_recall is state
    d.answer_recall(False, "đã xử lý", envelope={}, at=at(6))
    then_one(d, Delivery.RecallRefused, "16")
    assert d.state is state


@pytest.mark.parametrize("before", [(), ("accept",), ("accept", "assign", "progress")])
def test_agreed_recall_is_terminal(before: tuple[str, ...]) -> None:
    d = given(*before, "request_recall")
    d.answer_recall(True, "đồng ý", envelope={}, at=at(6))
    then_one(d, Delivery.RecallAgreed, "15")
    assert d.state is S.RECALLED and not d.is_live
    for act in ACTS:
        assert_refused(d, act)


def test_while_recall_requested_only_an_answer_is_allowed() -> None:
    d = given("accept", "request_recall")
    for act in ("accept", "refuse", "assign", "progress", "complete", "request_recall"):
        assert_refused(d, act)
    assert d.state is S.RECALL_REQUESTED


def test_work_continues_after_refused_recall() -> None:
    d = given("accept", "assign", "request_recall", "refuse_recall")
    assert d.state is S.ASSIGNED
    ACTS["progress"](d)
    then_one(d, Delivery.ProgressReported, "05")
    ACTS["request_recall"](d)
    then_one(d, Delivery.RecallRequested, "13")
    assert d.state_before_recall is S.IN_PROGRESS


def test_answer_without_request_is_illegal() -> None:
    d = given("accept")
    assert_refused(d, "agree_recall")
    assert_refused(d, "refuse_recall")


# ---- illegal transitions ----------------------------------------------------


@pytest.mark.parametrize(
    ("before", "act"),
    [
        ((), "assign"), ((), "progress"), ((), "complete"),
        (("accept",), "accept"), (("accept",), "refuse"), (("accept",), "progress"),
        (("accept",), "complete"),
        (("accept", "assign"), "accept"), (("accept", "assign"), "refuse"),
        (("accept", "assign", "progress"), "assign"),
        (("accept", "assign", "progress"), "accept"),
    ],
)
def test_illegal_transition_emits_nothing(before: tuple[str, ...], act: str) -> None:
    assert_refused(given(*before), act)


@pytest.mark.parametrize(
    "before", [("refuse",), ("accept", "assign", "complete"),
               ("request_recall", "agree_recall")]
)
@pytest.mark.parametrize("act", sorted(ACTS))
def test_terminal_states_allow_nothing(before: tuple[str, ...], act: str) -> None:
    assert_refused(given(*before), act)


def test_error_message_names_reference_recipient_and_state() -> None:
    d = given("refuse")
    with pytest.raises(IllegalTransitionError, match=r"1/QĐ-UBND.*000\.00\.00\.H41.*refused"):
        ACTS["accept"](d)
    assert IllegalTransitionError.code == "illegal-transition"


# ---- revision and replay ----------------------------------------------------


def test_revise_records_revision() -> None:
    d = given("accept")
    d.revise(2, 1, [{"name": "qd.pdf"}], envelope={}, at=at(9))
    events = d.collect_events()
    assert [type(e) for e in events] == [Delivery.Revised]
    assert events[0].revision == 1 and events[0].business_type == 2
    assert d.revision == 1 and d.state is S.ACCEPTED


def test_replaying_events_rebuilds_the_same_delivery() -> None:
    d = dispatched()
    d.arrive(envelope={}, at=at())
    for act in ("accept", "assign", "request_recall", "refuse_recall", "progress", "complete"):
        ACTS[act](d)
    events = d.collect_events()
    assert [e.originator_version for e in events] == list(range(1, 9))
    copy = replay(events)
    assert copy.state is S.COMPLETED
    assert copy.__dict__ == d.__dict__


def test_id_for_is_stable_and_distinct() -> None:
    from uuid import uuid4

    doc = uuid4()
    assert Delivery.id_for(doc, "000.00.00.H41") == Delivery.id_for(doc, "000.00.00.H41")
    assert Delivery.id_for(doc, "000.00.00.H41") != Delivery.id_for(doc, "000.00.15.H51")


def test_every_status_code_but_the_recall_refusal_names_the_state_it_leaves() -> None:
    assert set(STATE_AFTER) == set(Status) - {Status.RECALL_REFUSED}
    # every state but removed, which the sender's update leads to without a code
    assert set(STATE_AFTER.values()) == set(DeliveryState) - {DeliveryState.REMOVED}
