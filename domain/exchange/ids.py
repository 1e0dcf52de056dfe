"""Names and ids of the ledger's records: the one place they are derived.

Every aggregate id is a UUIDv5 in the docledger namespace of its natural key's
parts joined by U+001F (docs/bundle.md, "Ids"). Only ``uuid5`` is used, so an
outside auditor reimplements the derivation from the documentation; the
aggregates (``id_for``) and the offline bundle verifier both call these.
"""

from __future__ import annotations

import re
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://docledger.invalid/ids")

# The acting party of the registrar's commands (``actor.agency``), in place of
# an agency code.
REGISTRAR = "registrar"

# An auditor's id: 3–40 of lowercase letters, digits and '-', not starting with '-'.
AUDITOR_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,39}$"
AUDITOR_ID = re.compile(AUDITOR_ID_PATTERN)


@lru_cache(maxsize=65536)
def stable_id(*parts: str) -> UUID:
    """Deterministic aggregate id from its natural key (the same few are asked for
    again and again: a document's deliveries, an agency, a register)."""
    return uuid5(ID_NAMESPACE, "\x1f".join(parts))


ROOT_ID = stable_id("ledger-root")
TRUST_ID = stable_id("trust-anchors")
REVOCATION_ID = stable_id("revocation-evidence")


def agency_id(code: str) -> UUID:
    return stable_id("agency", code)


def auditor_record_id(auditor_id: str) -> UUID:
    return stable_id("auditor", auditor_id)


def document_id(sender: str, sender_document_id: str) -> UUID:
    return stable_id("document", sender, sender_document_id)


def delivery_id(document: UUID, recipient: str) -> UUID:
    return stable_id("delivery", str(document), recipient)


def register_id(agency: str, direction: str, year: int) -> UUID:
    return stable_id("register", agency, direction, str(year))


def command_record_id(command_id: str) -> UUID:
    return stable_id("command", command_id)


def gateway_receipt_id(direction: str, agency: str, axis_id: str, sha256: str) -> UUID:
    """A gateway receipt's record: one per message bytes the axis carried, by
    direction, agency and the axis's id (docs/gateway.md)."""
    return stable_id("gateway-receipt", direction, agency, axis_id, sha256)
