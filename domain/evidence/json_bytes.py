"""Compact JSON bytes written by orjson wherever it writes what Python's json module
writes, which is where the ledger's signed and hashed bytes come from.

With separators ``,`` and ``:`` and ``ensure_ascii=False``, the json module and
orjson write the same bytes for text, integers of up to 64 bits, booleans, null,
and objects with text keys and arrays of those (keys sorted alike: by code point,
which for UTF-8 is byte order). They differ on some floats, on integers past 64
bits (orjson refuses them), on values of other types (UUIDs, dates, subclasses of
the plain types), and orjson stops at a depth the json module goes past. So a
value holding any of these is written by the json module, never by orjson.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

# a datetime goes to ``default`` (or is refused) as with the json module
_PASS_TIMES = orjson.OPT_PASSTHROUGH_DATETIME
_SCALARS = frozenset({str, int, bool, type(None), datetime})
# deeper than anything the ledger writes: past it the json module decides
_MAX_DEPTH = 32


def plain(obj: Any, depth: int = 0) -> bool:
    """Whether orjson writes ``obj`` as the json module does: only plain JSON
    values of their exact types (no float) and datetimes (which both hand to
    ``default``), to a bounded depth."""
    kind = type(obj)
    if kind in _SCALARS:
        return True
    if depth > _MAX_DEPTH:
        return False
    if kind is dict:
        values = obj.values()
    elif kind is list or kind is tuple:
        values = obj
    else:
        return False
    # a loop, not all() over a generator: this runs for every event a command writes
    for value in values:
        if type(value) not in _SCALARS and not plain(value, depth + 1):
            return False
    return True


def orjson_bytes(obj: Any, *, default: Callable[[Any], Any] | None = None,
                 option: int = 0) -> bytes | None:
    """orjson's bytes for ``obj`` where they are the json module's (times go to
    ``default``), else None: the json module must write it."""
    if not plain(obj):
        return None
    try:
        written = orjson.dumps(obj, default=default, option=_PASS_TIMES | option)
    except orjson.JSONEncodeError:
        return None  # the json module writes it, or raises its own error
    # orjson's bytes object keeps the buffer it was written into, several times
    # its length: an audit's replay holding 50,000 states grew by 300 MiB. Copied
    # to its size (0.6 µs).
    return memoryview(written).tobytes()


def compact(obj: Any, *, sort_keys: bool = False) -> bytes:
    """``json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"),
    ensure_ascii=False).encode()``, by orjson where that gives the same bytes."""
    written = orjson_bytes(obj, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    if written is not None:
        return written
    return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"),
                      ensure_ascii=False).encode()
