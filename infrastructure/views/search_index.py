"""The full-text index over ``v_search`` (``party``: one word naming the agency,
``words``: the text folded in Python, see domain/search_text.py), one per
backend, kept beside the view tables.

- SQLite: an FTS5 table ``v_search_fts (party, words)``, row id = ``v_search.seq``,
  kept in step by triggers on ``v_search``. The tokenizer is ``unicode61
  remove_diacritics 0``: the text is already folded, it only splits on spaces.
- PostgreSQL: a GIN index on ``to_tsvector('simple', party || words)`` (built in:
  no extension). It narrows the rows; ``words LIKE '% word %'`` decides, exactly as
  on SQLite (infrastructure/views/search.py).

Like the readers' B-tree indexes, a rebuild makes it after filling the tables;
a check's shadow has none (only its rows are compared).
"""

from __future__ import annotations

from typing import Any

TOKENIZER = "unicode61 remove_diacritics 0"
# the indexed expression; a query must name it the same way to use the index
PG_VECTOR = "to_tsvector('simple'::regconfig, {s}party || {s}words)"


def _triggers(suffix: str) -> list[str]:
    table, fts = f"v_search{suffix}", f"v_search_fts{suffix}"
    insert = f"INSERT INTO {fts} (rowid, party, words) VALUES (new.seq, new.party, new.words);"
    delete = f"DELETE FROM {fts} WHERE rowid = old.seq;"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_fts_insert AFTER INSERT ON {table} "
        f"BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_fts_delete AFTER DELETE ON {table} "
        f"BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_fts_update AFTER UPDATE OF words ON {table} "
        f"BEGIN {delete} {insert} END",
    ]


def _drop_triggers(suffix: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS v_search{suffix}_fts_{what}"
            for what in ("insert", "delete", "update")]


def create(c: Any, prefix: str, suffix: str, postgres: bool) -> None:
    """Make the index for these tables and fill it from the rows already there."""
    if postgres:
        c.execute(f"CREATE INDEX IF NOT EXISTS v_search{suffix}_words ON "
                  f"{prefix}v_search{suffix} USING gin ({PG_VECTOR.format(s='')})")
        return
    c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"v_search_fts{suffix}",))
    if c.fetchone() is None:
        c.execute(f"CREATE VIRTUAL TABLE v_search_fts{suffix} USING fts5 "
                  f"(party, words, tokenize = '{TOKENIZER}')")
        c.execute(f"INSERT INTO v_search_fts{suffix} (rowid, party, words) "
                  f"SELECT seq, party, words FROM v_search{suffix}")
    for statement in _triggers(suffix):
        c.execute(statement)


def drop(c: Any, suffix: str, postgres: bool) -> None:
    """Drop the index of these tables (PostgreSQL's goes with its table)."""
    if not postgres:
        for statement in _drop_triggers(suffix):
            c.execute(statement)
        c.execute(f"DROP TABLE IF EXISTS v_search_fts{suffix}")


def swap(c: Any, prefix: str, suffix: str, postgres: bool, *, before: bool) -> None:
    """Make a shadow's index the live one: ``before`` the tables are renamed,
    drop the live index and the shadow's triggers (they name the shadow's
    tables); after, rename the index and make the live triggers."""
    if postgres:
        if not before:
            c.execute(f"ALTER INDEX IF EXISTS {prefix}v_search{suffix}_words "
                      "RENAME TO v_search_words")
        return
    if before:
        drop(c, "", postgres)
        for statement in _drop_triggers(suffix):
            c.execute(statement)
        return
    c.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"v_search_fts{suffix}",))
    if c.fetchone() is not None:
        c.execute(f"ALTER TABLE v_search_fts{suffix} RENAME TO v_search_fts")
        for statement in _triggers(""):
            c.execute(statement)
