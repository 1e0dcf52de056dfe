"""A witness's state: one SQLite file (``witness.db`` in its folder).

``cosigned`` holds the latest checkpoint cosigned per log origin; ``evidence``
holds the validly signed checkpoints refused because they conflict with it. A
submission is judged and recorded in one write transaction (BEGIN IMMEDIATE,
the latest checkpoint read inside it), so two requests from the same old size
cannot both pass the old-size check: the race c2sp.org/tlog-witness warns of,
which would let a slower, smaller checkpoint roll the witness back. The
transaction commits (synchronous=FULL) before the witness answers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from domain.evidence.checkpoint import Checkpoint
from domain.evidence.witness import (
    Accept,
    Cosigned,
    Decision,
    Evidence,
    Refused,
    Submission,
    cosignature_time,
    judge,
    origin_hash,
)

BUSY_TIMEOUT_SECONDS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS cosigned (
    origin TEXT PRIMARY KEY,
    origin_hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    submitted TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    origin TEXT NOT NULL,
    origin_hash TEXT NOT NULL,
    reason TEXT NOT NULL,
    cosigned_note TEXT NOT NULL,
    offered_note TEXT NOT NULL,
    request TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (kind, origin, cosigned_note, offered_note)
);
CREATE INDEX IF NOT EXISTS evidence_by_origin ON evidence (origin_hash, id);
"""
SELECT_COSIGNED = "SELECT origin, size, root, note, cosigned_at FROM cosigned"


@dataclass(frozen=True, kw_only=True)
class KeptEvidence:
    """Evidence as kept: what the log offered, against what the witness had cosigned."""

    evidence: Evidence
    request: str  # the add-checkpoint body, as sent
    recorded_at: int  # POSIX seconds

    def as_dict(self) -> dict[str, object]:
        e = self.evidence
        return {"kind": e.kind, "origin": e.origin, "reason": e.reason,
                "recorded_at": self.recorded_at, "cosigned_note": e.cosigned_note,
                "offered_note": e.offered_note, "request": self.request}


# how a cosignature is made: (the checkpoint's text, its time) -> signature lines
Cosign = Callable[[str, int], str]


class WitnessStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        with closing(db):
            db.execute("PRAGMA synchronous=FULL")
            yield db

    def submit(self, submission: Submission, request: bytes, cosign: Cosign,
               now: int) -> tuple[Decision, str | None]:
        """Judge ``submission`` against the latest cosigned checkpoint and record the
        outcome in one transaction; the decision and, when accepted, the cosignature
        lines to answer with (already persisted), dated ``now`` or, if the clock went
        back, the latest cosignature's time."""
        origin = submission.checkpoint.origin
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                latest = self._latest(db, origin)
                decision = judge(submission, latest)
                lines = None
                if isinstance(decision, Accept):
                    timestamp = cosignature_time(now, latest)
                    lines = cosign(submission.checkpoint_text(), timestamp)
                    self._record(db, submission, lines, timestamp)
                elif decision.evidence is not None:
                    self._keep(db, decision, request, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return decision, lines

    def _record(self, db: sqlite3.Connection, submission: Submission, lines: str,
                timestamp: int) -> None:
        c = submission.checkpoint
        db.execute(
            "INSERT INTO cosigned (origin, origin_hash, size, root, note, submitted, "
            "cosigned_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
            "size = excluded.size, root = excluded.root, note = excluded.note, "
            "submitted = excluded.submitted, cosigned_at = excluded.cosigned_at",
            (c.origin, origin_hash(c.origin), c.size, c.root,
             submission.verified_note() + lines, submission.request.note, timestamp))

    def _keep(self, db: sqlite3.Connection, refused: Refused, request: bytes, now: int) -> None:
        e = refused.evidence
        assert e is not None
        db.execute(
            "INSERT INTO evidence (kind, origin, origin_hash, reason, cosigned_note, "
            "offered_note, request, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (e.kind, e.origin, origin_hash(e.origin), e.reason, e.cosigned_note,
             e.offered_note, request.decode(), now))

    @staticmethod
    def _latest(db: sqlite3.Connection, origin: str) -> Cosigned | None:
        row = db.execute(f"{SELECT_COSIGNED} WHERE origin = ?", (origin,)).fetchone()
        return _cosigned(row) if row else None

    # ---- reads -------------------------------------------------------------------

    def latest(self, hashed_origin: str) -> Cosigned | None:
        """The latest cosigned checkpoint of the log whose origin hashes to this."""
        with self._connect() as db:
            row = db.execute(f"{SELECT_COSIGNED} WHERE origin_hash = ?",
                             (hashed_origin,)).fetchone()
        return _cosigned(row) if row else None

    def evidence(self, hashed_origin: str | None = None) -> list[KeptEvidence]:
        """Evidence kept, oldest first; for one log or for all."""
        query = ("SELECT kind, origin, reason, cosigned_note, offered_note, request, "
                 "recorded_at FROM evidence")
        with self._connect() as db:
            if hashed_origin is None:
                rows = db.execute(query + " ORDER BY id").fetchall()
            else:
                rows = db.execute(query + " WHERE origin_hash = ? ORDER BY id",
                                  (hashed_origin,)).fetchall()
        return [KeptEvidence(
            evidence=Evidence(kind=kind, origin=origin, reason=reason, cosigned_note=cosigned,
                              offered_note=offered),
            request=request, recorded_at=at)
            for kind, origin, reason, cosigned, offered, request, at in rows]


def _cosigned(row: tuple[str, int, bytes, str, int]) -> Cosigned:
    origin, size, root, note, timestamp = row
    return Cosigned(checkpoint=Checkpoint(origin=origin, size=size, root=root), note=note,
                    timestamp=timestamp)
