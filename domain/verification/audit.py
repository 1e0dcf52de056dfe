"""Full audit: verify every signature, replay every signed command, rebuild the tree.

The stored log is read in notification order. It must consist of groups, each
opening with a ledger-signed ``ledger.accepted`` command record followed by
exactly the events that record lists. For every group the auditor

1. decodes the command record and verifies the ledger's signature on it;
2. takes the agency's signed command from the group's first event;
3. re-executes that command on an empty in-memory ledger that has replayed
   everything before it, at the recorded time; this re-verifies the agency's
   signature against the key history as it stood, the command id's freshness,
   the clock-skew window, who may act and every state-machine rule;
4. requires the replay to produce the stored records byte for byte
   (aggregate id, version, topic, state);
5. hashes every event into the RFC 9162 tree, compares each leaf with the
   stored Merkle log, and at every checkpoint size (stored, or trusted by the
   auditor) compares the root with the ledger-signed checkpoint.

So every stored byte is either signed by its author or derived from signed
input by the rules, and the log as a whole is the one the checkpoints sign;
the first position where that fails is named. Only public keys are needed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Mapper,
    Notification,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder

from domain import stored_state, topics
from domain.errors import AuditFailure, DocLedgerError, VerificationError
from domain.evidence.checkpoint import Checkpoint, CheckpointError, NoteKey, open_checkpoint
from domain.evidence.envelope import STATEMENT_TYPE, Envelope, pae
from domain.evidence.keys import PublicKey
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import CompactRange
from domain.evidence.preverify import signature_digest
from domain.exchange.root import ROOT_ID, LedgerRoot
from domain.ledger.application import DocLedger

RECORD_TOPIC = topics.RECORD_ACCEPTED
# The replay is the only writer of its in-memory store, so it may cache every
# aggregate without copies or fast-forwarding: a refused command ends the audit.
IN_MEMORY = {
    "PERSISTENCE_MODULE": "eventsourcing.popo",
    "AGGREGATE_CACHE_MAXSIZE": "200000",
    "AGGREGATE_CACHE_FASTFORWARD": "n",
    "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    DocLedger.SOLE_WRITER: "y",
    DocLedger.RECORDED_TIMES: "y",
}


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    commands: int
    events: int
    last_position: int | None
    checkpoints: int  # signed checkpoints whose roots were recomputed
    latest_checkpoint: int | None  # its tree size
    uncovered: int  # events after the latest checkpoint (no signed root yet)
    # tree size of the largest checkpoint kept outside the store (saved by an
    # auditor, or remembered by the ledger) the history was checked against
    anchored: int | None = None

    @property
    def verdict(self) -> str:
        """What a passed audit proves, in one sentence."""
        if self.anchored is None:
            return ("not anchored: no saved or remembered checkpoint covers this history — "
                    "it proves internal consistency only")
        rest = self.events - self.anchored
        tail = (f"; the {rest} event(s) after it prove internal consistency only"
                if rest > 0 else "")
        return (f"anchored: the first {self.anchored} event(s) are the history a checkpoint "
                f"kept outside the store signs{tail}")


class ReplaySigner:
    """Stands in for the ledger key on replay: hands back stored signatures.

    Each signature is verified with the ledger's public key before use, and a
    statement the stored log does not hold is a mismatch.
    """

    def __init__(self, ledger_key: PublicKey, verified: set[bytes]) -> None:
        self.ledger_key = ledger_key
        self.keyid = ledger_key.keyid
        self.verified = verified
        self._stored: dict[bytes, bytes] = {}

    def expect(self, envelopes: Iterable[Envelope]) -> None:
        self._stored = {}
        for env in envelopes:
            sig = env.signature_by(self.keyid)
            if sig is not None:
                self._stored[pae(env.payload_type, env.payload)] = sig.sig

    def sign(self, message: bytes) -> bytes:
        sig = self._stored.get(message)
        if sig is None:
            raise VerificationError("the ledger statement the rules produce is not stored")
        check_signature(self.ledger_key, message, sig, self.verified)
        return sig


def check_signature(key: PublicKey, message: bytes, sig: bytes, verified: set[bytes]) -> None:
    digest = signature_digest(key.spki_der, message, sig)
    if digest not in verified:
        key.verify(sig, message)
        verified.add(digest)


class PriorEvents(Protocol):
    """The stored events before the range a replay starts at, read on demand
    (the infrastructure reads them from the store, by aggregate)."""

    def events(self, originator_id: UUID, after: int = 0) -> Sequence[StoredEvent]:
        """The aggregate's stored events before the range, by version, from
        version ``after + 1`` on."""
        ...

    def last_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The last version before the range of each aggregate that has one."""
        ...


