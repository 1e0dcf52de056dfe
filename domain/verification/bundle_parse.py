"""Reading an audit bundle (docs/bundle.md, "Format"): JSON in, typed bundle out.

Step 1 of the verification: the bundle is parsed strictly into a ``Bundle`` of
``BundleEvent``s, refusing any field the format does not have, so that a bundle
cannot carry text a reader might take for verified. Nothing here is trusted
yet: each event's state is decoded only once its inclusion proof holds (step 4
of domain/verification/bundle.py, which fills in ``data``, ``envelope`` and
``payload``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import topics
from domain.errors import VerificationError
from domain.evidence.envelope import STATEMENT_TYPE, Envelope

FORMAT = "docledger-audit-bundle/1"

RECORD_ACCEPTED_TOPIC = topics.RECORD_ACCEPTED

HEX_HASH = re.compile(r"^[0-9a-f]{64}$")

# The only fields a bundle and its events have: anything else is refused, so a
# bundle cannot carry text a reader might take for verified.
BUNDLE_FIELDS = frozenset({"format", "document", "checkpoint", "events",
                           "checkpoint_timestamp", "gateway"})
EVENT_FIELDS = frozenset({"leaf_index", "notification_id", "aggregate_id", "version", "topic",
                          "state", "proof"})
GATEWAY_FIELDS = EVENT_FIELDS | {"data"}  # a gateway receipt's event, and its message's bytes

# The numbered steps of ``verify_bundle`` (docs/bundle.md), named in every BundleError.
STEPS = {
    1: "format",
    2: "checkpoint",
    3: "inclusion",
    4: "completeness",
    5: "genesis",
    6: "key histories",
    7: "signatures",
    8: "commands",
    9: "gateway receipts",
    10: "summary",
    11: "PDF signatures",
}


class BundleError(VerificationError):
    """An audit bundle does not verify: names the step and the event."""

    code = "invalid-bundle"

    def __init__(self, step: int, message: str) -> None:
        self.step = step
        super().__init__(f"step {step} ({STEPS[step]}) failed: {message}")


# ---- the bundle's events ---------------------------------------------------------------


@dataclass(kw_only=True)
class BundleEvent:
    """One stored event of the bundle, as read in step 1 and decoded after step 3."""

    leaf_index: int
    notification_id: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes
    proof: list[bytes]
    data: dict[str, Any] = field(default_factory=dict)
    envelope: Envelope | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"event {self.aggregate_id} v{self.version} (leaf {self.leaf_index})"

    @property
    def timestamp(self) -> datetime:
        return self.data["timestamp"]  # type: ignore[no-any-return]

    @property
    def key(self) -> tuple[str, int, str]:
        return (str(self.aggregate_id), self.version, self.topic)

    @property
    def is_statement(self) -> bool:
        assert self.envelope is not None
        return self.envelope.payload_type == STATEMENT_TYPE

    @property
    def command_id(self) -> str:
        """The command that wrote this event: its own, or a ledger statement's cause."""
        if self.is_statement:
            value = self.payload.get("command_id" if self.topic == RECORD_ACCEPTED_TOPIC
                                     else "cause")
        else:
            value = self.payload.get("command_id")
        if not isinstance(value, str):
            raise ValueError("the envelope names no command")
        return value


@dataclass(frozen=True, kw_only=True)
class GatewayEntry:
    """A gateway receipt's stored event, with the message's bytes if the bundle has them."""

    event: BundleEvent
    data: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class Bundle:
    """A bundle as read in step 1: well formed, nothing verified yet."""

    document: UUID
    checkpoint: str
    events: list[BundleEvent]
    checkpoint_timestamp: bytes | None = None  # DER RFC 3161 token over the body
    gateway: list[GatewayEntry] = field(default_factory=list)


