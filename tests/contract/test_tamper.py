"""Tampering with the stored events table is caught by the audit.

Each test builds a small history through the ledger, then edits the events
table directly (SQLite file or PostgreSQL schema) and requires
``run_audit`` to raise AuditFailure, naming the tampered position where that
is well defined. The audit itself must never change a stored row.

Every attack is audited twice: in one pass, and cut into three ranges replayed
separately (as the parallel audit does on every core), where the ranges' seams
must not let anything through.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from domain.errors import AuditFailure
from domain.evidence.envelope import STATEMENT_TYPE
from infrastructure.ledger import open_log, run_audit, trust_anchors
from tests.conftest import PG
from tests.factories import OTHER, RECIPIENT, World

Row = tuple[int, str, int, str, bytes]  # notification id, originator id, version, topic, state


@dataclass
class Store:
    """Direct access to the ledger's events table, bypassing the application."""

    world: World
    ranges: int = 1  # how many ranges the audit cuts the log into

    @property
    def postgres(self) -> bool:
        return self.world.settings.backend == "postgres"

    def _table(self, conn: Any) -> str:
        schema = self.world.settings.pg_schema
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,)).fetchall()]
        events = [n for n in names if n.endswith("_events") or n == "stored_events"]
        assert len(events) == 1, names
        return f'"{schema}"."{events[0]}"'

    def rows(self) -> list[Row]:
        if self.postgres:
            with psycopg.connect(**PG) as conn:
                found = conn.execute(
                    "SELECT notification_id, originator_id, originator_version, topic, state "
                    f"FROM {self._table(conn)} ORDER BY notification_id").fetchall()
        else:
            conn = sqlite3.connect(self.world.settings.data / "ledger.sqlite")
            try:
                found = conn.execute(
                    "SELECT rowid, originator_id, originator_version, topic, state "
                    "FROM stored_events ORDER BY rowid").fetchall()
            finally:
                conn.close()
        return [(int(i), str(o), int(v), str(t), bytes(s)) for i, o, v, t, s in found]

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Run statements in one transaction; ``{t}`` is the table, ``{id}`` the id column;
        placeholders are written ``?``."""
        if self.postgres:
            with psycopg.connect(**PG) as conn:
                table = self._table(conn)
                for sql, params in statements:
                    conn.execute(sql.format(t=table, id="notification_id").replace("?", "%s"),
                                 params)
        else:
            conn = sqlite3.connect(self.world.settings.data / "ledger.sqlite")
            try:
                with conn:
                    for sql, params in statements:
                        conn.execute(sql.format(t="stored_events", id="rowid"), params)
            finally:
                conn.close()

    def prefix(self) -> str:
        """How the Merkle log's tables are qualified in raw SQL."""
        return f'"{self.world.settings.pg_schema}".' if self.postgres else ""

    def set_state(self, nid: int, state: bytes) -> None:
        self.run(("UPDATE {t} SET state = ? WHERE {id} = ?", (state, nid)))

    def set_topic(self, nid: int, topic: str) -> None:
        self.run(("UPDATE {t} SET topic = ? WHERE {id} = ?", (topic, nid)))

    def delete(self, nid: int) -> None:
        self.run(("DELETE FROM {t} WHERE {id} = ?", (nid,)))

    def insert(self, originator_id: str, version: int, topic: str, state: bytes) -> None:
        self.run(("INSERT INTO {t} (originator_id, originator_version, topic, state) "
                  "VALUES (?, ?, ?, ?)", (originator_id, version, topic, state)))


# ---- fixtures and helpers ------------------------------------------------------


@pytest.fixture(params=[1, 3], ids=["one-pass", "three-ranges"])
def history(world: World, request: pytest.FixtureRequest) -> Iterator[Store]:
    """Several documents sent, accepted, handled and completed; the audit passes."""
    a = world.sent(recipients=(RECIPIENT, OTHER))
    b = world.sent()
    c = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": a})
    world.act(OTHER, "delivery.accept", {"document": a})
    world.act(RECIPIENT, "delivery.assign", {"document": a, "lead_unit": "Phòng Tư pháp",
                                             "officer": "Lê Văn D"})
    world.act(RECIPIENT, "delivery.progress", {"document": a, "note": "đang xử lý"})
    world.act(RECIPIENT, "delivery.accept", {"document": b})
    world.act(RECIPIENT, "delivery.refuse", {"document": c, "reason": "không thuộc thẩm quyền"})
    world.act(RECIPIENT, "delivery.complete", {"document": a, "note": "đã xong"})
    assert open_log(world.settings, world.app).issue_checkpoint(force=True) is not None
    store = Store(world, ranges=request.param)
    report = audit_unchanged(store)
    assert report.events == len(store.rows()) == world.event_count()
    yield store


