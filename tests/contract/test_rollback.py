"""Rollback, forks and a shrinking log, on both backends.

The ledger remembers the latest checkpoint it signed outside its database
(``keys/ledger.checkpoint``). Whatever then happens to the database — restored
to an earlier state, its Merkle tables emptied after events were removed, the
tail of its log deleted — the ledger must not sign a checkpoint that does not
extend one it signed, nor cover new events at positions its tree covered, and
the audit checks the remembered checkpoint by default.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from domain.errors import AuditFailure, ForkRefusedError, LogRollbackError
from infrastructure.ledger import (
    DataFolder,
    open_ledger,
    open_log,
    remembered_notes,
    run_audit,
    trust_anchors,
)
from infrastructure.transparency import LedgerLog
from tests.conftest import PG
from tests.factories import OTHER, RECIPIENT, ManualClock, World

MERKLE = ("ledger_leaves", "ledger_nodes", "ledger_checkpoints")


@dataclass
class Database:
    """The ledger's tables, read and written behind its back, on either backend."""

    world: World
    saved: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    @property
    def postgres(self) -> bool:
        return self.world.settings.backend == "postgres"

    def table(self, name: str) -> str:
        if not self.postgres:
            return "stored_events" if name == "events" else name
        schema = self.world.settings.pg_schema
        return f'"{schema}".' + ("docledger_events" if name == "events" else name)

    def columns(self, name: str) -> str:
        if name != "events":
            return "*"
        nid = "notification_id" if self.postgres else "rowid"
        return f"{nid}, originator_id, originator_version, topic, state"

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> list[Any]:
        """Statements in one transaction (placeholders ``?``); the last one's rows."""
        rows: list[Any] = []
        if self.postgres:
            with psycopg.connect(**PG) as conn:
                for sql, params in statements:
                    cur = conn.execute(sql.replace("?", "%s"), params)
                    rows = cur.fetchall() if cur.description else []
            return rows
        conn = sqlite3.connect(self.world.settings.data / "ledger.sqlite")
        try:
            with conn:
                for sql, params in statements:
                    rows = conn.execute(sql, params).fetchall()
        finally:
            conn.close()
        return rows

    def back_up(self) -> None:
        for name in ("events", *MERKLE):
            self.saved[name] = self.run(
                (f"SELECT {self.columns(name)} FROM {self.table(name)}", ()))

    def restore(self) -> None:
        """Put every table back as it was at ``back_up``, as restoring a backup would
        (on PostgreSQL the id sequence too), and reopen the ledger on it."""
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (f"DELETE FROM {self.table(name)}", ()) for name in self.saved]
        for name, rows in self.saved.items():  # the events before the leaves covering them
            cols = self.columns(name)
            for row in rows:
                marks = ", ".join("?" * len(row))
                into = "" if cols == "*" else f" ({cols})"
                statements.append((f"INSERT INTO {self.table(name)}{into} VALUES ({marks})",
                                   tuple(row)))
        if self.postgres:
            last = max((int(r[0]) for r in self.saved["events"]), default=1)
            statements.append(("SELECT setval(pg_get_serial_sequence(?, 'notification_id'), ?)",
                               (self.table("events"), last)))
        self.run(*statements)
        self.reopen()

    def reopen(self) -> None:
        """A restarted ledger process: nothing cached from before."""
        self.world.app.close()
        self.world.app = open_ledger(self.world.settings, clock=ManualClock())

    def events(self) -> list[tuple[Any, ...]]:
        return self.run((f"SELECT {self.columns('events')} FROM {self.table('events')} "
                         "ORDER BY 1", ()))

    def checkpoint_sizes(self) -> list[int]:
        return [int(r[0]) for r in self.run(
            (f"SELECT size FROM {self.table('ledger_checkpoints')} ORDER BY size", ()))]


def log_of(world: World) -> LedgerLog:
    return open_log(world.settings, world.app)


def signed(world: World) -> int:
    checkpoint = log_of(world).issue_checkpoint(force=True)
    assert checkpoint is not None
    return checkpoint.size


def audit(world: World, *, remembered: bool = True) -> Any:
    registrar_key, ledger_key = trust_anchors(world.settings)
    notes = remembered_notes(world.settings) if remembered else []
    return run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key,
                     trusted_checkpoints=notes, workers=1, ranges=1)


@pytest.fixture
def db(world: World) -> Database:
    world.sent(recipients=(RECIPIENT, OTHER))
    log_of(world).catch_up()  # the Merkle tables exist
    return Database(world)


# ---- item: a restored or damaged database never makes the ledger sign a fork -----------


