"""Full audit: verify every signature, replay every signed command, rebuild the tree.

The stored log is read in notification order. It must consist of groups, each
opening with a ledger-signed ``ledger.accepted`` command record followed by
exactly the events that record lists — or a gateway receipt, the ledger's own
statement and a group by itself, whose signature, canonical bytes and record id
are checked (domain/verification/gateway.py). For every command's group the auditor

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
   auditor) compares the root with the ledger-signed checkpoint
   (``domain.verification.audit_tree``).

So every stored byte is either signed by its author or derived from signed
input by the rules, and the log as a whole is the one the checkpoints sign;
the first position where that fails is named. Only public keys are needed.

The replay's store and cache guard are adapters the infrastructure hands in
(``ReplayAdapters``; ``infrastructure.replay_recorder``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, StoredEvent

from domain import stored_state, topics
from domain.errors import AuditFailure, DocLedgerError, VerificationError
from domain.evidence.checkpoint import Checkpoint
from domain.evidence.envelope import STATEMENT_TYPE, Envelope, pae
from domain.evidence.incoming_stamp import STATEMENT as STAMPED
from domain.evidence.keys import PublicKey
from domain.evidence.pdf_report import STATEMENT as PDF_REPORT
from domain.evidence.pdf_report import Findings, findings_of
from domain.evidence.preverify import signature_digest
from domain.exchange.root import ROOT_ID, LedgerRoot
from domain.ledger.application import DocLedger
from domain.ledger.cache import AggregateCacheGuard
from domain.verification.audit_tree import TreeAudit, open_checkpoints
from domain.verification.gateway import open_receipt_event

RECORD_TOPIC = topics.RECORD_ACCEPTED
GATEWAY_TOPIC = topics.GATEWAY_RECORDED
# the events a group of the log opens with: a command record, or a ledger
# statement that is a group by itself
GROUP_HEADS = frozenset({RECORD_TOPIC, GATEWAY_TOPIC})
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


def _statements(envelopes: Iterable[Envelope]) -> dict[str, list[dict[str, Any]]]:
    """The ledger statements among a group's stored envelopes, by type, each read
    once (any that does not parse is none: the replay then makes no such
    statement, and differs)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for env in envelopes:
        if env.payload_type != STATEMENT_TYPE:
            continue
        try:
            statement = json.loads(env.payload)
        except ValueError:
            continue
        kind = statement.get("type") if isinstance(statement, dict) else None
        if isinstance(kind, str):
            by_type.setdefault(kind, []).append(statement)
    return by_type


class StoredReports:
    """Stands in for the reader of PDF attachments on replay: the findings of the
    group's stored ``attachment.validated`` statements, by attachment digest.

    The report is the ledger's word on a file the audit does not hold: its
    signature is checked like every ledger statement's (``ReplaySigner``); the
    replay checks that the command brought that attachment in and that the rules
    put the report where it is stored.
    """

    def __init__(self) -> None:
        self._stored: dict[str, Findings] = {}

    def expect(self, statements: Mapping[str, list[dict[str, Any]]]) -> None:
        """The group's statements, by type (``_statements``)."""
        self._stored = {}
        for statement in statements.get(PDF_REPORT, ()):
            try:
                self._stored[statement["attachment"]["sha256"]] = findings_of(statement)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not a report: the replay then produces none, and differs

    def validate(self, sha256: str, at: datetime, anchors: Sequence[bytes]) -> Findings | None:
        return self._stored.get(sha256)