def audit(store: Store) -> Any:
    registrar_key, ledger_key = trust_anchors(store.world.settings)
    return run_audit(store.world.app, registrar_key=registrar_key, ledger_key=ledger_key,
                     workers=1, ranges=store.ranges)


def audit_unchanged(store: Store) -> Any:
    """Run the audit and require that it changed no stored row."""
    before = store.rows()
    try:
        return audit(store)
    finally:
        assert store.rows() == before, "the audit modified the stored events"


def audit_fails(store: Store) -> AuditFailure:
    with pytest.raises(AuditFailure) as info:
        audit_unchanged(store)
    return info.value


RECORD = "domain.command_log:CommandRecord.Accepted"


def middle_event(store: Store, topic_suffix: str = "Delivery.Accepted") -> Row:
    """A domain event (not a command record) in the middle of the log."""
    rows = store.rows()
    candidates = [r for r in rows[len(rows) // 4: -2] if r[3].endswith(topic_suffix)]
    assert candidates, [r[3] for r in rows]
    return candidates[0]


# ---- the attacks ---------------------------------------------------------------


def test_untampered_history_audits_and_audit_writes_nothing(history: Store) -> None:
    report = audit_unchanged(history)
    rows = history.rows()
    assert report.last_position == rows[-1][0]
    assert report.commands == sum(1 for r in rows if r[3] == RECORD)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_flip_one_byte_of_state(history: Store, where: str) -> None:
    nid, _, _, _, state = middle_event(history)
    offset = {"start": 1, "middle": len(state) // 2, "end": len(state) - 2}[where]
    tampered = bytearray(state)
    tampered[offset] ^= 0x01
    history.set_state(nid, bytes(tampered))
    assert audit_fails(history).position == nid


def test_edit_value_keeping_valid_json(history: Store) -> None:
    """A plausible forgery: a different incoming number, still well-formed."""
    nid, _, _, _, state = middle_event(history)
    assert b'"incoming_number":1' in state
    history.set_state(nid, state.replace(b'"incoming_number":1', b'"incoming_number":7'))
    assert audit_fails(history).position == nid


def test_ledger_statement_rewritten_with_a_type_that_is_not_text(history: Store) -> None:
    """A stored ledger statement (not a command record) whose payload now names its
    type as a list: the replay reads every statement of a group by type before it
    checks any signature, and must fail the audit there, not stop on the value."""
    rows = history.rows()
    target = None
    for nid, _, _, topic, state in rows:
        doc = json.loads(state)
        if topic != RECORD and doc["envelope"]["payloadType"] == STATEMENT_TYPE:
            target = nid, doc
            break
    assert target is not None, "the history holds no ledger statement besides records"
    nid, doc = target
    statement = json.loads(base64.b64decode(doc["envelope"]["payload"]))
    statement["type"] = [statement["type"]]
    doc["envelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    history.set_state(nid, json.dumps(doc, separators=(",", ":"),
                                      ensure_ascii=False).encode())
    failure = audit_fails(history)
    assert failure.position is not None and failure.position <= nid


def test_flip_one_byte_of_command_record(history: Store) -> None:
    rows = history.rows()
    nid, _, _, _, state = [r for r in rows[len(rows) // 2:] if r[3] == RECORD][0]
    tampered = bytearray(state)
    tampered[len(state) // 2] ^= 0x01
    history.set_state(nid, bytes(tampered))
    assert audit_fails(history).position == nid


def test_change_topic(history: Store) -> None:
    nid = middle_event(history)[0]
    history.set_topic(nid, "domain.delivery:Delivery.Refused")
    assert audit_fails(history).position == nid


def test_change_topic_to_unknown_class(history: Store) -> None:
    nid = middle_event(history)[0]
    history.set_topic(nid, "domain.delivery:Delivery.Nonexistent")
    assert audit_fails(history).position == nid


def test_delete_event(history: Store) -> None:
    nid = middle_event(history)[0]
    history.delete(nid)
    failure = audit_fails(history)
    assert failure.position is not None and failure.position >= nid - 3


def test_delete_command_record(history: Store) -> None:
    rows = history.rows()
    nid = [r for r in rows[len(rows) // 2:] if r[3] == RECORD][0][0]
    history.delete(nid)
    audit_fails(history)


def test_swap_originator_versions(history: Store) -> None:
    rows = history.rows()
    # two events of one aggregate: the first document's Signed (v2) and Issued (v3)
    signed = next(r for r in rows if r[3].endswith("Document.Signed"))
    issued = next(r for r in rows if r[1] == signed[1] and r[2] == signed[2] + 1)
    history.run(
        ("UPDATE {t} SET originator_version = ? WHERE originator_id = ? "
         "AND originator_version = ?", (-1, signed[1], signed[2])),
        ("UPDATE {t} SET originator_version = ? WHERE originator_id = ? "
         "AND originator_version = ?", (signed[2], issued[1], issued[2])),
        ("UPDATE {t} SET originator_version = ? WHERE originator_id = ? "
         "AND originator_version = ?", (issued[2], signed[1], -1)),
    )
    after = {r[0]: r[2] for r in history.rows()}
    assert after[signed[0]] == issued[2] and after[issued[0]] == signed[2]
    assert audit_fails(history).position == signed[0]


def test_insert_forged_event(history: Store) -> None:
    rows = history.rows()
    last = rows[-1]
    history.insert(last[1], last[2] + 1, last[3], last[4])
    forged = history.rows()[-1]
    assert forged[0] > last[0] and forged[2] == last[2] + 1
    assert audit_fails(history).position == forged[0]


def test_insert_replayed_command_group(history: Store) -> None:
    """Copies of a whole group (command record and its event) appended at the end."""
    rows = history.rows()
    head = max(i for i, r in enumerate(rows) if r[3] == RECORD)
    group = rows[head:]
    for r in group:
        version = max(x[2] for x in history.rows() if x[1] == r[1]) + 1
        history.insert(r[1], version, r[3], r[4])
    audit_fails(history)


def test_truncate_tail(history: Store) -> None:
    rows = history.rows()
    history.delete(rows[-1][0])
    failure = audit_fails(history)
    assert failure.position is not None and failure.position < rows[-1][0]


def test_truncate_tail_inside_a_multi_event_group(history: Store) -> None:
    rows = history.rows()
    # the history's last multi-event group: find any group of 3+ rows and cut after its 2nd
    heads = [i for i, r in enumerate(rows) if r[3] == RECORD] + [len(rows)]
    start, end = next((s, e) for s, e in zip(heads, heads[1:], strict=False) if e - s >= 3)
    history.run(("DELETE FROM {t} WHERE {id} >= ?", (rows[start + 2][0],)))
    failure = audit_fails(history)
    assert failure.position == rows[start + 1][0]


# ---- whole commands removed or moved: the replay alone cannot see these, the ------
# ---- Merkle log and its signed checkpoint do ---------------------------------------


def _groups(rows: list[Row]) -> list[list[Row]]:
    heads = [i for i, r in enumerate(rows) if r[3] == RECORD] + [len(rows)]
    return [rows[s:e] for s, e in zip(heads, heads[1:], strict=False)]


def test_delete_whole_command_group_from_middle(history: Store) -> None:
    refused = next(g for g in _groups(history.rows()) if g[1][3].endswith("Delivery.Refused"))
    assert refused[-1][0] < history.rows()[-1][0]  # later commands follow it
    for r in refused:
        history.delete(r[0])
    audit_fails(history)


def test_truncate_whole_last_command_group(history: Store) -> None:
    for r in _groups(history.rows())[-1]:
        history.delete(r[0])
    audit_fails(history)


def test_move_whole_command_group_to_the_end(history: Store) -> None:
    refused = next(g for g in _groups(history.rows()) if g[1][3].endswith("Delivery.Refused"))
    for r in refused:
        history.delete(r[0])
    for r in refused:
        history.insert(r[1], r[2], r[3], r[4])
    assert history.rows()[-1][3].endswith("Delivery.Refused")
    audit_fails(history)


def test_delete_group_and_rebuild_the_merkle_tables(history: Store) -> None:
    """The attacker also rewrites the leaves and nodes to match: the signed root still
    exposes it."""
    refused = next(g for g in _groups(history.rows()) if g[1][3].endswith("Delivery.Refused"))
    for r in refused:
        history.delete(r[0])
    history.run(("DELETE FROM " + history.prefix() + "ledger_leaves", ()),
                ("DELETE FROM " + history.prefix() + "ledger_nodes", ()))
    history.world.sent()  # the ledger goes on; the tree grows past the checkpoint
    log = open_log(history.world.settings, history.world.app)
    assert log.catch_up() == len(history.rows())
    assert "not the one its signed checkpoint signs" in str(audit_fails(history))


def test_delete_stored_checkpoints_then_truncate(history: Store) -> None:
    """With the ledger's own checkpoints gone, the auditor's saved one still holds."""
    saved = open_log(history.world.settings, history.world.app).store.latest_checkpoint()
    assert saved is not None
    history.run(("DELETE FROM " + history.prefix() + "ledger_checkpoints", ()))
    for r in _groups(history.rows())[-1]:
        history.delete(r[0])
    history.run(("DELETE FROM " + history.prefix() + "ledger_leaves WHERE notification_id > ?",
                 (history.rows()[-1][0],)))
    registrar_key, ledger_key = trust_anchors(history.world.settings)
    audit(history)
    with pytest.raises(AuditFailure, match="events were removed"):
        run_audit(history.world.app, registrar_key=registrar_key, ledger_key=ledger_key,
                  trusted_checkpoints=[saved.note], workers=1, ranges=history.ranges)
