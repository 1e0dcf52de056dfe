"""What an agency's monitor decides about the log's events, without I/O.

An agency watches the log for every event that names it (docs/ledger.md,
"Monitors"): the events of its own Agency record (registration, keys added or
revoked), every event of a command signed in its name, the events of
deliveries to it, and the command records of those commands. Each event is
judged from its own stored bytes, which the monitor has checked against the
signed tree first, so nothing here trusts whoever served the events:

- its aggregate id is the agency's (``Agency.id_for``, deterministic);
- its envelope is a command whose ``actor.agency`` is the agency (the ledger
  accepted it only under one of the agency's keys);
- it is an event of a delivery whose id is ``Delivery.id_for(document, agency)``
  for the document its envelope names (so a delivery to the agency);
- it is a command record (``ledger.accepted``) listing one of the above;
- it is a gateway receipt (docs/gateway.md) of a message carried for the agency.

A command record is followed in the log by exactly the events it lists, so a
page of the log that ends at a whole command (``commands_end``) can be judged
alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain import topics
from domain.errors import VerificationError
from domain.evidence.checkpoint import Checkpoint, CheckpointError, NoteKey, open_checkpoint
from domain.evidence.envelope import COMMAND_TYPE, STATEMENT_TYPE
from domain.evidence.leaf import LEAF_VERSION, event_leaf_hash
from domain.evidence.merkle import ProofError, verify_consistency, verify_inclusion
from domain.exchange.ids import agency_id, delivery_id
from domain.stored_state import state_object, time_text

# why an event names the agency
OWN_RECORD = "agency"  # an event of its Agency record
SIGNED = "signed"  # a command signed in its name
DELIVERY = "delivery"  # an event of a delivery to it
COMMAND_RECORD = "command record"  # the ledger's record of such a command
GATEWAY = "gateway"  # the ledger's receipt of a message the axis carried for it

KEY_EVENTS = frozenset({topics.event(topics.AGENCY, "KeyAdded"),
                        topics.event(topics.AGENCY, "CertificateAdded"),
                        topics.event(topics.AGENCY, "KeyRevoked")})

# finding kinds
UNKNOWN_COMMAND = "unknown-command"
KEY_CHANGE = "key-change"
OMISSION = "omission"


class LogMisbehaviourError(VerificationError):
    """The log contradicts itself or what it signed: a checkpoint whose signature
    fails, a newer checkpoint that does not extend a saved one, or an event that is
    not in the signed tree where it was shown."""

    code = "log-misbehaving"


@dataclass(frozen=True, kw_only=True)
class LogEvent:
    """One stored event with its place in the log: what ``/v1/log/events`` serves."""

    leaf_index: int
    notification_id: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes

    @property
    def leaf_hash(self) -> bytes:
        """The RFC 9162 leaf hash of these bytes (docs/ledger.md, "Leaves")."""
        return event_leaf_hash(self.aggregate_id, self.version, self.topic, self.state)

    def as_dict(self) -> dict[str, Any]:
        return {"leaf_index": self.leaf_index, "notification_id": self.notification_id,
                "aggregate_id": str(self.aggregate_id), "version": self.version,
                "topic": self.topic, "state": base64.b64encode(self.state).decode()}

    @classmethod
    def from_dict(cls, doc: Any) -> LogEvent:
        """Parse one served event; LogMisbehaviourError on any defect."""
        try:
            if not isinstance(doc, dict):
                raise TypeError("not an object")
            numbers = [doc["leaf_index"], doc["notification_id"], doc["version"]]
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                       for n in numbers) or not isinstance(doc["topic"], str):
                raise TypeError("bad field types")
            return cls(leaf_index=doc["leaf_index"], notification_id=doc["notification_id"],
                       aggregate_id=UUID(doc["aggregate_id"]), version=doc["version"],
                       topic=doc["topic"],
                       state=base64.b64decode(doc["state"], validate=True))
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise LogMisbehaviourError(f"the log served a malformed event: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class Said:
    """What an event's envelope says: the command (or the ledger's statement) behind it."""

    payload_type: str
    payload: dict[str, Any]
    keyids: tuple[str, ...]

    @property
    def is_command(self) -> bool:
        return self.payload_type == COMMAND_TYPE

    @property
    def actor(self) -> str:
        """The acting agency code, ``registrar``, or ``ledger`` for its statements."""
        if not self.is_command:
            return "ledger"
        actor = self.payload.get("actor")
        return str(actor.get("agency", "")) if isinstance(actor, dict) else ""

    @property
    def command_id(self) -> str | None:
        found = self.payload.get("command_id") or self.payload.get("cause")
        return found if isinstance(found, str) else None

    @property
    def command_type(self) -> str | None:
        found = self.payload.get("type")
        return found if isinstance(found, str) else None

    @property
    def document(self) -> str | None:
        """The ledger's document id the command or statement is about, if any."""
        fields = self.payload.get("fields") if self.is_command else self.payload
        found = fields.get("document") if isinstance(fields, dict) else None
        return found if isinstance(found, str) else None


