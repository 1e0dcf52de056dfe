"""The stored form of an event's state, read without eventsourcing.

A stored state is UTF-8 JSON (eventsourcing's ``JSONTranscoder``): an object
holding the event's fields, its ``timestamp`` and its ``envelope``. A value the
JSON has no type for is an object of exactly two keys, ``{"_type_": <name>,
"_data_": <JSON>}``; times are the only such values the ledger stores, as
``{"_type_": "datetime_iso", "_data_": "<ISO 8601 with offset>"}``
(docs/bundle.md, "Decoding a state").

The views, the audit and the offline bundle verifier all read states here, so
the format is written down once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

ENCODED_KEYS = frozenset({"_type_", "_data_"})
DATETIME_ISO = "datetime_iso"


def state_object(state: bytes) -> dict[str, Any]:
    """The state as plain JSON, encoded values left encoded (cheap: what the
    views need); ValueError unless it is a JSON object."""
    decoded = json.loads(state)
    if not isinstance(decoded, dict):
        raise ValueError("the state is not a JSON object")
    return decoded


def state_field(state: bytes, name: str) -> Any:
    """One field of the state as plain JSON; None where the state is not a JSON
    object or has no such field. ValueError if it is not JSON at all."""
    decoded = json.loads(state)
    return decoded.get(name) if isinstance(decoded, dict) else None


def time_text(value: Any) -> str:
    """The ISO 8601 text of an encoded time, exactly as stored."""
    if (not isinstance(value, dict) or set(value) != ENCODED_KEYS
            or value["_type_"] != DATETIME_ISO or not isinstance(value["_data_"], str)):
        raise ValueError(f"not an encoded time: {value!r}")
    return value["_data_"]


def decode_state(state: bytes) -> dict[str, Any]:
    """The state with its times decoded, checked to have what every stored
    event has: a ``timestamp`` with a UTC offset and an ``envelope`` object."""
    decoded = json.loads(state.decode("utf-8"), object_hook=_decode_value)
    if not isinstance(decoded, dict):
        raise ValueError("the state is not a JSON object")
    if not isinstance(decoded.get("timestamp"), datetime):
        raise ValueError("the state has no datetime_iso timestamp")
    if decoded["timestamp"].tzinfo is None:
        raise ValueError("the state's timestamp has no UTC offset")
    if not isinstance(decoded.get("envelope"), dict):
        raise ValueError("the state has no envelope")
    return decoded


def _decode_value(obj: dict[str, Any]) -> Any:
    if set(obj) == ENCODED_KEYS:
        if obj["_type_"] == DATETIME_ISO and isinstance(obj["_data_"], str):
            return datetime.fromisoformat(obj["_data_"])
        raise ValueError(f"unknown encoded value type {obj['_type_']!r}")
    return obj
