"""Which characters a signed text may hold, and how a subject is shown safely.

Every string a command carries ends up in the log, the views and printed
registers. Control characters are refused at the edge: NUL cannot be stored in
PostgreSQL text (one such event would stop the views for good), and C0/C1
controls rewrite terminals and break CSV lines. Bidirectional overrides and
isolates are refused where a value identifies something (codes, ids,
notations, file names), because they make one string display as another
("gpj.exe" shown as "exe.jpg"); in free text they are allowed but shown as
visible escapes wherever the text is displayed.
"""

from __future__ import annotations

import re

# C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F)
_CONTROLS = "\x00-\x1f\x7f-\x9f"
# LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"

_CONTROL = re.compile(f"[{_CONTROLS}]")
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # tab, LF allowed
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_SHOWN_ESCAPED = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}]")


def text_problem(value: str, *, multiline: bool = False, code: bool = False) -> str | None:
    """Why ``value`` may not be signed into the ledger, or None if it may."""
    bad = (_CONTROL_BUT_LAYOUT if multiline else _CONTROL).search(value)
    if bad is not None:
        return f"control character {_name(bad.group())} at offset {bad.start()} is not allowed"
    if code:
        bad = _BIDI.search(value)
        if bad is not None:
            return (f"bidirectional control {_name(bad.group())} at offset {bad.start()} "
                    "is not allowed in a code, id or notation")
    return None


def display(value: str) -> str:
    """``value`` with bidi and control characters (tab and newline aside) shown
    as ``<U+XXXX>``: a subject cannot reorder the columns printed after it."""
    return _SHOWN_ESCAPED.sub(lambda m: _name(m.group()), value)


def _name(char: str) -> str:
    return f"<U+{ord(char):04X}>"