def said(event: LogEvent) -> Said:
    """The envelope of a stored event, decoded; an event that has none says nothing."""
    try:
        envelope = state_object(event.state).get("envelope")
        if not isinstance(envelope, dict):
            raise ValueError("no envelope")
        payload = json.loads(base64.b64decode(envelope["payload"], validate=True))
        keyids = tuple(str(s.get("keyid")) for s in envelope.get("signatures", [])
                       if isinstance(s, dict))
        payload_type = str(envelope.get("payloadType"))
    except (KeyError, TypeError, ValueError, binascii.Error):
        return Said(payload_type="", payload={}, keyids=())
    if not isinstance(payload, dict) or payload_type not in (COMMAND_TYPE, STATEMENT_TYPE):
        return Said(payload_type="", payload={}, keyids=())
    return Said(payload_type=payload_type, payload=payload, keyids=keyids)


def why_named(event: LogEvent, code: str) -> str | None:
    """Why ``event`` names agency ``code`` (OWN_RECORD, SIGNED, DELIVERY, GATEWAY), or
    None. Command records are judged with the events they list (``naming``)."""
    if event.aggregate_id == agency_id(code):
        return OWN_RECORD
    if event.topic == topics.RECORD_ACCEPTED:
        return None
    envelope = said(event)
    if event.topic == topics.GATEWAY_RECORDED:
        return GATEWAY if envelope.payload.get("agency") == code else None
    if envelope.is_command and envelope.actor == code:
        return SIGNED
    if event.topic.startswith(topics.DELIVERY + ".") and envelope.document is not None:
        try:
            if event.aggregate_id == delivery_id(UUID(envelope.document), code):
                return DELIVERY
        except ValueError:
            return None
    return None


def listed_events(record: LogEvent) -> list[tuple[UUID, int]]:
    """The (aggregate id, version) of each event a command record lists."""
    try:
        listed = state_object(record.state).get("events")
        return [(UUID(str(e[0])), int(e[1])) for e in listed or []]
    except (TypeError, ValueError, IndexError):
        return []


def naming(events: Sequence[LogEvent], code: str) -> list[tuple[LogEvent, str]]:
    """The events of a stretch of the log that name agency ``code``, in log order,
    each with why; a command record is kept when an event it lists is."""
    reasons = {(e.aggregate_id, e.version): why_named(e, code) for e in events}
    named = {key for key, why in reasons.items() if why is not None}
    kept = []
    for e in events:
        why = reasons[(e.aggregate_id, e.version)]
        if why is None and e.topic == topics.RECORD_ACCEPTED:
            why = COMMAND_RECORD if named.intersection(listed_events(e)) else None
        if why is not None:
            kept.append((e, why))
    return kept


def commands_end(events: Iterable[LogEvent]) -> int:
    """The leaf index just past the last event of every command whose record is among
    ``events`` (a record is followed by exactly the events it lists); 0 if none."""
    return max((e.leaf_index + 1 + len(listed_events(e)) for e in events
                if e.topic == topics.RECORD_ACCEPTED), default=0)


# ---- the report ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """One event that names the agency, as the monitor reports it."""

    leaf_index: int
    notification_id: int
    aggregate_id: str
    version: int
    topic: str
    why: str
    at: str
    command_id: str | None
    command_type: str | None
    actor: str
    keyids: tuple[str, ...]
    document: str | None

    @property
    def event(self) -> str:
        """``Delivery.Accepted`` for ``domain.delivery:Delivery.Accepted``."""
        return self.topic.rsplit(":", 1)[-1]

    def as_dict(self) -> dict[str, Any]:
        return {"leaf_index": self.leaf_index, "notification_id": self.notification_id,
                "aggregate_id": self.aggregate_id, "version": self.version,
                "topic": self.topic, "event": self.event, "why": self.why, "at": self.at,
                "command_id": self.command_id, "command_type": self.command_type,
                "actor": self.actor, "keyids": list(self.keyids), "document": self.document}


