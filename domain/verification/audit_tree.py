"""Step 5 of the full audit: rebuild the Merkle tree from the events.

Every event is hashed into the RFC 9162 tree in notification order; each leaf
is compared with the stored Merkle log, and at every checkpoint size (stored,
or trusted by the auditor) the root is compared with the ledger-signed
checkpoint. So the log as a whole is the one the checkpoints sign: altered,
removed or reordered events, and a forked history, are named where they show.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from eventsourcing.persistence import Notification

from domain.errors import AuditFailure, DocLedgerError
from domain.evidence.checkpoint import Checkpoint, CheckpointError, NoteKey, open_checkpoint
from domain.evidence.keys import PublicKey
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import CompactRange


class TreeAudit:
    """Rebuilds the Merkle tree from the events and checks it against the
    stored leaves and every signed checkpoint."""

    def __init__(self, checkpoints: list[Checkpoint],
                 stored_leaves: Iterator[tuple[int, int, bytes]] | None) -> None:
        by_size: dict[int, Checkpoint] = {}
        for cp in checkpoints:
            if cp.size in by_size and by_size[cp.size].root != cp.root:
                raise AuditFailure(None, f"two signed checkpoints of size {cp.size} have "
                                         "different roots: the ledger forked its history")
            by_size[cp.size] = cp
        self.pending = sorted(by_size.values(), key=lambda c: c.size)
        self.checked = 0
        self.stored = stored_leaves
        self.tree = CompactRange()

    def add(self, n: Notification) -> None:
        leaf = event_leaf_hash(n.originator_id, n.originator_version, n.topic, n.state)
        index = self.tree.size
        if self.stored is not None:
            stored = next(self.stored, None)
            if stored is not None and stored[1] != n.id:
                raise AuditFailure(n.id, f"leaf {index} of the Merkle log covers notification "
                                         f"{stored[1]}, but the event at that place is {n.id}")
            if stored is not None and stored[2] != leaf:
                raise AuditFailure(n.id, f"leaf {index} of the Merkle log does not match the "
                                         "stored event")
        self.tree.append(leaf)
        while self.pending and self.pending[0].size == self.tree.size:
            cp = self.pending.pop(0)
            if self.tree.root() != cp.root:
                raise AuditFailure(n.id, f"the events up to here make a tree of size {cp.size} "
                                         "whose root is not the one its signed checkpoint "
                                         "signs: history was altered")
            self.checked += 1

    def finish(self, last: int | None) -> None:
        if self.pending:
            raise AuditFailure(last, f"the log holds {self.tree.size} events but a signed "
                                     f"checkpoint covers {self.pending[0].size}: events were "
                                     "removed")
        if self.stored is not None and next(self.stored, None) is not None:
            raise AuditFailure(last, "the Merkle log has leaves beyond the last stored event: "
                                     "events were removed")


def open_checkpoints(notes: Iterable[str], ledger_key: PublicKey) -> list[Checkpoint]:
    """Verify each signed checkpoint with the ledger key (named by its origin)."""
    opened = []
    for note in notes:
        origin = note.split("\n", 1)[0]
        try:
            opened.append(open_checkpoint(note, NoteKey.from_public_key(origin, ledger_key)))
        except (CheckpointError, DocLedgerError) as exc:
            raise AuditFailure(None, f"checkpoint {origin!r}: {exc}") from None
    return opened
