"""The JSON of stored states, written and read by orjson, byte for byte as
eventsourcing's ``JSONTranscoder`` (Python's json module) writes and reads it.

Stored states are hashed into the Merkle log and the audit's replay compares
them byte for byte, so only the cost may change, never a byte. orjson writes
what Python's json writes (compact, UTF-8, non-ASCII as is, the same escapes)
for text, integers of up to 64 bits, booleans, null, objects with text keys and
arrays; it writes some floats and every value of another type its own way, and
reads integers past 64 bits as floats. A state holding anything else (a float,
a UUID, a subclass of a plain type, a key that is not text) is therefore
written by the json module, as is one orjson refuses (an integer past 64 bits,
text that is not UTF-8, nesting orjson does not follow); a state whose reading
gives a float is read again by the json module. Times, the one typed value the
ledger's events hold, are handed to the registered transcoding either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

# orjson writes times itself unless told to pass them to ``default``
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
# deeper than any state: past it the json module decides (and finds any cycle)
_MAX_DEPTH = 32


class _ReadAgain(Exception):
    """orjson read a value the json module reads otherwise (a float)."""


class StateTranscoder(JSONTranscoder):
    """``JSONTranscoder`` whose bytes orjson writes and reads where it gives the
    same result, and the json module everywhere else."""

    def encode(self, obj: Any) -> bytes:
        if _plain(obj, 0):
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)
            except orjson.JSONEncodeError:
                pass  # the json module writes it, or raises its own error
        return super().encode(obj)

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


def _plain(obj: Any, depth: int) -> bool:
    """Whether orjson writes ``obj`` as the json module does: only plain JSON
    values (exact types, no float) and times, to a bounded depth."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None or kind is datetime:
        return True
    if depth > _MAX_DEPTH:
        return False
    if kind is dict:
        return all(_plain(value, depth + 1) for value in obj.values())
    if kind is list or kind is tuple:
        return all(_plain(value, depth + 1) for value in obj)
    return False
