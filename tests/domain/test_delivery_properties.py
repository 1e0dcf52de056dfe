"""Random sequences of acts on a Delivery against an independent reference model."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.errors import IllegalTransitionError
from domain.exchange.delivery import Delivery
from tests.domain.helpers import ACTS, dispatched, replay

# The spec, written out by hand (not derived from domain.exchange.delivery.TRANSITIONS).
# state -> {act: (status code emitted, next state)}; "BACK" = state before recall.
ACTIVE = ("arrived", "accepted", "assigned", "in_progress")
MODEL: dict[str, dict[str, tuple[str, str]]] = {
    "arrived": {"accept": ("03", "accepted"), "refuse": ("02", "refused")},
    "accepted": {"assign": ("04", "assigned")},
    "assigned": {"assign": ("04", "assigned"), "progress": ("05", "in_progress"),
                 "complete": ("06", "completed")},
    "in_progress": {"progress": ("05", "in_progress"), "complete": ("06", "completed")},
    "recall_requested": {"agree_recall": ("15", "recalled"),
                         "refuse_recall": ("16", "BACK")},
    "refused": {},
    "completed": {},
    "recalled": {},
}
for _state in ACTIVE:
    MODEL[_state]["request_recall"] = ("13", "recall_requested")

EVENT_CLASS = {
    "accept": Delivery.Accepted, "refuse": Delivery.Refused, "assign": Delivery.Assigned,
    "progress": Delivery.ProgressReported, "complete": Delivery.Completed,
    "request_recall": Delivery.RecallRequested, "agree_recall": Delivery.RecallAgreed,
    "refuse_recall": Delivery.RecallRefused,
}

acts = st.lists(st.sampled_from(sorted(ACTS)), max_size=25)


def test_model_covers_every_act() -> None:
    assert set(EVENT_CLASS) == set(ACTS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acts)
def test_delivery_follows_the_model(sequence: list[str]) -> None:
    d = dispatched()
    d.arrive(envelope={}, at=d.created_on)
    history = d.collect_events()
    state, before_recall = "arrived", None
    for act in sequence:
        allowed = MODEL[state]
        if act in allowed:
            ACTS[act](d)
            new = d.collect_events()
            status, target = allowed[act]
            assert [type(e) for e in new] == [EVENT_CLASS[act]], (state, act)
            assert new[0].status == status
            if act == "request_recall":
                before_recall = state
            state = before_recall if target == "BACK" else target
            history.extend(new)
        else:
            version = d.version
            with pytest.raises(IllegalTransitionError):
                ACTS[act](d)
            assert d.collect_events() == [], (state, act)
            assert d.version == version
        assert d.state is not None and d.state.value == state
        assert d.is_live == (state not in ("refused", "recalled"))

    # Replaying the emitted events yields the same aggregate.
    copy = history[0].mutate(None)
    for event in history[1:]:
        copy = event.mutate(copy)
    assert copy.__dict__ == d.__dict__
    assert copy.state is d.state and copy.version == len(history)


class DeliveryMachine(RuleBasedStateMachine):
    """Same check as a state machine; replays the full history at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.d = dispatched()
        self.d.arrive(envelope={}, at=self.d.created_on)
        self.history = self.d.collect_events()
        self.state = "arrived"
        self.before_recall: str | None = None

    @rule(act=st.sampled_from(sorted(ACTS)))
    def do(self, act: str) -> None:
        allowed = MODEL[self.state]
        if act in allowed:
            ACTS[act](self.d)
            new = self.d.collect_events()
            status, target = allowed[act]
            assert [type(e) for e in new] == [EVENT_CLASS[act]]
            assert new[0].status == status
            if act == "request_recall":
                self.before_recall = self.state
            self.state = self.before_recall if target == "BACK" else target
            self.history.extend(new)
        else:
            version = self.d.version
            with pytest.raises(IllegalTransitionError):
                ACTS[act](self.d)
            assert self.d.collect_events() == []
            assert self.d.version == version

    @invariant()
    def state_matches_model(self) -> None:
        assert self.d.state.value == self.state

    @invariant()
    def replay_gives_same_aggregate(self) -> None:
        copy = replay(self.history)
        assert copy.state == self.d.state
        assert copy.state_before_recall == self.d.state_before_recall
        assert copy.version == self.d.version
        assert copy.__dict__ == self.d.__dict__

    @invariant()
    def versions_are_contiguous(self) -> None:
        assert [e.originator_version for e in self.history] == list(
            range(1, len(self.history) + 1)
        )


DeliveryMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=20, deadline=None
)
TestDeliveryMachine = DeliveryMachine.TestCase
