"""Gap-free number registers."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.exchange.codes import register_year
from domain.exchange.register import NumberRegister
from tests.domain.helpers import T0, at, replay

AGENCY = "000.00.00.G22"


def test_numbers_run_one_two_three_without_gaps() -> None:
    r = NumberRegister.open(AGENCY, "outgoing", 2026, envelope={}, at=T0)
    assert r.last_number == 0
    numbers = [r.take_number(f"doc-{i}", envelope={}, at=at(i)) for i in range(1, 6)]
    assert numbers == [1, 2, 3, 4, 5]
    assert r.last_number == 5
    events = r.collect_events()
    assert [type(e) for e in events] == [NumberRegister.Opened] + [NumberRegister.NumberTaken] * 5
    assert [e.number for e in events[1:]] == [1, 2, 3, 4, 5]
    assert [e.entry for e in events[1:]] == [f"doc-{i}" for i in range(1, 6)]


def test_replayed_register_continues_from_last_number() -> None:
    r = NumberRegister.open(AGENCY, "incoming", 2026, envelope={}, at=T0)
    for i in range(3):
        r.take_number(f"d{i}", envelope={}, at=at(i))
    copy = replay(r.collect_events())
    assert copy.last_number == 3
    assert copy.take_number("d3", envelope={}, at=at(9)) == 4
    assert [e.number for e in copy.collect_events()] == [4]


def test_register_id_is_per_agency_direction_and_year() -> None:
    ids = {
        NumberRegister.id_for(AGENCY, "outgoing", 2026),
        NumberRegister.id_for(AGENCY, "incoming", 2026),
        NumberRegister.id_for(AGENCY, "outgoing", 2027),
        NumberRegister.id_for("000.00.00.H41", "outgoing", 2026),
    }
    assert len(ids) == 4
    r = NumberRegister.open(AGENCY, "outgoing", 2026, envelope={}, at=T0)
    assert r.id == NumberRegister.id_for(AGENCY, "outgoing", 2026)
    assert (r.agency, r.direction, r.year) == (AGENCY, "outgoing", 2026)


def test_register_year_follows_vietnam_time() -> None:
    # 31 Dec 2026 18:00 UTC is already 1 Jan 2027 01:00 in Vietnam (UTC+7).
    assert register_year(datetime(2026, 12, 31, 18, 0, tzinfo=UTC)) == 2027
    assert register_year(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)) == 2026
