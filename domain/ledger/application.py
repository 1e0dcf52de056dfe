"""The ledger application: verified, signed commands in; saved events out.

``execute`` takes the raw bytes of a DSSE envelope and either commits all the
events the command causes in one transaction, or raises a DocLedgerError and
writes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Repository,
    project_aggregate,
)
from eventsourcing.persistence import IntegrityError, Notification, Recording, Transcoder
from eventsourcing.utils import get_topic

from domain.errors import (
    POSITION_COVERED,
    CommandIdConflictError,
    ConcurrencyError,
    ConflictError,
    DocLedgerError,
    InvalidEnvelopeError,
    LogRollbackError,
    NotFoundError,
    NotInitialisedError,
    StaleCommandError,
    UnknownKeyError,
)
from domain.evidence.envelope import COMMAND_TYPE, Envelope, pae
from domain.evidence.incoming_stamp import IncomingStamper
from domain.evidence.keys import PublicKey, Signer
from domain.evidence.pdf_report import AttachmentValidator, PdfSignaturePolicy
from domain.evidence.preverify import signature_digest
from domain.evidence.statements import accepted_statement
from domain.exchange.agency import Agency
from domain.exchange.commands import Command, LedgerInit, parse_command
from domain.exchange.ids import REGISTRAR
from domain.exchange.records import Record
from domain.exchange.register import NumberRegister
from domain.exchange.revocations import RevocationEvidence, check_not_revoked
from domain.exchange.root import ROOT_ID, LedgerRoot
from domain.ledger.cache import AggregateCacheGuard, CacheGuardFactory
from domain.ledger.command_log import CommandRecord
from domain.ledger.context import BlobChecker, Context, SourceChecker
from domain.ledger.handlers import handler_for
from domain.ledger.repository import LedgerRepository, project_unsnapshotted
from domain.ledger.transcoder import StateTranscoder

A = TypeVar("A", bound=Record)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What an accepted command did."""

    command_id: str
    payload_sha256: str
    received_at: datetime
    events: tuple[tuple[str, int, str], ...]
    result: dict[str, Any]
    notification_ids: tuple[int, ...] = ()
    repeated: bool = False
    # the rows this command's commit stored, its record's first, as the store
    # was handed them: a receipt made in this process needs not read them back
    # (empty for a repeat, whose rows another commit stored)
    stored: tuple[Notification, ...] = field(default=(), compare=False, repr=False)


