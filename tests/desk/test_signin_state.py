"""The sign-in's challenges and sessions, without a browser or a server."""

from __future__ import annotations

import pytest

from api.desk import signin
from api.desk.signin import DeskState, SignInRefused, signin_text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_signin_text_is_five_lf_terminated_lines() -> None:
    assert signin_text("http://127.0.0.1:8000", "000.00.00.H41", "ab" * 16, "q3Zw") == (
        b"docledger-desk-signin/v1\nhttp://127.0.0.1:8000\n000.00.00.H41\n"
        + b"ab" * 16 + b"\nq3Zw\n")


def test_a_challenge_is_used_up_by_its_first_use_even_a_failed_one() -> None:
    state = DeskState()
    value = state.new_challenge("000.00.00.H41")
    with pytest.raises(SignInRefused, match="another agency"):
        state.take_challenge(value, "000.00.00.G22")
    with pytest.raises(SignInRefused, match="used already"):
        state.take_challenge(value, "000.00.00.H41")


def test_a_challenge_expires_at_sixty_seconds() -> None:
    clock = Clock()
    state = DeskState(clock=clock)
    kept = state.new_challenge("000.00.00.H41")
    late = state.new_challenge("000.00.00.H41")
    clock.now += 59.9
    state.take_challenge(kept, "000.00.00.H41")
    clock.now += 0.1
    with pytest.raises(SignInRefused, match="expired"):
        state.take_challenge(late, "000.00.00.H41")


def test_flooding_challenges_is_refused_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signin, "MAX_CHALLENGES", 3)
    clock = Clock()
    state = DeskState(clock=clock)
    for _ in range(3):
        state.new_challenge("000.00.00.H41")
    with pytest.raises(SignInRefused, match="too many"):
        state.new_challenge("000.00.00.H41")
    clock.now += 61  # expired ones are forgotten: room again
    state.new_challenge("000.00.00.H41")


def test_a_session_ends_at_thirty_minutes_and_at_sign_out() -> None:
    clock = Clock()
    state = DeskState(clock=clock)
    sid = state.open("000.00.00.H41", "ab" * 16)
    assert state.find(sid) is not None
    assert state.find("guessed") is None and state.find(None) is None
    clock.now += 30 * 60
    assert state.find(sid) is None
    other = state.open("000.00.00.H41", "ab" * 16)
    state.close(other)
    assert state.find(other) is None
