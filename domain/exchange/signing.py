"""Building signed commands: what an agency's document system does."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from domain.evidence.envelope import COMMAND_TYPE, Envelope
from domain.evidence.keys import Signer
from domain.exchange.commands import command_payload, latest_schema


def new_command_id() -> str:
    return "cmd-" + secrets.token_hex(12)


def sign_command(
    signer: Signer,
    type: str,
    fields: dict[str, Any],
    *,
    agency: str,
    staff: str,
    command_id: str | None = None,
    issued_at: datetime | None = None,
    schema_version: int | None = None,
) -> bytes:
    """Return the DSSE JSON bytes of a command signed by ``signer``, under the
    latest schema version of its type unless ``schema_version`` says which."""
    at = issued_at or datetime.now(UTC)
    payload = command_payload(
        type=type,
        command_id=command_id or new_command_id(),
        issued_at=at.isoformat(),
        agency=agency,
        staff=staff,
        fields=fields,
        schema_version=latest_schema(type) if schema_version is None else schema_version,
    )
    return Envelope.sign(COMMAND_TYPE, payload, signer).to_json()
