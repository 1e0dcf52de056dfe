"""The stable names under which aggregates and their events are stored.

Every stored event names its class by a topic, and the topic is part of each
Merkle leaf and of the signed ``ledger.accepted`` statement; a created event also
names its aggregate's class in its state. These names were once module paths
(``domain.document:Document.Sent``); they are frozen here as plain names, and
every aggregate and event class declares its ``TOPIC`` from this table, so that
moving a module or renaming a class never changes a byte that is stored.

Never change or reuse an entry: a class that goes away keeps its name here, so
old history still resolves (see docs/changing-commands.md). A new class gets a new
entry, any unique string; the existing style is kept for readability.
"""

from __future__ import annotations

from typing import Final

ROOT: Final = "domain.root:LedgerRoot"
AGENCY: Final = "domain.agency:Agency"
AUDITOR: Final = "domain.auditor:Auditor"
DOCUMENT: Final = "domain.document:Document"
DELIVERY: Final = "domain.delivery:Delivery"
REGISTER: Final = "domain.register:NumberRegister"
COMMAND_RECORD: Final = "domain.command_log:CommandRecord"
TRUST: Final = "domain.trust:TrustAnchors"
REVOCATION: Final = "domain.revocation:RevocationEvidence"
GATEWAY_RECEIPT: Final = "domain.gateway:GatewayReceipt"

# aggregate -> the events it stores
STORED_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    ROOT: ("Initialised",),
    AGENCY: ("Registered", "KeyAdded", "KeyRevoked", "CertificateAdded"),
    AUDITOR: ("Registered", "KeyRevoked"),
    DOCUMENT: ("Created", "Signed", "Issued", "Sent", "Revised", "AttachmentValidated",
               "HeaderRevised"),
    DELIVERY: ("Dispatched", "Arrived", "Accepted", "Refused", "Assigned", "ProgressReported",
               "Completed", "RecallRequested", "RecallAgreed", "RecallRefused", "Revised",
               "Removed", "IncomingStamped"),
    REGISTER: ("Opened", "NumberTaken"),
    COMMAND_RECORD: ("Accepted",),
    TRUST: ("Opened", "AnchorAdded", "AnchorRemoved"),
    REVOCATION: ("Opened", "Recorded"),
    GATEWAY_RECEIPT: ("Recorded",),
}

# Base classes that are never stored: the library asks every event class of an
# aggregate with an explicit topic for one (each aggregate's inherited ``Created``).
UNSTORED_EVENTS: Final[dict[str, tuple[str, ...]]] = {
    ROOT: ("Created",),
    AGENCY: ("Created",),
    AUDITOR: ("Created",),
    DELIVERY: ("Created", "StatusEvent"),
    REGISTER: ("Created",),
    COMMAND_RECORD: ("Created",),
    TRUST: ("Created",),
    REVOCATION: ("Created",),
    GATEWAY_RECEIPT: ("Created",),
}


def event(aggregate: str, name: str) -> str:
    """The stored topic of the event ``name`` of ``aggregate`` (refuses unknown ones)."""
    if name not in STORED_EVENTS[aggregate] + UNSTORED_EVENTS.get(aggregate, ()):
        raise KeyError(f"{aggregate} has no event {name!r} in the topic table")
    return f"{aggregate}.{name}"


# Every topic the ledger may have stored, for checks that read history.
STORED: Final[frozenset[str]] = frozenset(
    event(aggregate, name) for aggregate, names in STORED_EVENTS.items() for name in names)

GENESIS: Final = event(ROOT, "Initialised")
RECORD_ACCEPTED: Final = event(COMMAND_RECORD, "Accepted")
# A ledger statement of its own, outside any command: what the axis handed over
# or took (docs/gateway.md).
GATEWAY_RECORDED: Final = event(GATEWAY_RECEIPT, "Recorded")