def sighting(event: LogEvent, why: str) -> Sighting:
    envelope = said(event)
    try:
        at = time_text(state_object(event.state).get("timestamp"))
    except ValueError:
        at = ""
    document = envelope.document
    if event.topic.startswith(topics.DOCUMENT + "."):
        document = str(event.aggregate_id)
    elif event.topic == topics.RECORD_ACCEPTED:
        document = record_document(event)
    return Sighting(leaf_index=event.leaf_index, notification_id=event.notification_id,
                    aggregate_id=str(event.aggregate_id), version=event.version,
                    topic=event.topic, why=why, at=at, command_id=envelope.command_id,
                    command_type=envelope.command_type if envelope.is_command else None,
                    actor=envelope.actor, keyids=envelope.keyids, document=document)


def record_document(record: LogEvent) -> str | None:
    """The document a command record's result names, if any."""
    try:
        result = state_object(record.state).get("result")
    except ValueError:
        return None
    found = result.get("document") if isinstance(result, dict) else None
    return found if isinstance(found, str) else None


@dataclass(frozen=True, kw_only=True)
class Finding:
    """Something the agency must look at: a finding makes the monitor exit 1."""

    kind: str  # UNKNOWN_COMMAND | KEY_CHANGE | OMISSION
    leaf_index: int
    command_id: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "leaf_index": self.leaf_index,
                "command_id": self.command_id, "message": self.message}


def parse_known(text: str) -> frozenset[str]:
    """The agency's list of the command ids its own system issued: one per line;
    ``#`` starts a comment (no command id holds one); blank lines are skipped."""
    return frozenset(line.split("#", 1)[0].strip() for line in text.splitlines()) - {""}


def findings(sightings: Iterable[Sighting], code: str,
             known: frozenset[str] | None) -> list[Finding]:
    """What to flag among an agency's sightings.

    (a) a command signed in the agency's name whose command id is not in ``known``
        (nothing, without a known list: its acts are listed, not judged);
    (b) a key added to or revoked for the agency, unless ``known`` lists its command.
    """
    found: list[Finding] = []
    flagged: set[tuple[str, str | None]] = set()

    def flag(kind: str, s: Sighting, message: str) -> None:
        if (kind, s.command_id) not in flagged:
            flagged.add((kind, s.command_id))
            found.append(Finding(kind=kind, leaf_index=s.leaf_index,
                                 command_id=s.command_id, message=message))

    for s in sightings:
        listed = known is not None and s.command_id in known
        if s.why == SIGNED and known is not None and not listed:
            flag(UNKNOWN_COMMAND, s, f"command {s.command_id} ({s.command_type}) was signed "
                 f"with key {', '.join(s.keyids)} of {code} at {s.at}, and {code}'s own "
                 "system did not record it")
        if s.topic in KEY_EVENTS and s.aggregate_id == str(agency_id(code)) and not listed:
            what = "revoked for" if s.event.endswith("KeyRevoked") else "added to"
            flag(KEY_CHANGE, s, f"a key was {what} {code} at {s.at} by {s.actor} "
                 f"(command {s.command_id})")
    return found


def unshown_listed(events: Sequence[tuple[LogEvent, str]], code: str) -> list[Finding]:
    """Events of the agency's own record that a shown command record lists but that
    were not shown: the server left out what it had to show (OMISSION)."""
    shown = {(e.aggregate_id, e.version) for e, _ in events}
    own = agency_id(code)
    return [Finding(kind=OMISSION, leaf_index=record.leaf_index, command_id=None,
                    message=f"the command record at leaf {record.leaf_index} lists version "
                            f"{version} of {code}'s agency record, which was not shown")
            for record, why in events if why == COMMAND_RECORD
            for aggregate, version in listed_events(record)
            if aggregate == own and (aggregate, version) not in shown]


@dataclass(kw_only=True)
class MonitorReport:
    """A monitor's run: the checkpoint it verified, what it saw, what it flags."""

    agency: str
    checkpoint: str
    size: int
    since: int
    sightings: list[Sighting] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    known_list: bool = False
    verified: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"agency": self.agency, "checkpoint": self.checkpoint,
                "tree_size": self.size, "since": self.since,
                "known_list": self.known_list, "verified": self.verified,
                "events": [s.as_dict() for s in self.sightings],
                "findings": [f.as_dict() for f in self.findings]}


def page_events(answer: Mapping[str, Any], start: int) -> tuple[list[LogEvent], int]:
    """The events of one served page and where it ends, checked to cover
    [start, end) in order; LogMisbehaviourError otherwise."""
    if not isinstance(answer, Mapping):
        raise LogMisbehaviourError(f"the log served a malformed page from leaf {start}")
    end = answer.get("end")
    raw = answer.get("events")
    if not isinstance(end, int) or isinstance(end, bool) or end < start \
            or not isinstance(raw, list):
        raise LogMisbehaviourError(f"the log served a malformed page from leaf {start}")
    events = [LogEvent.from_dict(e) for e in raw]
    indexes = [e.leaf_index for e in events]
    if indexes != sorted(set(indexes)) or any(not start <= i < end for i in indexes):
        raise LogMisbehaviourError(
            f"the page for leaves [{start}, {end}) holds events outside it or out of order")
    return events, end


