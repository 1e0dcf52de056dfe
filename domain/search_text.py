"""How text is folded for search, the same on every backend.

A clerk types without diacritics ("quyet dinh", "dong son") and must find the
text with them ("Quyết định", "Đông Sơn"). Folding is done here, in Python, once
when a row is written and once for the query, so SQLite and PostgreSQL match the
very same words:

1. Unicode NFKD (compatibility decomposition: "ﬁ" → "fi", full-width "１" → "1",
   "ế" → "e" + two combining marks);
2. drop every combining mark (general category Mn, Mc, Me);
3. "đ" / "Đ" (and "Ð", U+00D0, often typed for "Đ") → "d": they are letters of
   their own, not "d" with a mark, so no decomposition maps them;
4. case fold (``str.casefold``);
5. words are the runs of letters and digits (``str.isalnum``); everything else
   separates them.
"""

from __future__ import annotations

import re
import unicodedata

_MARKS = frozenset({"Mn", "Mc", "Me"})
_OWN_LETTERS = str.maketrans({"đ": "d", "Đ": "d", "Ð": "d", "ð": "d"})
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """``text`` without diacritics, ``đ`` as ``d``, case folded."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_OWN_LETTERS))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _MARKS)
    return bare.casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


def word_text(text: str) -> str:
    """The folded words, each with a space on both sides (``" quyet dinh "``): a
    word matches as ``LIKE '% quyet %'`` exactly where a full-text index would
    match the token, so both backends find the same rows."""
    found = words(text)
    return f" {' '.join(found)} " if found else " "


def word_key(text: str) -> str:
    """The folded words joined by one space: what a reference is compared by
    (``"12/QĐ-UBND"`` and ``"12 qd ubnd"`` have the same key)."""
    return " ".join(words(text))


def party_word(agency: str) -> str:
    """One word naming an agency (``p`` + the hex of its code's UTF-8 bytes),
    indexed with a row's words so the full-text index finds the agency's rows
    and the words together; no folded word of a text can look like it by chance
    (a text holding it matches only that agency's rows anyway)."""
    return "p" + agency.encode().hex()