def parse_bundle(bundle: Any) -> Bundle:
    """Parse a bundle's JSON (as ``json.loads`` gives it); BundleError (step 1)
    on anything the format does not allow."""
    if not isinstance(bundle, dict):
        raise _fail("the bundle is not a JSON object")
    if bundle.get("format") != FORMAT:
        raise _fail(f"format is {bundle.get('format')!r}, not {FORMAT!r}")
    _known_fields(bundle, BUNDLE_FIELDS, "the bundle")
    try:
        document = UUID(bundle["document"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _fail("document is not a UUID") from None
    if not isinstance(bundle.get("checkpoint"), str):
        raise _fail("checkpoint is not a signed note (text)")
    timestamp = None
    if "checkpoint_timestamp" in bundle:
        try:
            timestamp = base64.b64decode(bundle["checkpoint_timestamp"], validate=True)
        except (TypeError, binascii.Error, ValueError):
            raise _fail("checkpoint_timestamp is not base64") from None
        if not timestamp:
            raise _fail("checkpoint_timestamp is empty")
    raw = bundle.get("events")
    if not isinstance(raw, list) or not raw:
        raise _fail("events is not a non-empty list")
    events: list[BundleEvent] = []
    seen: set[tuple[UUID, int]] = set()
    for position, entry in enumerate(raw):
        event = _parse_event(position, entry)
        if events and event.leaf_index <= events[-1].leaf_index:
            raise _fail("events are not sorted by strictly increasing leaf index", event)
        if (event.aggregate_id, event.version) in seen:
            raise _fail("the same event appears twice", event)
        events.append(event)
        seen.add((event.aggregate_id, event.version))
    return Bundle(document=document, checkpoint=bundle["checkpoint"], events=events,
                  checkpoint_timestamp=timestamp, gateway=_parse_gateway(bundle))


def _parse_gateway(bundle: dict[str, Any]) -> list[GatewayEntry]:
    if "gateway" not in bundle:
        return []
    raw = bundle["gateway"]
    if not isinstance(raw, list) or not raw:
        raise _fail("gateway is not a non-empty list")
    entries: list[GatewayEntry] = []
    for position, entry in enumerate(raw):
        event = _parse_event(position, entry, "gateway", GATEWAY_FIELDS)
        if entries and event.leaf_index <= entries[-1].event.leaf_index:
            raise _fail("gateway receipts are not sorted by strictly increasing leaf index",
                        event)
        data = None
        if "data" in entry:
            try:
                data = base64.b64decode(entry["data"], validate=True)
            except (TypeError, binascii.Error, ValueError):
                raise _fail(f"gateway[{position}].data is not base64") from None
        entries.append(GatewayEntry(event=event, data=data))
    return entries


def _parse_event(position: int, entry: Any, list_name: str = "events",
                 fields: frozenset[str] = EVENT_FIELDS) -> BundleEvent:
    where = f"{list_name}[{position}]"
    if not isinstance(entry, dict):
        raise _fail(f"{where} is not an object")
    _known_fields(entry, fields, where)

    def integer(name: str, least: int) -> int:
        value = entry.get(name)
        if type(value) is not int or value < least:
            raise _fail(f"{where}.{name} is not an integer >= {least}")
        return value

    try:
        aggregate = UUID(entry["aggregate_id"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _fail(f"{where}.aggregate_id is not a UUID") from None
    topic = entry.get("topic")
    if not isinstance(topic, str) or not topic:
        raise _fail(f"{where}.topic is not a string")
    try:
        state = base64.b64decode(entry["state"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise _fail(f"{where}.state is not base64") from None
    proof = entry.get("proof")
    if not isinstance(proof, list) or not all(
            isinstance(h, str) and HEX_HASH.match(h) for h in proof):
        raise _fail(f"{where}.proof is not a list of 64-digit lowercase hex hashes")
    return BundleEvent(
        leaf_index=integer("leaf_index", 0), notification_id=integer("notification_id", 0),
        aggregate_id=aggregate, version=integer("version", 1), topic=topic,
        state=state, proof=[bytes.fromhex(h) for h in proof],
    )


def _known_fields(obj: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(name) for name in obj if name not in known)
    if unknown:
        raise _fail(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}")


def _fail(message: str, event: BundleEvent | None = None) -> BundleError:
    return BundleError(1, f"{event.where}: {message}" if event else message)
