"""The stored states' JSON and the ledger's statements: orjson writes them (and
reads the states), and not a byte may differ from what eventsourcing's
JSONTranscoder and Python's json module write and read, for any value, or the
golden ledgers would no longer audit."""

from __future__ import annotations

import json
import math
import sqlite3
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.evidence.json_bytes import compact
from domain.ledger.transcoder import StateTranscoder
from tests.factories import World

GOLDEN = Path(__file__).parents[1] / "assets"
T = TypeVar("T", bound=JSONTranscoder)


def registered(transcoder: T) -> T:
    """With the transcodings every eventsourcing application registers."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


JSON_MODULE, OURS = registered(JSONTranscoder()), registered(StateTranscoder())

times = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)), None]))
# every text, lone surrogates included (neither can write them: both must refuse)
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
scalars = (st.none() | st.booleans() | texts | times | st.uuids()
           | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats() | st.floats(min_value=-1e-3, max_value=1e-3))
keys = texts | st.integers(max_value=9) | st.booleans()
values = st.recursive(scalars, lambda inner: (
    st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(keys, inner, max_size=4)), max_leaves=20)
states = st.dictionaries(texts, values, max_size=6)


def outcome(f: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "value", f(*args, **kwargs)
    except Exception as exc:
        return "error", type(exc)


def same(a: Any, b: Any) -> bool:
    """Equal as values, NaN equal to NaN, and of the same types throughout."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(states)
def test_every_state_is_written_and_read_as_the_json_module_does(state: dict[str, Any]) -> None:
    kind, written = outcome(JSON_MODULE.encode, state)
    assert outcome(OURS.encode, state) == (kind, written)
    if kind == "value":
        read = outcome(JSON_MODULE.decode, written)
        ours = outcome(OURS.decode, written)
        assert read[0] == ours[0] and (read[0] == "error" and read == ours
                                       or same(read[1], ours[1]))


@settings(max_examples=200, deadline=None)
@given(states, st.booleans())
def test_every_statement_is_written_as_the_json_module_writes_it(state: dict[str, Any],
                                                                  sort_keys: bool) -> None:
    assert outcome(compact, state, sort_keys=sort_keys) == outcome(
        lambda: json.dumps(state, sort_keys=sort_keys, separators=(",", ":"),
                           ensure_ascii=False).encode())


@pytest.mark.parametrize("text", [
    b'{"n":123456789012345678901234567890}',  # orjson reads it as a float
    b'{"n":-9223372036854775809,"m":18446744073709551615}',
    b'{"x":NaN,"y":-Infinity}',  # the json module reads what it writes
    b'{"x":1e400}', b'{"x":0.00001,"y":1e-05}',
    b'{"s":"\\ud800"}',  # a lone surrogate escaped
    b'{"a":1,"a":2}',
    b'{"_type_":"datetime_iso","_data_":"2026-12-02T07:00:04.409772+07:00"}',
    b'{"t":{"_type_":"uuid_hex","_data_":"85aa9302eb3459d68767e42d7509b74a"},"_data_":1}',
    b'{"t":{"_type_":"no_such_type","_data_":1}}',
    b'{"t":{"_type_":"datetime_iso","_data_":{"_type_":"datetime_iso","_data_":"x"}}}',
    b'[1,2', b'\xff{}', b'',
])
def test_awkward_json_is_read_as_the_json_module_reads_it(text: bytes) -> None:
    read, ours = outcome(JSON_MODULE.decode, text), outcome(OURS.decode, text)
    assert read[0] == ours[0]
    assert read == ours if read[0] == "error" else same(read[1], ours[1])


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_values_orjson_writes_its_own_way_are_written_as_the_json_module_does() -> None:
    now = datetime(2026, 12, 2, 7, 0, 4, 409772, tzinfo=UTC)
    for state in ({"f": 1e-05}, {"f": math.inf}, {"f": math.nan}, {"u": UUID(int=5)},
                  {"n": 2**64}, {"k": {1: "one", None: "none"}}, {"t": (now, "x")},
                  {"deep": nested(40)}):
        assert OURS.encode(state) == JSON_MODULE.encode(state)
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    assert outcome(OURS.encode, cycle) == outcome(JSON_MODULE.encode, cycle)


def test_the_ledger_stores_its_states_through_the_orjson_transcoder(world: World) -> None:
    assert isinstance(world.app.mapper.transcoder, StateTranscoder)


@pytest.mark.parametrize("golden", sorted(p.name for p in GOLDEN.glob("golden*")))
def test_every_golden_state_is_written_back_byte_for_byte_by_orjson(golden: str) -> None:
    """Every state the golden ledgers hold, read and written again, is the same
    bytes, and orjson (not the fallback) wrote it: events hold only plain JSON
    and times, so the fast path is the path the ledger takes."""
    db = sqlite3.connect(GOLDEN / golden / "ledger.sqlite")
    states = [row[0] for row in db.execute("SELECT state FROM stored_events")]
    db.close()
    assert len(states) > 50
    orjson_only = registered(StateTranscoder())
    orjson_only.encoder = None  # type: ignore[assignment]  # the json module's path now fails
    for state in states:
        assert orjson_only.encode(OURS.decode(state)) == state


def test_written_states_hold_no_more_memory_than_their_bytes() -> None:
    """orjson's bytes object keeps the buffer it was written into, several times
    its length: a replay holding 50,000 states took 300 MiB more until the bytes
    were copied to their size."""
    db = sqlite3.connect(GOLDEN / "golden" / "ledger.sqlite")
    states = [OURS.decode(row[0]) for row in db.execute("SELECT state FROM stored_events")]
    db.close()
    tracemalloc.start()
    try:
        written = [OURS.encode(state) for state in states * 20]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    length = sum(len(b) for b in written)
    assert held < 1.5 * length, (held, length)
