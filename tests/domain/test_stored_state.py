"""Reading stored states without eventsourcing: the one reader agrees with the mapper."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoder

from domain.stored_state import decode_state, state_field, state_object, time_text

AT = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)


def stored(**fields: object) -> bytes:
    """A state as the ledger's transcoder writes it."""
    transcoder: Transcoder = Application().construct_transcoder()
    assert isinstance(transcoder, JSONTranscoder)
    return transcoder.encode(fields)


def test_times_decode_to_what_the_transcoder_encoded() -> None:
    state = stored(timestamp=AT, envelope={"payload": "e30="}, status="03")
    assert decode_state(state)["timestamp"] == AT
    assert time_text(state_object(state)["timestamp"]) == AT.isoformat()
    assert state_field(state, "envelope") == {"payload": "e30="}


def test_an_unknown_encoded_type_is_refused() -> None:
    state = json.dumps({"timestamp": {"_type_": "decimal_str", "_data_": "1"},
                        "envelope": {}}).encode()
    with pytest.raises(ValueError, match="unknown encoded value type"):
        decode_state(state)
    with pytest.raises(ValueError, match="not an encoded time"):
        time_text(state_object(state)["timestamp"])


def test_a_state_without_offset_or_envelope_is_refused() -> None:
    naive = stored(timestamp=datetime(2026, 11, 27, 10, 0), envelope={})
    with pytest.raises(ValueError, match="no UTC offset"):
        decode_state(naive)
    with pytest.raises(ValueError, match="no envelope"):
        decode_state(stored(timestamp=AT))


def test_a_state_that_is_not_an_object() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        state_object(b"[1]")
    assert state_field(b"[1]", "envelope") is None