class ReplayRecorder(POPOApplicationRecorder):
    """The replay's store: what the replay commits, in memory, over the stored
    events before its range (``prior``), which it reads only where a command
    touches an aggregate. It acts as one store holding both: an aggregate reads
    as its prior events followed by the replay's, and an event whose aggregate
    and version exist already, in either part, is refused as the store's unique
    constraint would refuse it. Positions (``select_notifications``) are the
    replay's own.

    So a replay holds in memory only what it replayed, not the log before its
    range; ``rebase`` hands even that over to the store, bounding its memory
    however long the range.
    """

    def __init__(self, prior: PriorEvents | None) -> None:
        super().__init__()
        self.prior = prior
        self._prior_last: dict[UUID, int] = {}  # last prior version, of aggregates seen

    def rebase(self, prior: PriorEvents) -> None:
        """Forget the events replayed so far: ``prior`` (the stored log up to the
        next group) holds them now, exactly as replayed, since each was compared
        byte for byte with its stored copy. The replay's aggregates stay cached."""
        with self._database_lock:
            self._stored_events = []
            self._stored_events_index = defaultdict(dict)
            self.prior = prior
            self._prior_last = {}

    def expect(self, originator_ids: Iterable[UUID]) -> None:
        """Look up at once the prior versions of aggregates about to be written
        (one query for a page of the log instead of one per command)."""
        if self.prior is None:
            return
        unknown = list({i for i in originator_ids if i not in self._prior_last})
        if unknown:
            found = self.prior.last_versions(unknown)
            for originator_id in unknown:
                self._prior_last[originator_id] = found.get(originator_id, 0)

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        if self.prior is None:
            return
        self.expect(_uuid(s.originator_id) for s in stored_events)
        for s in stored_events:
            if s.originator_version <= self._prior_last[_uuid(s.originator_id)]:
                raise IntegrityError(f"Stored event already recorded: {s}")

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None,
                      lte: int | None = None, desc: bool = False,
                      limit: int | None = None) -> Sequence[StoredEvent]:
        if self.prior is None:
            return super().select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        key = _uuid(originator_id)
        known = self._prior_last.get(key)
        if gt is not None and known is not None and gt >= known:
            prior: Sequence[StoredEvent] = []  # nothing before the range after gt
        else:
            prior = self.prior.events(key, after=gt or 0)
            if prior or not gt:
                self._prior_last[key] = prior[-1].originator_version if prior else 0
        found = [s for s in prior if lte is None or s.originator_version <= lte]
        found += super().select_events(originator_id, gt=gt, lte=lte)
        if desc:
            found.reverse()
        return found if limit is None else found[:limit]


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


class ReplayLedger(DocLedger):
    """The in-memory ledger the audit replays into; skips re-checking signatures
    that were verified already (in bulk, on other cores)."""

    verified: set[bytes]

    def __init__(self, env: dict[str, str], *, ledger_signer: ReplaySigner,
                 prior: PriorEvents | None) -> None:
        self.prior = prior  # before the base class builds the recorder with it
        super().__init__(env, ledger_signer=ledger_signer)

    def construct_recorder(self) -> ApplicationRecorder:
        return ReplayRecorder(self.prior)

    def _snapshot_registers(self, events: list[Any]) -> None:
        """No snapshots: every aggregate the replay commits stays in its cache,
        and rebuilding a register to snapshot it would read its whole history
        before the range from the store again."""

    def verify_envelope(self, envelope: Envelope, key: PublicKey,
                        verified: AbstractSet[bytes] = frozenset()) -> None:
        signature = envelope.signature_by(key.keyid)
        if signature is None:
            envelope.verify_with(key)  # raises the precise error
            return
        check_signature(key, pae(envelope.payload_type, envelope.payload), signature.sig,
                        self.verified)


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


