"""The Merkle log over the event store: sequencing, checkpoints, proofs, receipts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import NoReturn

from eventsourcing.persistence import Notification

from domain.errors import (
    ConcurrencyError,
    ForkRefusedError,
    LogRollbackError,
    VerificationError,
)
from domain.evidence.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteKey,
    open_checkpoint,
    sign_note,
)
from domain.evidence.keys import Ed25519Signer
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    assemble,
    blocks_for,
    consistency_ranges,
    edge_keys,
    inclusion_ranges,
    range_blocks,
    range_hash,
    verify_consistency,
)
from domain.evidence.policy import Policy
from domain.evidence.receipt import receipt_content, sign_receipt
from domain.ledger.application import DocLedger, Outcome, utc_now
from domain.ledger.command_log import CommandRecord
from infrastructure.log_store import LogStore, PublishedCheckpoint, StoredCheckpoint
from infrastructure.remembered import RememberedCheckpoint
from infrastructure.witnessing import Publisher, Stamp, check_log_key

BATCH = 2000
log = logging.getLogger(__name__)


class LedgerLog:
    """Appends every stored event as a leaf, in order, once; signs checkpoints."""

    def __init__(
        self,
        app: DocLedger,
        signer: Ed25519Signer,
        *,
        checkpoint_every: int = 256,
        checkpoint_seconds: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
        remembered: RememberedCheckpoint | None = None,
        policy: Policy | None = None,
        policy_source: str = "",
        witness_timeout: float = 5.0,
        stamp: Stamp | None = None,
    ) -> None:
        self.app = app
        self.store = LogStore(app)
        self.signer = signer
        self.origin = app.root().origin
        self.note_key = NoteKey.from_public_key(self.origin, signer.public_key)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.clock = clock
        # what the last catch-up left behind: the tree's size and the last
        # notification its leaves cover (another sequencer may be further on)
        self.size = 0
        self.covered = 0
        # the right edge this sequencer's last append left, with the tree's size
        # and last leaf then: while the store's last leaf is still that one, the
        # edge is the store's too and needs not be read (``_edge``)
        self._edge: tuple[int, bytes, list[bytes]] | None = None
        self.remembered = remembered
        self._opened: tuple[Checkpoint, str] | None = None  # the remembered note, verified
        if policy is not None:
            check_log_key(policy, self.note_key, policy_source)
        self.publisher = Publisher(self.store, self.note_key, policy,
                                   proof=self.consistency_proof, timeout=witness_timeout,
                                   stamp=stamp)

    # ---- sequencing ------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Append every stored event not yet a leaf; return how many were added.

        Stops after a batch shorter than a full one: everything committed
        before that batch was read is a leaf then. Each batch is read from the
        last covered position on, which must still hold the event its leaf was
        made of: otherwise the log shrank or changed under the tree, and
        sequencing stops (LogRollbackError) rather than cover new events at
        positions the tree covered already.
        """
        added = 0
        while True:
            size, after, last_leaf, batch = self._tail()
            if not batch:
                self.size, self.covered = size, after
                return added
            # the tree and its callback die with this pass, so the late-bound list is its own
            formed: list[tuple[int, int, bytes]] = []
            tree = CompactRange(size, self._edge_of(size, last_leaf),
                                on_node=lambda lvl, i, h: formed.append((lvl, i, h)))  # noqa: B023
            leaves = []
            for n in batch:
                leaf = event_leaf_hash(n.originator_id, n.originator_version, n.topic, n.state)
                tree.append(leaf)
                leaves.append((n.id, leaf))
            try:
                self.store.append(size, leaves, [f for f in formed if f[0] > 0])
            except ConcurrencyError:
                continue  # another sequencer got there first: start again from its end
            self._edge = (tree.size, leaves[-1][1], list(tree.edge))
            added += len(leaves)
            if progress is not None:
                progress(len(leaves))
            if len(batch) < BATCH:
                self.size, self.covered = size + len(leaves), leaves[-1][0]
                return added

    def _edge_of(self, size: int, last_leaf: bytes | None) -> list[bytes]:
        """The right edge of the stored tree of ``size`` leaves, the last ``last_leaf``:
        the one this sequencer's own last append left, if the store still ends
        there, else read from the store."""
        if self._edge is not None and self._edge[:2] == (size, last_leaf):
            return list(self._edge[2])
        keys = edge_keys(size)
        stored = self.store.nodes(keys)
        return [stored[k] for k in keys]

    def _tail(self, limit: int = BATCH) -> tuple[int, int, bytes | None, list[Notification]]:
        """Where the tree ends (its size, the position its last leaf covers, that
        leaf) and the next ``limit`` events after it, read in one query with the
        event at that position, which is checked against its leaf."""
        size, after, last_leaf, rows = self.store.tail(limit + 1)
        if last_leaf is None:
            return size, after, last_leaf, rows[:limit]
        head = rows[0] if rows else None
        if head is None or head.id != after:
            _refuse(LogRollbackError(
                f"the event log no longer holds position {after}, which leaf {size - 1} of "
                "the Merkle log covers: events the tree covers were removed (the log shrank "
                "or was restored to an earlier state); sequencing stopped"))
        if event_leaf_hash(head.originator_id, head.originator_version, head.topic,
                           head.state) != last_leaf:
            _refuse(LogRollbackError(
                f"the event at position {after} is not the one leaf {size - 1} of the Merkle "
                "log was made of: a covered position was rewritten; sequencing stopped"))
        return size, after, last_leaf, rows[1:]

    def check(self) -> None:
        """Raise the refusal the sequencer or the signer would meet now, reading
        only: a log that lost or changed covered events (LogRollbackError), or a
        tree that does not extend a checkpoint this ledger signed
        (ForkRefusedError). A tree merely behind the log is not a refusal."""
        size, _, _, newer = self._tail(limit=1)
        behind = bool(newer)
        for anchor in self._anchors(self.store.latest_checkpoint()):
            if not (behind and anchor.size > size):
                self._check_extends(anchor, size)

    # ---- roots and proofs ---------------------------------------------------------

    def root(self, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        return range_hash(0, size, self.store.nodes(range_blocks(0, size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        ranges = inclusion_ranges(index, size)
        return assemble(ranges, self.store.nodes(blocks_for(ranges)))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        ranges = consistency_ranges(old, new)
        return assemble(ranges, self.store.nodes(blocks_for(ranges)))

    def _check_size(self, size: int) -> None:
        if size > self.store.size():
            raise ProofError(f"the log has fewer than {size} leaves")

    # ---- checkpoints ------------------------------------------------------------

    def issue_checkpoint(self, *, force: bool = False) -> StoredCheckpoint | None:
        """Sign a checkpoint of the current tree when policy (or ``force``) says so.

        Never signs two inconsistent checkpoints: the new tree must extend the
        latest one stored and the one remembered outside the database, or
        nothing is signed (ForkRefusedError). The remembered one is replaced,
        durably, before the new checkpoint is stored where anyone can read it.
        """
        self.catch_up()
        size = self.size
        latest = self.store.latest_checkpoint()
        newest = max((a.size for a in self._anchors(latest)), default=0)
        if newest > size:  # perhaps signed elsewhere since this catch-up
            self.catch_up()
            size = self.size
        if newest > (0 if latest is None else latest.size):
            with self._held():  # remembered, never stored: store it, if the tree extends it
                latest = self._restore_remembered(self.store.latest_checkpoint())
        if size == 0 or newest >= size:
            if newest > size:  # the tree lost what was signed: say so now
                self._check_anchors(latest, size)
            return None
        if latest is not None and not force and not self._due(latest, size):
            return None
        with self._held():  # one signer at a time remembers, in order
            latest = self._restore_remembered(self.store.latest_checkpoint())
            if max((a.size for a in self._anchors(latest)), default=0) >= size:
                return None  # signed meanwhile by another issuer; the next call checks it
            self._check_anchors(latest, size)
            return self._sign(size)

    def _sign(self, size: int) -> StoredCheckpoint | None:
        root = self.root(size)
        note = sign_note(Checkpoint(origin=self.origin, size=size, root=root).body(),
                         self.note_key, self.signer)
        if self.remembered is not None:
            self.remembered.write(note)
        stored = StoredCheckpoint(size=size, root=root, note=note,
                                  issued_at=self.clock().isoformat())
        try:
            self.store.save_checkpoint(stored, publish=self.publisher.immediate)
        except ConcurrencyError:
            return None  # a concurrent issuer signed this very size
        self.publisher.wake()
        return stored

    # ---- publishing ---------------------------------------------------------------

    def published_checkpoint(self) -> PublishedCheckpoint | None:
        """The latest published checkpoint: what every public reader shows (the
        checkpoint, proofs, bundles). Without witnesses, every signed checkpoint
        is published (those signed before publishing existed, on first use)."""
        self.publisher.catch_up()
        return self.store.latest_published()

    def publish(self) -> PublishedCheckpoint | None:
        """Offer the latest signed checkpoint to the witnesses now and wait for their
        answers (each bounded by the timeout); the latest published checkpoint."""
        self.publisher.publish()
        return self.store.latest_published()

    def _held(self) -> AbstractContextManager[None]:
        return self.remembered.held() if self.remembered is not None else nullcontext()

    def remembered_checkpoint(self) -> tuple[Checkpoint, str] | None:
        """The checkpoint remembered outside the database, verified, with its note."""
        if self.remembered is None:
            return None
        note = self.remembered.read()
        if note is None:
            return None
        if self._opened is not None and self._opened[1] == note:
            return self._opened
        try:
            self._opened = open_checkpoint(note, self.note_key), note
            return self._opened
        except CheckpointError as exc:
            _refuse(ForkRefusedError(
                f"refusing to sign: the remembered checkpoint {self.remembered.path} does not "
                f"verify ({exc}); nothing can be signed until it is restored"))

    def _anchors(self, latest: StoredCheckpoint | None) -> list[Checkpoint]:
        """The checkpoints a new one must extend: the latest stored, the remembered
        (once, when they are the same checkpoint, as they are but for a crash)."""
        anchors = [] if latest is None else [
            Checkpoint(origin=self.origin, size=latest.size, root=latest.root)]
        remembered = self.remembered_checkpoint()
        if remembered is not None and remembered[0] not in anchors:
            anchors.append(remembered[0])
        return anchors

    def _check_anchors(self, latest: StoredCheckpoint | None, size: int) -> None:
        for anchor in self._anchors(latest):
            self._check_extends(anchor, size)

    def _check_extends(self, anchor: Checkpoint, size: int) -> None:
        """Raise ForkRefusedError unless the tree of ``size`` leaves extends ``anchor``."""
        if size < anchor.size:
            _refuse(ForkRefusedError(
                f"refusing to sign: the Merkle log has {size} leaves, fewer than the "
                f"{anchor.size} of a checkpoint this ledger signed: its database was rolled "
                "back or damaged; nothing is signed"))
        try:
            if size == anchor.size:
                if self.root(size) != anchor.root:
                    raise ProofError("same size, another root")
            else:
                verify_consistency(anchor.size, size, anchor.root, self.root(size),
                                   self.consistency_proof(anchor.size, size))
        except ProofError as exc:
            _refuse(ForkRefusedError(
                f"refusing to sign: the tree of size {size} does not extend the checkpoint "
                f"of size {anchor.size} this ledger signed ({exc}): its database was rolled "
                "back or damaged; nothing is signed"))

    def _restore_remembered(self, latest: StoredCheckpoint | None) -> StoredCheckpoint | None:
        """Store the remembered checkpoint again if the database lacks it (a crash
        between remembering and storing it), once the tree proves it extends it."""
        remembered = self.remembered_checkpoint()
        if remembered is None or (latest is not None and latest.size >= remembered[0].size):
            return latest
        checkpoint, note = remembered
        self._check_extends(checkpoint, self.size)
        stored = StoredCheckpoint(size=checkpoint.size, root=checkpoint.root, note=note,
                                  issued_at=self.clock().isoformat())
        try:
            self.store.save_checkpoint(stored, publish=self.publisher.immediate)
        except ConcurrencyError:
            pass  # stored meanwhile: the same signed note
        return stored

    def _due(self, latest: StoredCheckpoint, size: int) -> bool:
        age = (self.clock() - datetime.fromisoformat(latest.issued_at)).total_seconds()
        return size - latest.size >= self.checkpoint_every or age >= self.checkpoint_seconds

    # ---- receipts ---------------------------------------------------------------

    def receipt(self, outcome: Outcome) -> dict[str, object]:
        """The ledger-signed receipt of an accepted (or repeated) command."""
        wanted = [(str(CommandRecord.id_for(outcome.command_id)), 1),
                  *((e[0], e[1]) for e in outcome.events)]
        rows = list(outcome.stored)
        if [(str(n.originator_id), n.originator_version) for n in rows] != wanted:
            # a repeat (or an outcome from elsewhere): its rows are read from the store
            rows = self.store.notifications_of(wanted)
        events = [{
            "aggregate_id": str(n.originator_id),
            "version": n.originator_version,
            "topic": n.topic,
            "notification_id": n.id,
            "leaf_hash": event_leaf_hash(n.originator_id, n.originator_version, n.topic,
                                         n.state).hex(),
        } for n in rows]
        content = receipt_content(
            origin=self.origin, command_id=outcome.command_id,
            payload_sha256=outcome.payload_sha256,
            received_at=outcome.received_at.isoformat(timespec="microseconds"),
            events=events,
        )
        return sign_receipt(content, self.signer)


def _refuse(error: VerificationError) -> NoReturn:
    """Stop, say why in the log, and raise: the caller (a command, /readyz) reports it."""
    log.error("%s", error)
    raise error
