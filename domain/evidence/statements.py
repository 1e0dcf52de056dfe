"""Statements the ledger itself signs (DSSE, payload type STATEMENT_TYPE).

Their payload bytes are produced deterministically from their content, so an
auditor replaying history can reproduce them byte for byte and check the
stored signature with the ledger's public key, without its private key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.evidence.json_bytes import compact
from domain.evidence.keys import Signer


def statement_bytes(content: dict[str, Any]) -> bytes:
    return compact(content, sort_keys=True)


def timestamp_text(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def accepted_statement(
    *,
    command_id: str,
    payload_sha256: str,
    received_at: datetime,
    events: list[list[Any]],
    result: dict[str, Any],
) -> dict[str, Any]:
    """The ledger's word that it accepted a command and wrote these events."""
    return {
        "type": "ledger.accepted",
        "command_id": command_id,
        "payload_sha256": payload_sha256,
        "received_at": timestamp_text(received_at),
        "events": events,
        "result": result,
    }


def arrived_statement(
    *, command_id: str, document: str, recipient: str, at: datetime
) -> dict[str, Any]:
    """Status 01: the document arrived in the recipient's inbox on the ledger."""
    return {
        "type": "delivery.arrived",
        "cause": command_id,
        "document": document,
        "recipient": recipient,
        "status": "01",
        "at": timestamp_text(at),
    }


def gateway_statement(
    *,
    direction: str,
    agency: str,
    axis_id: str,
    service_type: str,
    sha256: str,
    size: int,
    facts: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """The ledger was handed (``in``) or handed the axis (``out``) these exact bytes
    for ``agency`` under the axis's id ``axis_id`` at ``at``. ``facts`` are what
    the bytes say, read from them (``domain.exchange.gateway.message_facts``):
    ``readable``, ``trace``, ``document_id``, ``from``, ``to``, ``response_for``."""
    return {
        "type": "gateway.receipt",
        "direction": direction,
        "agency": agency,
        "axis_id": axis_id,
        "service_type": service_type,
        "sha256": sha256,
        "size": size,
        **facts,
        "at": timestamp_text(at),
    }


def sign_statement(content: dict[str, Any], signer: Signer) -> Envelope:
    return Envelope.sign(STATEMENT_TYPE, statement_bytes(content), signer)
