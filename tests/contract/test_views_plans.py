"""A rebuild fills tables that lack the readers' indexes (they are built after
the fill). Every statement the handlers issue must still find its rows by an
index there: a statement that reads a whole table costs time in proportion to
it, and a rebuild of a million events slows to a crawl (measured: 6,193
instead of 16,104 events/s at a million events, with the outgoing register read
whole once per sent document)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infrastructure.views.handlers import ops_for
from infrastructure.views.schema import INDEXES, TABLES
from infrastructure.views.store import ViewStore
from tests.factories import World
from tests.views_support import scripted_exchange


def whole_table_reads(store: ViewStore, sql: str, params: tuple[Any, ...]) -> list[str]:
    """The view tables the database's plan for ``sql`` reads whole: scanned, or
    walked through an index with no condition on its leading column. On
    PostgreSQL sequential scans are priced out, so one shows only where no index
    can serve (tiny test tables would otherwise be scanned anyway)."""
    with store.transaction(commit=False) as c:
        if store.postgres:
            c.execute("SET LOCAL enable_seqscan = off")
            c.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            root = next(iter(c.fetchone().values()))[0]["Plan"]
            leading = leading_columns(store.suffix)
            return [f"{node['Node Type']} {node.get('Index Name') or node['Relation Name']}"
                    for node in _nodes(root)
                    if (node["Node Type"] == "Seq Scan"
                        and node["Relation Name"].startswith("v_"))
                    or ("Index Name" in node and f"({leading.get(node['Index Name'])} ="
                        not in node.get("Index Cond", ""))]
        c.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row["detail"] for row in c.fetchall() if row["detail"].startswith("SCAN v_")]


def leading_columns(suffix: str) -> dict[str, str]:
    """Index name -> its first column, for the view tables under ``suffix``."""
    found = {f"{table}{suffix}_pkey": key[0] for table, (_, key) in TABLES.items()}
    found.update({f"{table}{suffix}_{name}": columns.split(",")[0].split()[0]
                  for table, indexes in INDEXES.items() for name, columns in indexes})
    return found


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_every_view_statement_finds_its_rows_by_index_while_a_rebuild_fills(
        world: World) -> None:
    scripted_exchange(world)
    shadow = ViewStore(world.app, "__plans", indexes=False)
    try:
        templates: dict[str, tuple[Any, ...]] = {}
        topics: set[str] = set()
        for n in world.app.recorder.select_notifications(1, 10_000):
            for template, params in ops_for(n):
                templates.setdefault(template, params)
                topics.add(n.topic)
        assert len(topics) >= 14 and len(templates) >= 15  # every kind of view change
        for template, params in templates.items():
            reads = whole_table_reads(shadow, shadow.sql(template), params)
            assert not reads, f"{template}\n  reads whole: {reads}"
    finally:
        shadow.drop()