def test_database_restored_to_an_earlier_state_never_makes_the_ledger_sign_a_fork(
        db: Database) -> None:
    world = db.world
    signed(world)
    db.back_up()
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    later = signed(world)
    db.restore()  # the backup from before the later checkpoint
    while len(db.events()) < later:  # another history grows to the size signed before
        world.sent(recipients=(OTHER,))
    with pytest.raises(ForkRefusedError, match="refusing to sign"):
        log_of(world).issue_checkpoint(force=True)
    assert later not in db.checkpoint_sizes()  # nothing published over the signed size
    with pytest.raises(AuditFailure):
        audit(world)  # the remembered checkpoint is checked: the rollback shows
    audit(world, remembered=False)  # what a plain audit of the database alone would say


def test_database_restored_to_a_shorter_tree_refuses_before_it_grows(db: Database) -> None:
    world = db.world
    db.back_up()
    world.sent()
    signed(world)
    db.restore()
    with pytest.raises(ForkRefusedError, match="fewer than"):
        log_of(world).issue_checkpoint(force=True)
    with pytest.raises(ForkRefusedError):
        log_of(world).check()


def test_emptied_merkle_tables_after_removed_events_never_make_the_ledger_sign_a_fork(
        db: Database) -> None:
    world = db.world
    world.sent()
    size = signed(world)
    first_sent = [r for r in db.events() if str(r[3]).endswith("Document.Sent")][0]
    db.run((f"DELETE FROM {db.table('events')} WHERE {db.columns('events').split(',')[0]} = ?",
            (first_sent[0],)),
           *((f"DELETE FROM {db.table(t)}", ()) for t in MERKLE))
    db.reopen()
    while len(db.events()) < size + 2:
        world.sent(recipients=(OTHER,))
    with pytest.raises(ForkRefusedError):
        log_of(world).issue_checkpoint(force=True)
    assert db.checkpoint_sizes() == []


def test_emptied_merkle_tables_over_intact_events_are_rebuilt_and_signed_on(
        db: Database) -> None:
    world = db.world
    size = signed(world)
    db.run(*((f"DELETE FROM {db.table(t)}", ()) for t in MERKLE))
    db.reopen()
    world.sent()
    assert signed(world) > size  # the same events make the same tree: no refusal
    audit(world)


def test_crash_between_remembering_and_storing_a_checkpoint_is_repaired(db: Database) -> None:
    world = db.world
    size = signed(world)
    db.run((f"DELETE FROM {db.table('ledger_checkpoints')}", ()))  # the row never landed
    log = log_of(world)
    assert log.issue_checkpoint() is None  # nothing new to sign …
    assert db.checkpoint_sizes() == [size]  # … and the remembered one is stored again


def test_damaged_remembered_checkpoint_refuses_to_sign(db: Database) -> None:
    world = db.world
    signed(world)
    path = DataFolder(world.settings.data).remembered_checkpoint
    path.write_text(path.read_text().replace("\n", "\nX", 1))
    world.sent()
    with pytest.raises(ForkRefusedError, match="does not verify"):
        log_of(world).issue_checkpoint(force=True)


# ---- item: a log that shrinks under its tree stops the sequencer ----------------------


def test_deleted_log_tail_stops_the_sequencer_instead_of_skipping_new_events(
        db: Database) -> None:
    world = db.world
    world.sent()
    log = log_of(world)
    log.catch_up()
    rows = db.events()
    tail = rows[-3:]  # the last command's record and events, at least partly
    db.run((f"DELETE FROM {db.table('events')} WHERE {db.columns('events').split(',')[0]} >= ?",
            (tail[0][0],)))
    db.reopen()
    if db.postgres:  # the sequence goes on: new events get new positions …
        world.sent(recipients=(OTHER,))
    else:  # … SQLite would reuse the positions just freed: the store refuses
        with pytest.raises(LogRollbackError, match="writing stopped"):
            world.sent(recipients=(OTHER,))
        assert db.events()[-1][0] < tail[0][0]
    with pytest.raises(LogRollbackError, match="sequencing stopped"):
        log_of(world).catch_up()
    with pytest.raises(LogRollbackError):
        log_of(world).check()
    with pytest.raises(LogRollbackError):
        log_of(world).issue_checkpoint(force=True)


def test_deleted_log_tail_with_no_new_events_is_reported(db: Database) -> None:
    world = db.world
    log_of(world).catch_up()
    last = db.events()[-1][0]
    db.run((f"DELETE FROM {db.table('events')} WHERE {db.columns('events').split(',')[0]} = ?",
            (last,)))
    with pytest.raises(LogRollbackError, match=f"no longer holds position {last}"):
        log_of(world).catch_up()


def test_rewritten_last_covered_event_stops_the_sequencer(db: Database) -> None:
    world = db.world
    log_of(world).catch_up()
    last = db.events()[-1]
    state = bytearray(last[4])
    state[len(state) // 2] ^= 0x01
    db.run((f"UPDATE {db.table('events')} SET state = ? "
            f"WHERE {db.columns('events').split(',')[0]} = ?", (bytes(state), last[0])))
    world.sent()  # the next catch-up reads the rewritten event with the new ones
    with pytest.raises(LogRollbackError, match="rewritten"):
        log_of(world).catch_up()
