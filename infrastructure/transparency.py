"""The Merkle log over the event store: sequencing, checkpoints, proofs, receipts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.application import DocLedger, Outcome, utc_now
from domain.checkpoint import Checkpoint, NoteKey, sign_note
from domain.command_log import CommandRecord
from domain.errors import ConcurrencyError, VerificationError
from domain.keys import Ed25519Signer
from domain.leaf import event_leaf_hash
from domain.merkle import (
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
from domain.receipt import receipt_content, sign_receipt
from infrastructure.log_store import LogStore, StoredCheckpoint

BATCH = 2000


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

    # ---- sequencing ------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Append every stored event not yet a leaf; return how many were added.

        Stops after a batch shorter than a full one: everything committed
        before that batch was read is a leaf then.
        """
        added = 0
        while True:
            size, after = self.store.tip()
            batch = self.app.recorder.select_notifications(after + 1, BATCH)
            if not batch:
                self.size, self.covered = size, after
                return added
            edge = self.store.nodes(edge_keys(size))
            formed: list[tuple[int, int, bytes]] = []
            tree = CompactRange(size, [edge[k] for k in edge_keys(size)],
                                on_node=lambda lvl, i, h, into=formed: into.append((lvl, i, h)))
            leaves = []
            for n in batch:
                leaf = event_leaf_hash(n.originator_id, n.originator_version, n.topic, n.state)
                tree.append(leaf)
                leaves.append((n.id, leaf))
            try:
                self.store.append(size, leaves, [f for f in formed if f[0] > 0])
            except ConcurrencyError:
                continue  # another sequencer got there first: start again from its end
            added += len(leaves)
            if progress is not None:
                progress(len(leaves))
            if len(batch) < BATCH:
                self.size, self.covered = size + len(leaves), leaves[-1][0]
                return added

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

        Never signs two inconsistent checkpoints: the new tree must prove
        consistent with the latest signed one, or nothing is signed.
        """
        self.catch_up()
        size = self.size
        latest = self.store.latest_checkpoint()
        if size == 0 or (latest is not None and latest.size >= size):
            return None
        if latest is not None and not force and not self._due(latest, size):
            return None
        root = self.root(size)
        if latest is not None:
            try:
                verify_consistency(latest.size, size, latest.root, root,
                                   self.consistency_proof(latest.size, size))
            except ProofError as exc:
                raise VerificationError(
                    f"refusing to sign: the tree of size {size} does not extend the "
                    f"checkpoint of size {latest.size} ({exc})") from None
        note = sign_note(Checkpoint(origin=self.origin, size=size, root=root).body(),
                         self.note_key, self.signer)
        stored = StoredCheckpoint(size=size, root=root, note=note,
                                  issued_at=self.clock().isoformat())
        try:
            self.store.save_checkpoint(stored)
        except ConcurrencyError:
            return None  # a concurrent issuer signed this very size
        return stored

    def _due(self, latest: StoredCheckpoint, size: int) -> bool:
        age = (self.clock() - datetime.fromisoformat(latest.issued_at)).total_seconds()
        return size - latest.size >= self.checkpoint_every or age >= self.checkpoint_seconds

    # ---- receipts ---------------------------------------------------------------

    def receipt(self, outcome: Outcome) -> dict[str, object]:
        """The ledger-signed receipt of an accepted (or repeated) command."""
        record = (str(CommandRecord.id_for(outcome.command_id)), 1)
        rows = self.store.notifications_of([record, *((e[0], e[1]) for e in outcome.events)])
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