# ---- verifying what the log served, trusting only the ledger key -------------------------


def open_latest(note: str, key: NoteKey) -> Checkpoint:
    """Step 1: the latest checkpoint is signed by the ledger key (a policy of
    witnesses, when given, is checked over the same note)."""
    try:
        return open_checkpoint(note, key)
    except CheckpointError as exc:
        raise LogMisbehaviourError(f"the ledger's latest checkpoint does not verify with the "
                                   f"ledger key: {exc}") from None


def check_extends(saved: Checkpoint, latest: Checkpoint, proof: Sequence[str]) -> None:
    """Step 2: the latest checkpoint extends the one saved by the previous run
    (RFC 9162 consistency); anything else is a fork or a rollback of the log."""
    if saved.size == 0:
        return  # the empty tree: every tree extends it
    if latest.size < saved.size:
        raise LogMisbehaviourError(
            f"the log shrank: its latest checkpoint has {latest.size} leaves, the saved one "
            f"{saved.size} (a rollback, or another history shown to this monitor)")
    try:
        verify_consistency(saved.size, latest.size, saved.root, latest.root,
                           [bytes.fromhex(h) for h in proof])
    except (ProofError, ValueError, TypeError) as exc:
        raise LogMisbehaviourError(
            f"the log forked: its checkpoint of size {latest.size} does not extend the "
            f"saved one of size {saved.size} ({exc})") from None


def check_included(event: LogEvent, answer: Mapping[str, Any], latest: Checkpoint) -> None:
    """Step 3: the event's bytes are the leaf at its index in the signed tree."""
    try:
        proof = [bytes.fromhex(h) for h in answer["proof"]]
        index = answer["leaf_index"]
        if index != event.leaf_index:
            raise ProofError(f"the log holds these bytes at leaf {index}")
        verify_inclusion(event.leaf_index, latest.size, event.leaf_hash, proof, latest.root)
    except (ProofError, KeyError, TypeError, ValueError) as exc:
        raise LogMisbehaviourError(
            f"the event shown at leaf {event.leaf_index} ({event.topic} v{event.version} of "
            f"{event.aggregate_id}) is not in the signed tree there: {exc}") from None


# ---- the public leaves (tiles) --------------------------------------------------------


def leaf_record(data: bytes) -> tuple[UUID, int, str]:
    """The aggregate id, version and topic a public ``leaf_data`` (version 1) names."""
    if len(data) < 59 or data[0] != LEAF_VERSION:
        raise LogMisbehaviourError("a public leaf is not leaf_data of version 1")
    (length,) = struct.unpack(">H", data[25:27])
    if len(data) != 27 + length + 32:
        raise LogMisbehaviourError("a public leaf's topic length does not match its size")
    try:
        topic = data[27:27 + length].decode()
    except UnicodeDecodeError:
        raise LogMisbehaviourError("a public leaf's topic is not UTF-8") from None
    return UUID(bytes=data[1:17]), struct.unpack(">Q", data[17:25])[0], topic


def omissions(leaves: Sequence[bytes], start: int, shown: Iterable[LogEvent],
              code: str) -> list[Finding]:
    """Leaves ``start …`` of the public log on the agency's own record that the
    events served did not show (OMISSION): the operator hid a registration or a
    key change of the agency from it."""
    own = agency_id(code)
    seen = {e.leaf_index for e in shown}
    found = []
    for offset, data in enumerate(leaves):
        aggregate, version, topic = leaf_record(data)
        if aggregate == own and start + offset not in seen:
            found.append(Finding(
                kind=OMISSION, leaf_index=start + offset, command_id=None,
                message=f"leaf {start + offset} of the public log is {topic} v{version} of "
                        f"{code}'s agency record, and the events served did not show it"))
    return found


def check_leaf(event: LogEvent, leaf_hash: bytes) -> None:
    """Step 3 with tiles: the event's bytes hash to the checked leaf at its index."""
    if event.leaf_hash != leaf_hash:
        raise LogMisbehaviourError(
            f"the event shown at leaf {event.leaf_index} ({event.topic} v{event.version} of "
            f"{event.aggregate_id}) is not the leaf the tiles hold there")
