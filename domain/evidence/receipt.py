"""Receipts: the ledger's signed word on what an accepted command wrote.

A receipt is a DSSE envelope (payload type STATEMENT_TYPE) signed by the
ledger key over JSON with sorted keys::

    {"type": "ledger.receipt", "origin", "command_id", "payload_sha256",
     "received_at", "events": [{"aggregate_id", "version", "topic",
     "notification_id", "leaf_hash" (hex)}, …]}

Its bytes depend only on what was stored, so asking again for the receipt of
a command returns the same bytes. Keeping it lets a client later demand the
inclusion proof of exactly those leaf hashes.
"""

from __future__ import annotations

import json
from typing import Any

from domain.errors import VerificationError
from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.evidence.keys import PublicKey, Signer
from domain.evidence.statements import statement_bytes


def receipt_content(*, origin: str, command_id: str, payload_sha256: str, received_at: str,
                    events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "ledger.receipt", "origin": origin, "command_id": command_id,
            "payload_sha256": payload_sha256, "received_at": received_at, "events": events}


def sign_receipt(content: dict[str, Any], signer: Signer) -> dict[str, Any]:
    return Envelope.sign(STATEMENT_TYPE, statement_bytes(content), signer).to_dict()


def open_receipt(receipt: dict[str, Any], ledger_key: PublicKey) -> dict[str, Any]:
    """Verify a receipt's ledger signature and return its content."""
    envelope = Envelope.from_dict(receipt)
    envelope.verify_with(ledger_key)
    content = json.loads(envelope.payload)
    if not isinstance(content, dict) or content.get("type") != "ledger.receipt":
        raise VerificationError("the envelope is not a ledger receipt")
    return content
