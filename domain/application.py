"""The ledger application: verified, signed commands in; saved events out.

``execute`` takes the raw bytes of a DSSE envelope and either commits all the
events the command causes in one transaction, or raises a DocLedgerError and
writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from domain.agency import Agency
from domain.command_log import CommandRecord
from domain.commands import REGISTRAR, Command, LedgerInit, parse_command
from domain.context import Context
from domain.envelope import COMMAND_TYPE, Envelope
from domain.errors import (
    CommandIdConflictError,
    ConcurrencyError,
    ConflictError,
    InvalidEnvelopeError,
    NotFoundError,
    NotInitialisedError,
    StaleCommandError,
    UnknownKeyError,
)
from domain.handlers import HANDLERS
from domain.keys import PublicKey, Signer
from domain.records import Record
from domain.register import NumberRegister
from domain.root import ROOT_ID, LedgerRoot
from domain.statements import accepted_statement

A = TypeVar("A", bound=Record)


class BlobChecker(Protocol):
    """Confirms the ledger holds an attachment's bytes under their digest."""

    def check(self, sha256: str, size: int) -> None: ...


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


class DocLedger(Application):
    """Event-sourced ledger of official document exchange."""

    name = "DocLedger"
    # A register gains an event per number given; snapshots keep loading it
    # cheap. Snapshots are caches outside the log: the audit never reads them.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {NumberRegister: 64}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        ledger_signer: Signer,
        clock: Callable[[], datetime] = utc_now,
        blobs: BlobChecker | None = None,
    ) -> None:
        super().__init__(env)
        self.ledger_signer = ledger_signer
        self.clock = clock
        self.blobs = blobs

    # ---- the command path ---------------------------------------------------

    def execute(self, raw: bytes) -> Outcome:
        """Verify and execute one signed command (DSSE JSON bytes)."""
        envelope = Envelope.from_json(raw)
        if envelope.payload_type != COMMAND_TYPE:
            raise InvalidEnvelopeError(
                f"payloadType must be {COMMAND_TYPE!r}, not {envelope.payload_type!r}"
            )
        command, fields = parse_command(envelope.payload)
        received_at = self.clock()
        root = self.find(LedgerRoot, ROOT_ID)
        if root is None and command.type != "ledger.init":
            raise NotInitialisedError("the ledger has not been initialised")
        # 1. the signature is by a key of the acting party, valid at issue time
        self.verify_envelope(envelope, self._actor_key(command, fields, envelope, root))
        # 2. a command id is used once: same bytes repeat the result
        previous = self.find(CommandRecord, CommandRecord.id_for(command.command_id))
        if previous is not None:
            return self._repeat(previous, envelope)
        # 3. the issue time is within the clock-skew window
        skew = fields.max_clock_skew_seconds if root is None else root.max_clock_skew_seconds
        if abs(received_at - command.issued_at) > timedelta(seconds=skew):
            raise StaleCommandError(
                f"issued_at {command.issued_at.isoformat()} is more than {skew}s "
                f"from the ledger's time {received_at.isoformat()}"
            )
        ctx = Context(
            app=self, command=command, fields=fields,
            envelope=envelope.to_dict(), at=received_at,
        )
        try:
            aggregates, result = HANDLERS[command.type](ctx)
            return self._commit(ctx, envelope, aggregates, result)
        except ConflictError:
            # A concurrent copy of this very command may have won the race.
            again = self.find(CommandRecord, CommandRecord.id_for(command.command_id))
            if again is None:
                raise
            return self._repeat(again, envelope)

    def verify_envelope(self, envelope: Envelope, key: PublicKey) -> None:
        """Raise unless ``key`` signed ``envelope`` (the audit may pre-verify in bulk)."""
        envelope.verify_with(key)

    def _actor_key(
        self, command: Command, fields: Any, envelope: Envelope, root: LedgerRoot | None
    ) -> PublicKey:
        if command.type == "ledger.init":
            assert isinstance(fields, LedgerInit)
            return PublicKey.from_spec(fields.registrar_key.model_dump())
        assert root is not None
        if command.actor.agency == REGISTRAR:
            return root.registrar_key
        agency = self.find(Agency, Agency.id_for(command.actor.agency))
        if agency is None:
            raise UnknownKeyError(f"agency {command.actor.agency} is not registered")
        for signature in envelope.signatures:
            if signature.keyid in agency.keys:
                return agency.key_for_signing(signature.keyid, command.issued_at)
        keyids = ", ".join(s.keyid for s in envelope.signatures)
        raise UnknownKeyError(f"key {keyids} is not a key of agency {agency.code}")

    def _repeat(self, previous: CommandRecord, envelope: Envelope) -> Outcome:
        if previous.payload_sha256 != envelope.payload_digest:
            raise CommandIdConflictError(
                f"command id {previous.command_id} was already used for other bytes"
            )
        return self.outcome_of(previous.command_id)

    def _commit(
        self,
        ctx: Context,
        envelope: Envelope,
        aggregates: list[Record],
        result: dict[str, Any],
    ) -> Outcome:
        events = [
            [str(agg.id), e.originator_version, get_topic(type(e))]
            for agg in aggregates
            for e in agg.pending_events
        ]
        statement = accepted_statement(
            command_id=ctx.command.command_id,
            payload_sha256=envelope.payload_digest,
            received_at=ctx.at,
            events=events,
            result=result,
        )
        record = CommandRecord.accept(
            statement, envelope=ctx.ledger_envelope(statement), at=ctx.at
        )
        try:
            recordings = self.save(record, *aggregates)
        except IntegrityError:
            raise ConcurrencyError(
                "another command changed the same records concurrently; retry"
            ) from None
        return Outcome(
            command_id=ctx.command.command_id,
            payload_sha256=envelope.payload_digest,
            received_at=ctx.at,
            events=tuple((e[0], e[1], e[2]) for e in events),
            result=result,
            notification_ids=tuple(r.notification.id for r in recordings),
        )

    # ---- reading ------------------------------------------------------------

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None if it was never created."""
        try:
            found = self.repository.get(aggregate_id)
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
