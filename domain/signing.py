"""Building signed commands: what an agency's document system does."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from domain.commands import command_payload
from domain.envelope import COMMAND_TYPE, Envelope
from domain.keys import Signer


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
) -> bytes:
    """Return the DSSE JSON bytes of a command signed by ``signer``."""
    at = issued_at or datetime.now(UTC)
    payload = command_payload(
        type=type,
        command_id=command_id or new_command_id(),
        issued_at=at.isoformat(),
        agency=agency,
        staff=staff,
        fields=fields,
    )
    return Envelope.sign(COMMAND_TYPE, payload, signer).to_json()