def audit_log(
    notifications: Iterable[Notification],
    *,
    mapper: Mapper[Any],
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    checkpoints: Iterable[str] = (),
    stored_leaves: Iterator[tuple[int, int, bytes]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit the whole log; raise AuditFailure naming the first bad position."""
    opened = open_checkpoints(checkpoints, ledger_key)
    tree = TreeAudit(opened, stored_leaves)
    replay = CommandReplay(mapper=mapper, registrar_key=registrar_key, ledger_key=ledger_key,
                           checkpoints=opened)
    for group in replay.groups(iter(notifications)):
        for n in group:
            tree.add(n)
        if progress is not None:
            progress(len(group))
    tree.finish(replay.last)
    return report_of(replay, tree, opened)


def report_of(replay: CommandReplay | RangeReport, tree: TreeAudit,
              opened: list[Checkpoint]) -> AuditReport:
    latest = max((c.size for c in opened), default=None)
    return AuditReport(commands=replay.commands, events=replay.events,
                       last_position=replay.last, checkpoints=tree.checked,
                       latest_checkpoint=latest, uncovered=replay.events - (latest or 0))


@dataclass(frozen=True, kw_only=True)
class RangeReport:
    """What replaying one range of the log found (steps 1–4)."""

    first: int | None  # the first command record replayed
    last: int | None  # the last event of the last command replayed
    commands: int
    events: int


class CommandReplay:
    """Steps 1–4: verify each command record and re-execute its signed command on
    an in-memory ledger, requiring the stored events byte for byte.

    Every command is replayed against the state its stored predecessors make. A
    replay from genesis builds that state itself; a replay of a later range is
    given the stored events before it (``prior``), read where a command touches
    them (``ReplayRecorder``). Both check the same thing: the replays of all
    ranges pass exactly when one replay of the whole log does, because a range's
    prior events are, where it matters, the ones the ranges before it require to
    equal what their commands produce.
    """

    def __init__(self, *, mapper: Mapper[Any], registrar_key: PublicKey,
                 ledger_key: PublicKey, checkpoints: list[Checkpoint],
                 prior: PriorEvents | None = None,
                 prior_at: Callable[[int], PriorEvents] | None = None,
                 keep_at_most: int | None = None) -> None:
        """``prior_at(position)``, if given, reads the stored events before
        ``position``; the replay then hands what it replayed over to it whenever
        its store holds ``keep_at_most`` events or more, so that its memory is
        bounded however long the stretch of log it replays."""
        self.mapper = mapper
        self.registrar_key = registrar_key
        self.ledger_key = ledger_key
        self.checkpoints = checkpoints
        self.verified: set[bytes] = set()  # signatures checked once, by digest
        self.signer = ReplaySigner(ledger_key, self.verified)
        self.ledger = ReplayLedger(IN_MEMORY, ledger_signer=self.signer, prior=prior)
        self.ledger.verified = self.verified
        self.recorder: ReplayRecorder = self.ledger.recorder  # type: ignore[assignment]
        self.genesis_due = prior is None
        self.prior_at = prior_at
        self.keep_at_most = keep_at_most
        self.first: int | None = None
        self.last: int | None = None
        self.commands = self.events = 0

    def groups(self, stream: Iterator[Notification],
               stop_before: int | None = None) -> Iterator[list[Notification]]:
        """Replay the groups of ``stream``, yielding each once it has passed; stop
        at the first command record at ``stop_before`` or later."""
        for head in stream:
            if stop_before is not None and head.id >= stop_before:
                return
            if (self.prior_at is not None and self.keep_at_most is not None
                    and (self.recorder.max_notification_id() or 0) >= self.keep_at_most):
                self.recorder.rebase(self.prior_at(head.id))
                # only a cache of checks passed: kept, it would grow with the log
                self.verified.clear()
            record, statement, rest = _take_group(head, stream, self.mapper,
                                                  self.ledger_key, self.verified)
            group = [head, *rest]
            _replay_group(self.ledger, self.signer, group, self.mapper, record, statement)
            if self.genesis_due:
                _check_genesis(self.ledger, head, self.registrar_key, self.ledger_key,
                               self.checkpoints)
                self.genesis_due = False
            if self.first is None:
                self.first = head.id
            self.commands += 1
            self.events += len(group)
            self.last = group[-1].id
            yield group

    def report(self) -> RangeReport:
        return RangeReport(first=self.first, last=self.last, commands=self.commands,
                           events=self.events)


def _take_group(
    head: Notification,
    stream: Iterator[Notification],
    mapper: Mapper[Any],
    ledger_key: PublicKey,
    verified: set[bytes],
) -> tuple[Envelope, dict[str, Any], list[Notification]]:
    """Verify the command record at ``head``; take the events it lists."""
    if head.topic != RECORD_TOPIC:
        raise AuditFailure(head.id, f"expected a command record, found {head.topic}")
    envelope = _envelope_of(head, mapper)
    if envelope.payload_type != STATEMENT_TYPE:
        raise AuditFailure(head.id, "command record is not a ledger statement")
    signature = envelope.signature_by(ledger_key.keyid)
    try:
        if signature is None:
            raise VerificationError("not signed by the ledger key")
        check_signature(ledger_key, pae(envelope.payload_type, envelope.payload),
                        signature.sig, verified)
    except DocLedgerError as exc:
        raise AuditFailure(head.id, f"ledger signature on command record: {exc}") from None
    statement = json.loads(envelope.payload)
    group: list[Notification] = []
    for _ in statement["events"]:
        item = next(stream, None)
        if item is None:
            where = group[-1].id if group else head.id
            raise AuditFailure(where, "the log ends inside a command's events")
        group.append(item)
    return envelope, statement, group


def _replay_group(
    replay: DocLedger,
    signer: ReplaySigner,
    group: list[Notification],
    mapper: Mapper[Any],
    record: Envelope,
    statement: dict[str, Any],
) -> None:
    """Re-execute the group's signed command; require identical records."""
    if len(group) < 2:
        raise AuditFailure(group[0].id, "command record lists no events")
    envelopes = [record, *_envelopes_of(group[1:], mapper)]
    signer.expect(envelopes)
    command_envelope = envelopes[1]
    received_at = datetime.fromisoformat(statement["received_at"])
    replay.clock = lambda: received_at
    before = replay.recorder.max_notification_id() or 0
    try:
        replay.execute(command_envelope.to_json())
    except DocLedgerError as exc:
        raise AuditFailure(
            group[1].id, f"the signed command is refused on replay: {exc}"
        ) from None
    produced = replay.recorder.select_notifications(before + 1, limit=len(group) + 1)
    _compare(group, produced)


def _compare(stored: list[Notification], produced: list[Notification]) -> None:
    for mine, theirs in zip(stored, produced, strict=False):
        for attr in ("originator_id", "originator_version", "topic", "state"):
            if getattr(mine, attr) != getattr(theirs, attr):
                raise AuditFailure(
                    mine.id,
                    f"stored event ({mine.originator_id} v{mine.originator_version}) "
                    f"differs in {attr} from what its signed command produces",
                )
    if len(stored) != len(produced):
        where = stored[min(len(stored), len(produced)) - 1].id
        raise AuditFailure(
            where, f"the command produces {len(produced)} events, the log holds {len(stored)}"
        )


def _check_genesis(
    replay: DocLedger,
    head: Notification,
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    checkpoints: list[Checkpoint],
) -> None:
    root = replay.find(LedgerRoot, ROOT_ID)
    if root is None:
        raise AuditFailure(head.id, "the log does not start with the ledger's genesis")
    if root.registrar_key != registrar_key:
        raise AuditFailure(head.id, "the genesis names another registrar key")
    if root.ledger_key != ledger_key:
        raise AuditFailure(head.id, "the genesis names another ledger key")
    for cp in checkpoints:
        if cp.origin != root.origin:
            raise AuditFailure(None, f"a checkpoint names origin {cp.origin!r}, "
                                     f"the ledger is {root.origin!r}")


def _envelopes_of(group: list[Notification], mapper: Mapper[Any]) -> list[Envelope]:
    """The envelope each event carries. The events of one command mostly carry
    the same envelope: each distinct one is decoded once."""
    envelopes: list[Envelope] = []
    distinct: list[tuple[Any, Envelope]] = []
    for n in group:
        doc = _envelope_doc(n, mapper)
        envelope = next((env for seen, env in distinct if seen == doc), None)
        if envelope is None:
            envelope = _envelope_from(n, doc)
            distinct.append((doc, envelope))
        envelopes.append(envelope)
    return envelopes


def _envelope_of(n: Notification, mapper: Mapper[Any]) -> Envelope:
    return _envelope_from(n, _envelope_doc(n, mapper))


def _envelope_doc(n: Notification, mapper: Mapper[Any]) -> Any:
    """The stored event's ``envelope`` field, as JSON. Only the envelope is
    needed: the rest of the event is checked byte for byte against the replay,
    so it is not decoded here (a plain JSON read is several times cheaper than
    eventsourcing's transcoding of every field)."""
    try:
        if mapper.cipher is None and mapper.compressor is None:
            return stored_state.state_field(n.state, "envelope")
        return getattr(_decode(n, mapper), "envelope", None)
    except ValueError as exc:
        raise AuditFailure(n.id, f"stored event cannot be decoded: {exc!r}") from None


def _decode(n: Notification, mapper: Mapper[Any]) -> Any:
    try:
        return mapper.to_domain_event(
            StoredEvent(
                originator_id=n.originator_id,
                originator_version=n.originator_version,
                topic=n.topic,
                state=n.state,
            )
        )
    except Exception as exc:  # any decoding failure is evidence of tampering
        raise AuditFailure(n.id, f"stored event cannot be decoded: {exc!r}") from None


def _envelope_from(n: Notification, doc: Any) -> Envelope:
    try:
        return Envelope.from_dict(doc)
    except DocLedgerError as exc:
        raise AuditFailure(n.id, f"stored event has no valid envelope: {exc}") from None
