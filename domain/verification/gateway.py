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

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import topics
from domain.errors import DocLedgerError, VerificationError
from domain.evidence.checkpoint import NoteKey, open_checkpoint
from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.evidence.keys import PublicKey, public_key_from_raw
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import verify_inclusion
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


def command_source(payload: dict[str, Any]) -> str | None:
    """The SHA-256 of the message a signed command was made from (its ``source``)."""
    fields = payload.get("fields") if "actor" in payload else None
    source = fields.get("source") if isinstance(fields, dict) else None
    digest = source.get("sha256") if isinstance(source, dict) else None
    return digest if isinstance(digest, str) else None


def about_document(statement: dict[str, Any], *, sources: set[str], document_id: str,
                   parties: set[str]) -> bool:
    """A receipt belongs to a document's evidence when the ledger made one of the
    document's commands from its bytes (the command's ``source``), or when it is a
    message with the document's edXML DocumentId (a status message: the one it
    responds for) that the axis carried for one of the document's parties."""
    if statement["sha256"] in sources:
        return True
    return statement["document_id"] == document_id and statement["agency"] in parties


# ---- an agency's proof of what the axis carried -----------------------------------

PROOF_FORMAT = "docledger-gateway-proof/1"
PROOF_FIELDS = frozenset({"format", "checkpoint", "receipts", "data"})
RECEIPT_FIELDS = frozenset({"leaf_index", "notification_id", "aggregate_id", "version",
                            "topic", "state", "proof"})


def verify_gateway_proof(proof: Any, vkey: str,
                         data: bytes | None = None) -> list[dict[str, Any]]:
    """Verify a gateway proof (docs/gateway.md, "Proving what the axis delivered")
    offline against the ledger's verifier key: the checkpoint is the ledger's, each
    receipt is in its tree and is the ledger's statement, and the bytes (given, or
    the proof's ``data``) are each receipt's. Returns the receipts' statements."""
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise VerificationError(f"not a {PROOF_FORMAT} proof")
    unknown = sorted(set(proof) - PROOF_FIELDS)
    if unknown:
        raise VerificationError(f"the proof has unknown field(s) {unknown}")
    note_key = NoteKey.parse(vkey)
    checkpoint = open_checkpoint(_text(proof, "checkpoint"), note_key)
    ledger_key = public_key_from_raw(note_key.raw)
    if "data" in proof:
        carried = _base64(proof["data"], "data")
        if data is not None and carried != data:
            raise VerificationError("the proof's bytes are not the bytes given")
        data = carried
    receipts = proof.get("receipts")
    if not isinstance(receipts, list) or not receipts:
        raise VerificationError("the proof holds no receipt")
    statements = []
    for position, receipt in enumerate(receipts):
        where = f"receipts[{position}]"
        if not isinstance(receipt, dict) or set(receipt) != RECEIPT_FIELDS:
            raise VerificationError(f"{where} does not have exactly {sorted(RECEIPT_FIELDS)}")
        index, version = receipt["leaf_index"], receipt["version"]
        if type(index) is not int or type(version) is not int or not isinstance(
                receipt["topic"], str) or not isinstance(receipt["proof"], list):
            raise VerificationError(f"{where} is malformed")
        if index >= checkpoint.size:
            raise VerificationError(f"{where}: leaf {index} is not under the checkpoint "
                                    f"of size {checkpoint.size}")
        state = _base64(receipt["state"], f"{where}.state")
        try:
            aggregate = UUID(_text(receipt, "aggregate_id"))
            hashes = [bytes.fromhex(h) for h in receipt["proof"]]
        except (ValueError, TypeError):
            raise VerificationError(f"{where} is malformed") from None
        leaf = event_leaf_hash(aggregate, version, receipt["topic"], state)
        try:
            verify_inclusion(index, checkpoint.size, leaf, hashes, checkpoint.root)
        except VerificationError as exc:
            raise VerificationError(f"{where}: not in the checkpointed log: {exc}") from None
        statement = open_receipt_event(aggregate_id=aggregate, version=version,
                                       topic=receipt["topic"], state=state,
                                       ledger_key=ledger_key)
        if data is not None:
            check_receipt_bytes(statement, data)
        statements.append(statement)
    return statements


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise VerificationError(f"{name} is not text")
    return value


def _base64(value: Any, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (TypeError, binascii.Error, ValueError):
        raise VerificationError(f"{name} is not base64") from None
