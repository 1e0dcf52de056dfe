"""Full audit: verify every signature and replay every signed command.

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
   (aggregate id, version, topic, state).

So every stored byte is either signed by its author or derived from signed
input by the rules, and the first position where that fails is named. The
ledger's private key is not needed: statements the ledger signed are checked
against its public key instead of being re-signed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Mapper, Notification, StoredEvent
from eventsourcing.utils import get_topic

from domain.application import DocLedger
from domain.command_log import CommandRecord
from domain.envelope import STATEMENT_TYPE, Envelope, pae
from domain.errors import AuditFailure, DocLedgerError, VerificationError
from domain.keys import PublicKey
from domain.root import ROOT_ID, LedgerRoot

RECORD_TOPIC = get_topic(CommandRecord.Accepted)
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    commands: int
    events: int
    last_position: int | None


class ReplaySigner:
    """Stands in for the ledger key on replay: hands back stored signatures.

    Each signature is verified with the ledger's public key before use, and a
    statement the stored log does not hold is a mismatch.
    """

    def __init__(self, ledger_key: PublicKey) -> None:
        self.ledger_key = ledger_key
        self.keyid = ledger_key.keyid
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
        self.ledger_key.verify(sig, message)
        return sig


def audit_log(
    notifications: Iterable[Notification],
    *,
    mapper: Mapper[Any],
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Audit the whole log; raise AuditFailure naming the first bad position."""
    signer = ReplaySigner(ledger_key)
    replay = DocLedger(IN_MEMORY, ledger_signer=signer)
    stream = iter(notifications)
    commands = events = 0
    last: int | None = None
    for head in stream:
        statement, rest = _take_group(head, stream, mapper, ledger_key)
        group = [head, *rest]
        _replay_group(replay, signer, group, mapper, statement)
        if commands == 0:
            _check_genesis(replay, head, registrar_key, ledger_key)
        commands += 1
        events += len(group)
        last = group[-1].id
        if progress is not None:
            progress(len(group))
    return AuditReport(commands=commands, events=events, last_position=last)


def _take_group(
    head: Notification, stream: Iterator[Notification], mapper: Mapper[Any], ledger_key: PublicKey
) -> tuple[dict[str, Any], list[Notification]]:
    """Verify the command record at ``head``; take the events it lists."""
    if head.topic != RECORD_TOPIC:
        raise AuditFailure(head.id, f"expected a command record, found {head.topic}")
    record = _decode(head, mapper)
    envelope = _envelope_of(head, record)
    if envelope.payload_type != STATEMENT_TYPE:
        raise AuditFailure(head.id, "command record is not a ledger statement")
    try:
        envelope.verify_with(ledger_key)
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
    return statement, group


def _replay_group(
    replay: DocLedger,
    signer: ReplaySigner,
    group: list[Notification],
    mapper: Mapper[Any],
    statement: dict[str, Any],
) -> None:
    """Re-execute the group's signed command; require identical records."""
    if len(group) < 2:
        raise AuditFailure(group[0].id, "command record lists no events")
    envelopes = [_envelope_of(n, _decode(n, mapper)) for n in group]
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
    replay: DocLedger, head: Notification, registrar_key: PublicKey, ledger_key: PublicKey
) -> None:
    root = replay.find(LedgerRoot, ROOT_ID)
    if root is None:
        raise AuditFailure(head.id, "the log does not start with the ledger's genesis")
    if root.registrar_key != registrar_key:
        raise AuditFailure(head.id, "the genesis names another registrar key")
    if root.ledger_key != ledger_key:
        raise AuditFailure(head.id, "the genesis names another ledger key")


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


def _envelope_of(n: Notification, event: Any) -> Envelope:
    try:
        return Envelope.from_dict(event.envelope)
    except (DocLedgerError, AttributeError) as exc:
        raise AuditFailure(n.id, f"stored event has no valid envelope: {exc}") from None
