"""The JSON of stored states, written and read by orjson, byte for byte as
eventsourcing's ``JSONTranscoder`` (Python's json module) writes and reads it.

Stored states are hashed into the Merkle log and the audit's replay compares
them byte for byte, so only the cost may change, never a byte. A state orjson
would write otherwise (domain/evidence/json_bytes.py) or refuses is written by
the json module; orjson reads integers past 64 bits as floats, so a state whose
reading gives a float is read again by the json module. Times, the one typed
value the ledger's events hold, are handed to the registered transcoding either
way.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

from domain.evidence.json_bytes import orjson_bytes


class _ReadAgain(Exception):
    """orjson read a value the json module reads otherwise (a float)."""


class StateTranscoder(JSONTranscoder):
    """``JSONTranscoder`` whose bytes orjson writes and reads where it gives the
    same result, and the json module everywhere else."""

    def encode(self, obj: Any) -> bytes:
        written = orjson_bytes(obj, default=self._encode_obj)
        return written if written is not None else super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._revive(orjson.loads(data))
        except (orjson.JSONDecodeError, _ReadAgain):
            return super().decode(data)

    def _revive(self, obj: Any) -> Any:
        """What the json module's ``object_hook`` makes of what orjson read:
        every object of exactly ``_type_`` and ``_data_`` decoded, innermost first."""
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                obj[key] = self._revive(value)
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._decode_obj(obj)
        elif kind is list:
            for i, value in enumerate(obj):
                obj[i] = self._revive(value)
        elif kind is float:
            raise _ReadAgain
        return obj