class StoredStamps:
    """Stands in for the stamper of incoming PDFs on replay: the copies the group's
    stored ``delivery.stamped`` statements name, by original digest (the audit holds
    no files; the rules rebuild each statement around its copy, byte for byte)."""

    def __init__(self) -> None:
        self._stored: dict[str, dict[str, Any]] = {}

    def expect(self, statements: Mapping[str, list[dict[str, Any]]]) -> None:
        """The group's statements, by type (``_statements``)."""
        self._stored = {}
        for statement in statements.get(STAMPED, ()):
            try:
                self._stored[statement["original"]["sha256"]] = dict(statement["copy"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not a stamp: the replay then makes none, and differs

    def stamp(self, sha256: str, *, name: str, text: str) -> dict[str, Any] | None:
        return self._stored.get(sha256)


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
        self.reports = StoredReports()
        self.stamps = StoredStamps()

    def expect(self, envelopes: Iterable[Envelope]) -> None:
        self._stored = {}
        envelopes = list(envelopes)
        statements = _statements(envelopes)
        self.reports.expect(statements)
        self.stamps.expect(statements)
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


class ReplayStore(Protocol):
    """The event store a replay commits to: what it replayed, over its
    ``PriorEvents``. It must be an eventsourcing ``ApplicationRecorder`` whose
    positions are the replay's own, refusing an event whose aggregate and
    version exist already, replayed or prior."""

    def rebase(self, prior: PriorEvents) -> None:
        """Forget the events replayed so far: ``prior`` holds them now."""
        ...

    def expect(self, originator_ids: Iterable[UUID | str]) -> None:
        """Aggregates about to be written: their prior versions may be looked
        up at once, ahead of the commands."""
        ...

    def max_notification_id(self) -> int | None:
        ...


class ReplayAdapters(Protocol):
    """What a replay runs on, made by the infrastructure."""

    def store(self, prior: PriorEvents | None) -> ReplayStore:
        """An empty store over ``prior`` (None: a replay from genesis)."""
        ...

    def cache_guard(self, app: Application[UUID], *, sole_writer: bool) -> AggregateCacheGuard:
        """The guard of the replay ledger's aggregate cache."""
        ...


class ReplayLedger(DocLedger):
    """The in-memory ledger the audit replays into; skips re-checking signatures
    that were verified already (in bulk, on other cores)."""

    verified: set[bytes]

    store: ReplayStore

    def __init__(self, env: dict[str, str], *, ledger_signer: ReplaySigner,
                 prior: PriorEvents | None, adapters: ReplayAdapters) -> None:
        # before the base class builds the recorder with them
        self.prior, self.adapters = prior, adapters
        super().__init__(env, ledger_signer=ledger_signer, cache_guard=adapters.cache_guard,
                         attachment_validator=ledger_signer.reports,
                         incoming_stamper=ledger_signer.stamps)

    def construct_recorder(self) -> ApplicationRecorder:
        store = self.adapters.store(self.prior)
        if not isinstance(store, ApplicationRecorder):
            raise TypeError("a replay store is an eventsourcing ApplicationRecorder, "
                            f"not {type(store).__name__}")
        self.store = store
        return store

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


def audit_log(
    notifications: Iterable[Notification],
    *,
    mapper: Mapper[Any],
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    adapters: ReplayAdapters,
    checkpoints: Iterable[str] = (),
    stored_leaves: Iterator[tuple[int, int, bytes]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit the whole log; raise AuditFailure naming the first bad position."""
    opened = open_checkpoints(checkpoints, ledger_key)
    tree = TreeAudit(opened, stored_leaves)
    replay = CommandReplay(mapper=mapper, registrar_key=registrar_key, ledger_key=ledger_key,
                           checkpoints=opened, adapters=adapters)
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
    them (the ``ReplayStore``). Both check the same thing: the replays of all
    ranges pass exactly when one replay of the whole log does, because a range's
    prior events are, where it matters, the ones the ranges before it require to
    equal what their commands produce.
    """

    def __init__(self, *, mapper: Mapper[Any], registrar_key: PublicKey,
                 ledger_key: PublicKey, checkpoints: list[Checkpoint],
                 adapters: ReplayAdapters,
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
        self.ledger = ReplayLedger(IN_MEMORY, ledger_signer=self.signer, prior=prior,
                                   adapters=adapters)
        self.ledger.verified = self.verified
        self.recorder = self.ledger.store
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
            if head.topic == GATEWAY_TOPIC:
                self._gateway_receipt(head)
                yield [head]
                continue
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

    def _gateway_receipt(self, head: Notification) -> None:
        """A gateway receipt is a group by itself: the ledger's statement, checked
        (domain/verification/gateway.py) but not replayed, since it changes no
        other record."""
        if self.genesis_due:
            raise AuditFailure(head.id, "the log does not start with the ledger's genesis")

        def verify(envelope: Envelope, key: PublicKey) -> None:
            signature = envelope.signature_by(key.keyid)
            assert signature is not None  # checked by open_receipt_event first
            check_signature(key, pae(envelope.payload_type, envelope.payload),
                            signature.sig, self.verified)

        try:
            open_receipt_event(aggregate_id=head.originator_id,
                               version=head.originator_version, topic=head.topic,
                               state=head.state, ledger_key=self.ledger_key, verify=verify)
        except DocLedgerError as exc:
            raise AuditFailure(head.id, f"gateway receipt: {exc}") from None
        if self.first is None:
            self.first = head.id
        self.events += 1
        self.last = head.id

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
    try:
        outcome = replay.execute_envelope(command_envelope)
    except DocLedgerError as exc:
        raise AuditFailure(
            group[1].id, f"the signed command is refused on replay: {exc}"
        ) from None
    # the rows the replay's store was handed (none for a repeated command id)
    _compare(group, outcome.stored)


def _compare(stored: Sequence[Notification], produced: Sequence[Notification]) -> None:
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
