"""Verifying gateway receipts (docs/gateway.md), for the audit, the bundle and
an agency's proof: pure functions over the stored event and the message bytes.

1. the stored event is a receipt's: its topic, version 1, a state of exactly
   ``timestamp``, ``envelope`` and ``originator_topic``;
2. the envelope is a ledger statement signed by the ledger key, its payload the
   canonical JSON of a ``gateway.receipt`` with exactly the documented keys;
3. the record's id is the one its (direction, agency, axis id, SHA-256) derive,
   and the event's time is the statement's ``at``;
4. given the bytes: their SHA-256 and size are the statement's, and what they
   say (the trace headers, the message's ids and addressing), read again, is
   exactly what the statement records.

Each function raises ``VerificationError`` naming what failed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import topics
from domain.errors import DocLedgerError, VerificationError
from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.evidence.keys import PublicKey
from domain.evidence.statements import statement_bytes
from domain.exchange.gateway import DIRECTIONS, FACT_KEYS, SERVICE_TYPES, message_facts
from domain.exchange.ids import gateway_receipt_id
from domain.stored_state import decode_state

STATEMENT_KEYS = frozenset({"type", "direction", "agency", "axis_id", "service_type",
                            "sha256", "size", *FACT_KEYS, "at"})
STATE_KEYS = frozenset({"timestamp", "envelope", "originator_topic"})

Verify = Callable[[Envelope, PublicKey], None]


def _verify(envelope: Envelope, key: PublicKey) -> None:
    envelope.verify_with(key)


def open_receipt_event(*, aggregate_id: UUID | str, version: int, topic: str, state: bytes,
                       ledger_key: PublicKey, verify: Verify = _verify) -> dict[str, Any]:
    """Steps 1–3 for one stored event; the receipt's statement."""
    if topic != topics.GATEWAY_RECORDED or version != 1:
        raise VerificationError(f"not a gateway receipt's event ({topic} v{version})")
    try:
        data = decode_state(state)
        envelope = Envelope.from_dict(data["envelope"])
    except (DocLedgerError, ValueError) as exc:
        raise VerificationError(f"undecodable gateway receipt: {exc}") from None
    if set(data) != STATE_KEYS or data["originator_topic"] != topics.GATEWAY_RECEIPT:
        raise VerificationError("the receipt's stored state holds other fields than "
                                f"{sorted(STATE_KEYS)}")
    if envelope.payload_type != STATEMENT_TYPE:
        raise VerificationError("the receipt is not a ledger statement")
    if envelope.signature_by(ledger_key.keyid) is None:
        raise VerificationError("the receipt is not signed by the ledger key")
    verify(envelope, ledger_key)
    statement = _statement(envelope.payload)
    expected = gateway_receipt_id(statement["direction"], statement["agency"],
                                  statement["axis_id"], statement["sha256"])
    if str(expected) != str(aggregate_id):
        raise VerificationError(f"the receipt's record is {aggregate_id}, its statement's "
                                f"is {expected}")
    if datetime.fromisoformat(statement["at"]) != data["timestamp"]:
        raise VerificationError("the receipt's time is not its statement's")
    return statement


def _statement(payload: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except ValueError as exc:
        raise VerificationError(f"the receipt's payload is not JSON: {exc}") from None
    if not isinstance(statement, dict) or statement.get("type") != "gateway.receipt":
        raise VerificationError("the statement is not a gateway.receipt")
    if set(statement) != STATEMENT_KEYS:
        raise VerificationError("the receipt's statement has other keys than documented")
    if statement_bytes(statement) != payload:
        raise VerificationError("the receipt's statement is not in canonical form")
    if statement["direction"] not in DIRECTIONS or statement["service_type"] not in (
            SERVICE_TYPES):
        raise VerificationError("the receipt names an unknown direction or service type")
    for key in ("agency", "axis_id", "sha256", "at"):
        if not isinstance(statement[key], str):
            raise VerificationError(f"the receipt's {key} is not text")
    try:
        datetime.fromisoformat(statement["at"])
    except ValueError:
        raise VerificationError("the receipt's time is not ISO 8601") from None
    return statement


def check_receipt_bytes(statement: dict[str, Any], data: bytes) -> None:
    """Step 4: ``data`` are the bytes the receipt commits to, and say what it says."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != statement["sha256"] or len(data) != statement["size"]:
        raise VerificationError(
            f"the bytes ({len(data)} bytes, sha256 {digest}) are not the receipt's "
            f"({statement['size']} bytes, sha256 {statement['sha256']})")
    found = message_facts(data)
    for key in FACT_KEYS:
        if found[key] != statement[key]:
            raise VerificationError(f"the bytes' {key} read {found[key]!r}, the receipt "
                                    f"records {statement[key]!r}")