class RepeatedCommand(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A retried command that the rules refused this time: its first outcome.

    Raised rather than returned because the refused run may have half-changed
    the aggregates it loaded; a batch must not let later commands see them.
    """

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.command_id)
        self.outcome = outcome


@dataclass(kw_only=True)
class Prepared:
    """A verified command whose events are made but not yet saved."""

    command_id: str
    payload_sha256: str
    at: datetime
    record: CommandRecord
    aggregates: list[Record]
    events: list[Any]  # the record's event first, then the command's, in order
    listed: list[list[Any]]
    result: dict[str, Any]

    @classmethod
    def of(cls, ctx: Context, envelope: Envelope, aggregates: list[Record],
           result: dict[str, Any]) -> Prepared:
        pending = [e for agg in aggregates for e in agg.collect_events()]
        listed = [[str(e.originator_id), e.originator_version, get_topic(type(e))]
                  for e in pending]
        digest = envelope.payload_digest
        statement = accepted_statement(
            command_id=ctx.command.command_id, payload_sha256=digest,
            received_at=ctx.at, events=listed, result=result,
        )
        record = CommandRecord.accept(statement, envelope=ctx.ledger_envelope(statement),
                                      at=ctx.at)
        return cls(command_id=ctx.command.command_id, payload_sha256=digest, at=ctx.at,
                   record=record,
                   aggregates=aggregates, events=[*record.collect_events(), *pending],
                   listed=listed, result=result)

    def outcome(self, stored: Iterable[Recording[UUID]]) -> Outcome:
        """The outcome of this command, whose events were stored as ``stored``."""
        rows = tuple(r.notification for r in stored)
        return Outcome(command_id=self.command_id, payload_sha256=self.payload_sha256,
                       received_at=self.at, events=tuple((e[0], e[1], e[2]) for e in self.listed),
                       result=self.result, notification_ids=tuple(n.id for n in rows),
                       stored=rows)


class DocLedger(Application[UUID]):
    """Event-sourced ledger of official document exchange."""

    name = "DocLedger"
    # A register gains an event per number given; snapshots keep loading it
    # cheap. Snapshots are caches outside the log: the audit never reads them.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {NumberRegister: 64}
    SOLE_WRITER = "SOLE_WRITER"  # env: no other writer, the guard need not read the log
    # env: the clock gives each command the time it was recorded with (the
    # audit's replay), to be taken exactly as it is
    RECORDED_TIMES = "RECORDED_TIMES"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        ledger_signer: Signer,
        clock: Callable[[], datetime] = utc_now,
        blobs: BlobChecker | None = None,
        sources: SourceChecker | None = None,
        cache_guard: CacheGuardFactory | None = None,
        attachment_validator: AttachmentValidator | None = None,
        pdf_policy: PdfSignaturePolicy | None = None,
        incoming_stamper: IncomingStamper | None = None,
    ) -> None:
        """``cache_guard`` makes the guard of an aggregate cache that the
        environment asks not to fast-forward (and is required for one).
        ``attachment_validator`` reports on each PDF attachment's signatures as a
        document brings it in, and ``pdf_policy`` says which reports refuse it.
        ``incoming_stamper`` stamps the incoming number on a copy of each PDF a
        recipient accepts."""
        super().__init__(env)
        self.ledger_signer = ledger_signer
        self.clock = clock
        self.blobs = blobs
        self.attachment_validator = attachment_validator
        self.pdf_policy = pdf_policy or PdfSignaturePolicy()
        self.incoming_stamper = incoming_stamper
        self.sources = sources
        recorded = self.env.get(self.RECORDED_TIMES, "n").lower() in ("y", "yes", "1", "true")
        self._strict_times = not recorded
        self._last_received: datetime | None = None
        self._time_lock = threading.Lock()
        self.seen_keys: dict[str, PublicKey] = {}  # keyid -> key, for ``preverify``
        self.cache_guard = self._guard_cache(cache_guard)

    def construct_repository(self) -> Repository[UUID]:
        """eventsourcing's repository, made as the library makes it, reading no
        snapshot for aggregates never snapshotted (domain/ledger/repository.py)."""
        made = super().construct_repository()
        repository = LedgerRepository(
            event_store=made.event_store, snapshot_store=made.snapshot_store,
            fastforward=made.fastforward, fastforward_skipping=made.fastforward_skipping,
            deepcopy_from_cache=made.deepcopy_from_cache)
        repository.cache = made.cache  # the cache the library made, as it made it
        return repository

    def _projector(self, cls: type[Any]) -> Any:
        """How ``lookup`` has the repository read an aggregate of ``cls``: from its
        events alone if the class is never snapshotted."""
        if any(issubclass(cls, s) or issubclass(s, cls) for s in self.snapshotting_intervals):
            return project_aggregate
        return project_unsnapshotted

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoder, its bytes written by orjson (same bytes,
        a fraction of the cost: domain/ledger/transcoder.py)."""
        transcoder = StateTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def _guard_cache(self, make_guard: CacheGuardFactory | None) -> AggregateCacheGuard | None:
        """A cache that is not fast-forwarded is kept true to the log by a guard,
        which only caches what is committed where the environment says this
        application is its store's only writer (the audit's in-memory replay)."""
        repo = self.repository
        if repo.cache is None or repo.fastforward:
            return None
        if make_guard is None:
            raise ValueError("an aggregate cache that is not fast-forwarded needs a cache "
                             "guard, or it would serve what other writers changed")
        sole = self.env.get(self.SOLE_WRITER, "n").lower() in ("y", "yes", "1", "true")
        return make_guard(self, sole_writer=sole)

    # ---- the command path ---------------------------------------------------

    def execute(self, raw: bytes, *, verified: AbstractSet[bytes] = frozenset()) -> Outcome:
        """Verify and execute one signed command (DSSE JSON bytes).

        ``verified`` may name signatures already found valid (``signature_digest``),
        checked ahead on another thread; the key is still chosen and checked here.
        """
        return self.execute_envelope(Envelope.from_json(raw), verified=verified)

    def execute_envelope(self, envelope: Envelope, *,
                         verified: AbstractSet[bytes] = frozenset()) -> Outcome:
        """``execute`` for an envelope parsed already (the audit's replay holds
        each stored one parsed, and need not write it out and read it back)."""
        self._follow_log()
        loaded: dict[UUID, Record] = {}
        command, fields = self._command(envelope)
        try:
            try:
                prepared = self._prepare(envelope, command, fields, loaded, verified)
            except RepeatedCommand as repeat:
                return repeat.outcome
            if isinstance(prepared, Outcome):
                return prepared
            try:
                recordings = self._save_events(prepared.events)
            except IntegrityError as exc:
                self._forget(prepared.aggregates)
                if POSITION_COVERED in str(exc):
                    raise LogRollbackError(
                        "the event store would number this command's events with positions "
                        "the Merkle log covers already: the log lost events (its tail was "
                        "deleted, or it was restored to an earlier state); writing stopped"
                    ) from None
                raise ConcurrencyError(
                    "another command changed the same records concurrently; retry"
                ) from None
        except ConflictError:
            # A concurrent copy of this very command may have won the race.
            again = self.lookup(CommandRecord, CommandRecord.id_for(command.command_id))
            if again is None:
                raise
            return self._repeat(again, envelope)
        outcome = prepared.outcome(recordings)
        self._committed(outcome.notification_ids, prepared.aggregates)
        self._snapshot_registers(prepared.events)
        return outcome

    def execute_batch(self, raws: list[bytes], *,
                      verified: AbstractSet[bytes] = frozenset()) -> list[Outcome | DocLedgerError]:
        """Execute commands in order and commit them together in one transaction.

        The log reads exactly as if they had been committed one by one: each
        command's record is followed by its own events, later commands see the
        earlier ones' effects. A command the rules refuse gets its error and
        splits the group (it may have half-changed what it loaded); if the
        transaction conflicts with another writer, each command is executed
        on its own, so only a truly conflicting one fails.
        """
        self._follow_log()
        results: list[Outcome | DocLedgerError | None] = [None] * len(raws)
        group: list[tuple[int, Prepared]] = []
        loaded: dict[UUID, Record] = {}
        for i, raw in enumerate(raws):
            try:
                envelope = Envelope.from_json(raw)
                command, fields = self._command(envelope)
                prepared = self._prepare(envelope, command, fields, loaded, verified)
            except (DocLedgerError, RepeatedCommand) as exc:
                results[i] = exc.outcome if isinstance(exc, RepeatedCommand) else exc
                # The refused command may have half-changed aggregates the group
                # shares: commit the group's events, but do not cache its objects.
                self._commit_group(raws, group, results, verified, clean=False)
                self._forget(loaded.values())
                group, loaded = [], {}
                continue
            if isinstance(prepared, Outcome):
                results[i] = prepared
            else:
                group.append((i, prepared))
                loaded[prepared.record.id] = prepared.record  # a copy later in the batch repeats
        self._commit_group(raws, group, results, verified, clean=True)
        return [r for r in results if r is not None]

    def _commit_group(self, raws: list[bytes], group: list[tuple[int, Prepared]],
                      results: list[Outcome | DocLedgerError | None],
                      verified: AbstractSet[bytes], *, clean: bool) -> None:
        if not group:
            return
        events = [e for _, p in group for e in p.events]
        aggregates = {id(a): a for _, p in group for a in p.aggregates}.values()
        try:
            recordings = self._save_events(events)
        except IntegrityError:
            self._forget(aggregates)
            for i, _ in group:
                try:
                    results[i] = self.execute(raws[i], verified=verified)
                except DocLedgerError as exc:
                    results[i] = exc
            return
        ids = [r.notification.id for r in recordings]
        if clean:
            self._committed(ids, aggregates)
        else:
            self._forget(aggregates)
        stored = iter(recordings)
        for i, p in group:
            results[i] = p.outcome([next(stored) for _ in p.events])
        self._snapshot_registers(events)

    def _save_events(self, events: list[Any]) -> list[Recording[UUID]]:
        """``save`` for events this class made itself: straight into the event
        store, in one transaction. eventsourcing's ``save`` checks every object
        against runtime protocols first, which costs a tenth of an audit's
        replay; ours are known to be domain events. (Its snapshots and cache
        updates are this class's own: ``_snapshot_registers``, the cache guard.)"""
        return self.events.put(events)

    def _snapshot_registers(self, events: list[Any]) -> None:
        interval = self.snapshotting_intervals[NumberRegister]
        for e in events:
            if isinstance(e, NumberRegister.Event) and e.originator_version % interval == 0:
                self.take_snapshot(e.originator_id, version=e.originator_version)

    # ---- statements of the ledger's own, outside any command ------------------

    def record_statement(self, record: Record) -> int | None:
        """Save a record the ledger creates on its own word (one created event whose
        envelope is a ledger statement, e.g. a gateway receipt): its notification
        id, or None if a record with its id exists already (the caller then reads
        that one). Such a record is a group of the log by itself (docs/gateway.md)."""
        self._follow_log()
        events = list(record.collect_events())
        try:
            recordings = self._save_events(events)
        except IntegrityError as exc:
            self._forget([record])
            if POSITION_COVERED in str(exc):
                raise LogRollbackError(
                    "the event store would number this statement with a position the "
                    "Merkle log covers already; writing stopped") from None
            return None
        ids = tuple(r.notification.id for r in recordings)
        self._committed(ids, [record])
        return ids[0]

    # ---- keeping the aggregate cache true to the log ---------------------------

    def _follow_log(self) -> None:
        if self.cache_guard is not None:
            self.cache_guard.refresh()

    def _committed(self, ids: Iterable[int], aggregates: Iterable[Record]) -> None:
        if self.cache_guard is not None:
            self.cache_guard.committed(ids, aggregates)

    def _forget(self, aggregates: Iterable[Record]) -> None:
        if self.cache_guard is not None:
            self.cache_guard.forget(a.id for a in aggregates)

    @staticmethod
    def _command(envelope: Envelope) -> tuple[Command, Any]:
        """The envelope's command and its typed fields (validated once)."""
        if envelope.payload_type != COMMAND_TYPE:
            raise InvalidEnvelopeError(
                f"payloadType must be {COMMAND_TYPE!r}, not {envelope.payload_type!r}"
            )
        return parse_command(envelope.payload)

    def received_time(self) -> datetime:
        """The time the next command is recorded with: the clock's, but always
        at least a microsecond after the previous command's. So no two commands
        share an instant, and an act can never carry the very instant a key's
        revocation does (which verifiers refuse: ``key_valid_at``). A replay
        (``RECORDED_TIMES``) takes the recorded times exactly as they are."""
        now = self.clock()
        if not self._strict_times:
            return now
        with self._time_lock:
            last = self._last_received
            if last is not None and now <= last:
                now = last + timedelta(microseconds=1)
            self._last_received = now
        return now

    def _prepare(self, envelope: Envelope, command: Command, fields: Any,
                 loaded: dict[UUID, Record],
                 verified: AbstractSet[bytes] = frozenset()) -> Prepared | Outcome:
        """Verify the command and run its handler; nothing is saved yet."""
        received_at = self.received_time()
        ctx = Context(app=self, command=command, fields=fields, envelope=envelope.to_dict(),
                      at=received_at, loaded=loaded)
        root = ctx.read(LedgerRoot, ROOT_ID)
        if root is None and command.type != "ledger.init":
            raise NotInitialisedError("the ledger has not been initialised")
        # 1. the signature is by a key of the acting party, valid at issue time
        key = self._actor_key(ctx, envelope, root)
        self.verify_envelope(envelope, key, verified)
        self.seen_keys.setdefault(key.keyid, key)
        # 2. a command id is used once: same bytes repeat the result. The store's
        # unique (aggregate, version) constraint on the command's record enforces
        # it; the record is looked up only when that, or a rule, refuses the
        # command (a retry may well be refused by the state its first copy made).
        record_id = CommandRecord.id_for(command.command_id)
        if record_id in loaded:  # an earlier command of the same batch
            return self._repeat(loaded[record_id], envelope)  # type: ignore[arg-type]
        try:
            # 3. the issue time is within the clock-skew window
            skew = fields.max_clock_skew_seconds if root is None else root.max_clock_skew_seconds
            if abs(received_at - command.issued_at) > timedelta(seconds=skew):
                raise StaleCommandError(
                    f"issued_at {command.issued_at.isoformat()} is more than {skew}s "
                    f"from the ledger's time {received_at.isoformat()}"
                )
            aggregates, result = handler_for(command)(ctx)
        except DocLedgerError:
            previous = self.lookup(CommandRecord, record_id)
            if previous is None:
                raise
            # a retry: its first outcome, though the rules refused it this time
            # (and may have half-changed what it loaded: a batch must split here)
            raise RepeatedCommand(self._repeat(previous, envelope)) from None
        for aggregate in aggregates:  # later commands of a batch see what this one made
            loaded[aggregate.id] = aggregate
        return Prepared.of(ctx, envelope, aggregates, result)

    def verify_envelope(self, envelope: Envelope, key: PublicKey,
                        verified: AbstractSet[bytes] = frozenset()) -> None:
        """Raise unless ``key`` signed ``envelope``; a signature named in
        ``verified`` was found valid with exactly this key and message already."""
        signature = envelope.signature_by(key.keyid)
        if signature is not None and verified and signature_digest(
                key.spki_der, pae(envelope.payload_type, envelope.payload),
                signature.sig) in verified:
            return
        envelope.verify_with(key)

    def preverify(self, raw: bytes) -> frozenset[bytes]:
        """Check a command's signatures ahead of its turn (on the caller's thread,
        in parallel: verification releases the GIL) with the keys this ledger has
        already seen by id. Never raises: whatever is not verified here is
        verified in turn, with the key the rules choose."""
        try:
            envelope = Envelope.from_json(raw)
        except DocLedgerError:
            return frozenset()
        message = pae(envelope.payload_type, envelope.payload)
        found = set()
        for signature in envelope.signatures:
            key = self.seen_keys.get(signature.keyid)
            if key is None:
                continue
            try:
                key.verify(signature.sig, message)
            except DocLedgerError:
                continue
            found.add(signature_digest(key.spki_der, message, signature.sig))
        return frozenset(found)

    def _actor_key(self, ctx: Context, envelope: Envelope, root: LedgerRoot | None) -> PublicKey:
        command, fields = ctx.command, ctx.fields
        if command.type == "ledger.init":
            assert isinstance(fields, LedgerInit)
            return PublicKey.from_spec(fields.registrar_key.model_dump())
        assert root is not None
        if command.actor.agency == REGISTRAR:
            return root.registrar_key
        agency = ctx.read(Agency, Agency.id_for(command.actor.agency))
        if agency is None:
            raise UnknownKeyError(f"agency {command.actor.agency} is not registered")
        for signature in envelope.signatures:
            if signature.keyid in agency.keys:
                key = agency.key_for_signing(signature.keyid, command.issued_at,
                                             recorded_at=ctx.at)
                ref = agency.keys[signature.keyid].ref
                if ref is not None:  # a certificate's key: the revocation evidence held
                    check_not_revoked(ref, key.keyid, agency.owner, ctx.read(
                        RevocationEvidence, RevocationEvidence.id_for()), ctx.at)
                return key
        keyids = ", ".join(s.keyid for s in envelope.signatures)
        raise UnknownKeyError(f"key {keyids} is not a key of agency {agency.code}")

    def _repeat(self, previous: CommandRecord, envelope: Envelope) -> Outcome:
        if previous.payload_sha256 != envelope.payload_digest:
            raise CommandIdConflictError(
                f"command id {previous.command_id} was already used for other bytes"
            )
        return self._outcome_from(previous)

    # ---- reading ------------------------------------------------------------

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate as stored now, or None if it was never created."""
        self._follow_log()
        return self.lookup(cls, aggregate_id)

    def find_version(self, cls: type[A], aggregate_id: UUID, version: int) -> A | None:
        """The aggregate as it was after its event ``version`` (from the stored events,
        not the cache), or None if it was never created."""
        try:
            found: object = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            return None
        if not isinstance(found, cls):
            raise NotFoundError(f"{aggregate_id} is not a {cls.__name__}")
        return found

    def lookup(self, cls: type[A], aggregate_id: UUID, *, to_change: bool = True) -> A | None:
        """``find`` within a command, whose cache was brought up to date at its start.

        ``to_change=False`` promises the caller only reads the aggregate: with the
        guarded cache it then gets the cached object itself, not a copy (copying
        costs 3–30 µs, ``Record.__deepcopy__``). Nothing changes a cached object
        in place: commands change copies, and what they commit replaces the
        cached object whole.
        """
        copy = to_change or self.cache_guard is None
        try:
            found: object = self.repository.get(aggregate_id, deepcopy_from_cache=copy,
                                                projector_func=self._projector(cls))
        except AggregateNotFoundError:
            return None
        if not isinstance(found, cls):
            raise NotFoundError(f"{aggregate_id} is not a {cls.__name__}")
        return found

    def outcome_of(self, command_id: str) -> Outcome:
        """What the accepted command ``command_id`` did."""
        record = self.find(CommandRecord, CommandRecord.id_for(command_id))
        if record is None:
            raise NotFoundError(f"no accepted command {command_id}")
        return self._outcome_from(record)

    @staticmethod
    def _outcome_from(record: CommandRecord) -> Outcome:
        return Outcome(
            command_id=record.command_id,
            payload_sha256=record.payload_sha256,
            received_at=record.received_at,
            events=tuple((e[0], e[1], e[2]) for e in record.events),
            result=record.result,
            repeated=True,
        )

    def root(self) -> LedgerRoot:
        root = self.find(LedgerRoot, ROOT_ID)
        if root is None:
            raise NotInitialisedError("the ledger has not been initialised")
        return root

    def events_of(self, aggregate_id: UUID) -> list[Record.Event]:
        return list(self.events.get(aggregate_id))  # type: ignore[arg-type]
