"""Search across the documents an agency is party to (docs/search.md).

The query text is folded and cut into words in Python (domain/search_text.py);
only those words, each quoted, ever reach FTS5 (SQLite) or a LIKE pattern
(PostgreSQL): FTS5 operators, quotes, column filters and LIKE wildcards in the
text are separators, never syntax. A text that is a date (``12/11/2026``,
``2026-11-12``) finds documents promulgated or sent that day.

Order: the documents whose reference is exactly the text come first, then the
others, each part most recent first (the notification that made the agency a
party). A cursor is that order's position: (part, seq).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.errors import InvalidInputError
from domain.search_text import party_word, word_key, words
from infrastructure.views.search_index import PG_VECTOR
from infrastructure.views.store import ViewStore

MAX_TEXT = 200
MAX_WORDS = 16
MAX_LIMIT = 200
EXACT, OTHERS = 0, 1
NARROW = 20_000  # rows in a date range read through the date index, then sorted
WALK = 2_000  # PostgreSQL: the agency's newest rows read before asking the word index
START = 2**62  # above every seq: the first row of a part
COLUMNS = ("s.seq, s.document_id, s.role, s.sender, s.sender_name, s.reference, s.subject, "
           "s.type_name, s.promulgated_on, s.sent_on")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True, kw_only=True)
class SearchQuery:
    agency: str
    text: str = ""
    start: date | None = None  # promulgated on or after
    end: date | None = None  # promulgated on or before
    limit: int = 50
    after: tuple[int, int] = (EXACT, START)  # the cursor: (part, seq) of the last row shown


@dataclass(frozen=True)
class Terms:
    """What a query text asks for: words, or a day."""

    words: tuple[str, ...]
    key: str
    day: str | None


def terms(text: str) -> Terms:
    """Parse the text; raises InvalidInputError when it is too long to search."""
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"q: at most {MAX_TEXT} characters")
    day = as_day(text.strip())
    if day is not None:
        return Terms((), "", day)
    found = tuple(dict.fromkeys(words(text)))  # each word once, in order
    if len(found) > MAX_WORDS:
        raise InvalidInputError(f"q: at most {MAX_WORDS} words")
    return Terms(found, word_key(text), None)


def as_day(text: str) -> str | None:
    """``text`` as an ISO date if it is one (d/m/yyyy, as Vietnam writes, or ISO)."""
    dmy = _DMY.fullmatch(text)
    try:
        if dmy is not None:
            return date(int(dmy[3]), int(dmy[2]), int(dmy[1])).isoformat()
        return date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None


def search(views: ViewStore, q: SearchQuery) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """One page of matches and the cursor of the next page (None: the last)."""
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit: 1–{MAX_LIMIT}")
    t = terms(q.text)
    if not t.words and t.day is None and q.start is None and q.end is None:
        return [], None  # nothing to look for is not everything
    part, after = q.after
    rows: list[dict[str, Any]] = []
    if part == EXACT and t.key:
        rows = _exact(views, q, t, after, q.limit + 1)
        for row in rows:
            row["exact"] = True
        part, after = OTHERS, START
    if len(rows) <= q.limit:
        more = _others(views, q, t, after, q.limit + 1 - len(rows))
        for row in more:
            row["exact"] = False
        rows += more
    if len(rows) <= q.limit:
        return rows, None
    last = rows[q.limit - 1]
    return rows[:q.limit], ((EXACT if last["exact"] else OTHERS), last["seq"])


def _filters(q: SearchQuery, t: Terms) -> tuple[str, list[Any]]:
    sql, params = "", []
    if q.start is not None:
        sql += " AND s.promulgated_on >= %s"
        params.append(q.start.isoformat())
    if q.end is not None:
        sql += " AND s.promulgated_on <= %s"
        params.append(q.end.isoformat())
    return sql, params


def _dated(q: SearchQuery, t: Terms) -> tuple[str, list[Any]]:
    """The agency's rows of the day or the range asked for, through the date
    indexes (a subquery of seqs: each backend plans it the same way, statistics
    or not)."""
    if t.day is not None:
        return ("SELECT seq FROM {t:v_search} WHERE agency = %s AND promulgated_on = %s "
                "UNION ALL SELECT seq FROM {t:v_search} WHERE agency = %s AND sent_on = %s",
                [q.agency, t.day, q.agency, t.day])
    return ("SELECT seq FROM {t:v_search} WHERE agency = %s AND promulgated_on >= %s "
            "AND promulgated_on <= %s",
            [q.agency, (q.start or date.min).isoformat(), (q.end or date.max).isoformat()])


def _exact(views: ViewStore, q: SearchQuery, t: Terms, after: int,
           limit: int) -> list[dict[str, Any]]:
    extra, params = _filters(q, t)
    return views.query(
        f"SELECT {COLUMNS} FROM {{t:v_search}} s WHERE s.agency = %s AND s.reference_key = %s "
        f"AND s.seq < %s{extra} ORDER BY s.seq DESC LIMIT %s",
        [q.agency, t.key, after, *params, limit])


def _others(views: ViewStore, q: SearchQuery, t: Terms, after: int,
            limit: int) -> list[dict[str, Any]]:
    extra, params = _filters(q, t)
    if t.key:  # those were listed first
        extra += " AND s.reference_key <> %s"
        params.append(t.key)
    likes = "".join(" AND s.words LIKE %s" for _ in t.words)
    patterns = [f"% {w} %" for w in t.words]
    if _narrow(views, q, t):  # few rows in the dates: read those, then sort them
        dated, dated_params = _dated(q, t)
        return views.query(
            f"SELECT {COLUMNS} FROM {{t:v_search}} s WHERE s.seq IN ({dated}){likes} "
            f"AND s.seq < %s{extra} ORDER BY s.seq DESC LIMIT %s",
            [*dated_params, *patterns, after, *params, limit])
    if views.postgres and t.words:
        return _postgres_words(views, q, t, after, limit, (likes, patterns), (extra, params))
    if not t.words:
        return views.query(
            f"SELECT {COLUMNS} FROM {{t:v_search}} s WHERE s.agency = %s "
            f"AND s.seq < %s{extra} ORDER BY s.seq DESC LIMIT %s",
            [q.agency, after, *params, limit])
    fts = f"v_search_fts{views.suffix}"  # SQLite: no schema prefix
    return views.query(
        f"SELECT {COLUMNS} FROM {fts} JOIN {{t:v_search}} s ON s.seq = {fts}.rowid "
        f"WHERE {fts} MATCH %s AND {fts}.rowid < %s{extra} ORDER BY {fts}.rowid DESC LIMIT %s",
        [fts_query(q.agency, t.words), after, *params, limit])


def _postgres_words(views: ViewStore, q: SearchQuery, t: Terms, after: int, limit: int,
                    words_sql: tuple[str, list[str]],
                    rest: tuple[str, list[Any]]) -> list[dict[str, Any]]:
    """Words on PostgreSQL: first the agency's newest rows (``WALK`` of them), their
    words matched here as LIKE would (``" word "`` inside): words most documents
    hold fill the page there. If they do not and the agency has more rows, the
    full-text index names the few rows holding the agency's word and every word;
    there ``LIKE`` decides, as on SQLite."""
    likes, patterns = words_sql
    extra, params = rest
    needles = [f" {w} " for w in t.words]
    for size in sorted({min(WALK, 5 * limit), WALK}):  # a short walk fills most pages
        # (agency, seq) < (…): only the (agency, seq) index serves that; given
        # "seq < …" the planner walks the primary key, filtering out every other
        # agency's rows (11 of 12 for the busiest)
        walked = views.query(
            f"SELECT s.seq, s.words FROM {{t:v_search}} s WHERE s.agency = %s AND "
            f"(s.agency, s.seq) < (%s, %s){extra} ORDER BY s.agency DESC, s.seq DESC LIMIT %s",
            [q.agency, q.agency, after, *params, size])
        hits = [r["seq"] for r in walked if all(n in r["words"] for n in needles)][:limit]
        if len(hits) >= limit or len(walked) < size:
            if not hits:
                return []
            return views.query(
                f"SELECT {COLUMNS} FROM {{t:v_search}} s WHERE s.seq IN "
                f"({', '.join(['%s'] * len(hits))}) ORDER BY s.seq DESC", hits)
    # MATERIALIZED: the rows the index names, fetched by key; left to itself the
    # planner may walk the agency's rows computing every row's vector
    wanted = " ".join((party_word(q.agency), *t.words))
    return views.query(
        f"WITH m AS MATERIALIZED (SELECT seq FROM {{t:v_search}} WHERE "
        f"{PG_VECTOR.format(s='')} @@ plainto_tsquery('simple'::regconfig, %s)) "
        f"SELECT {COLUMNS} FROM m JOIN {{t:v_search}} s ON s.seq = m.seq WHERE s.agency = %s"
        f"{likes} AND s.seq < %s{extra} ORDER BY s.seq DESC LIMIT %s",
        [wanted, q.agency, *patterns, after, *params, limit])


def _narrow(views: ViewStore, q: SearchQuery, t: Terms) -> bool:
    """Whether the dates asked for hold few of the agency's rows (a day always
    does): then reading those beats walking the agency's rows newest first."""
    if t.day is not None:
        return True
    if q.start is None and q.end is None:
        return False
    found = views.query(
        "SELECT count(*) AS n FROM (SELECT 1 FROM {t:v_search} WHERE agency = %s AND "
        "promulgated_on >= %s AND promulgated_on <= %s LIMIT %s) AS r",
        [q.agency, (q.start or date.min).isoformat(), (q.end or date.max).isoformat(),
         NARROW + 1])
    return int(found[0]["n"]) <= NARROW


def fts_query(agency: str, found: tuple[str, ...]) -> str:
    """An FTS5 query of plain terms only: the agency's party token and every
    word, each a quoted string (a quote inside is doubled; words have none)."""
    quoted = " AND ".join('"' + w.replace('"', '""') + '"' for w in found)
    return f'party : "{party_word(agency)}" AND words : ({quoted})'
