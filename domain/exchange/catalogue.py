"""Who may give each command, and which records it writes: the command catalogue.

The ledger checks the acting party against it before a command's own rules
run (domain/ledger/handlers.py), and the offline bundle verifier checks every
event against it (domain/verification/bundle.py, step 8): a command may write
only the kinds of record its entry names, and only its role may give it. A test
replays the golden ledger against this table (tests/domain/test_catalogue.py).
Every command also writes its command record (``topics.COMMAND_RECORD``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import topics


class Role(StrEnum):
    """Who may give a command."""

    REGISTRAR = "registrar"  # only the registrar
    KEY_HOLDER = "the agency or the registrar"  # the agency of fields.code, or the registrar
    SENDER = "sender"  # the document's sender (document.create: the agency that becomes it)
    RECIPIENT = "recipient"  # the recipient of the document's delivery to it


@dataclass(frozen=True, kw_only=True)
class CommandEntry:
    """One command type: who gives it and the records (aggregate topics) it writes."""

    role: Role
    writes: frozenset[str]


def _entry(role: Role, *writes: str) -> CommandEntry:
    return CommandEntry(role=role, writes=frozenset(writes))


R = Role
CATALOGUE: dict[str, CommandEntry] = {
    "ledger.init": _entry(R.REGISTRAR, topics.ROOT),
    "agency.register": _entry(R.REGISTRAR, topics.AGENCY),
    "agency.add_key": _entry(R.KEY_HOLDER, topics.AGENCY),
    "agency.revoke_key": _entry(R.KEY_HOLDER, topics.AGENCY),
    "auditor.register": _entry(R.REGISTRAR, topics.AUDITOR),
    "auditor.revoke_key": _entry(R.REGISTRAR, topics.AUDITOR),
    "trust.add_anchor": _entry(R.REGISTRAR, topics.TRUST),
    "trust.remove_anchor": _entry(R.REGISTRAR, topics.TRUST),
    "agency.add_cert": _entry(R.KEY_HOLDER, topics.AGENCY),
    "revocation.record": _entry(R.REGISTRAR, topics.REVOCATION),
    "document.create": _entry(R.SENDER, topics.DOCUMENT),
    "document.sign": _entry(R.SENDER, topics.DOCUMENT),
    "document.issue": _entry(R.SENDER, topics.DOCUMENT, topics.REGISTER),
    "document.send": _entry(R.SENDER, topics.DOCUMENT, topics.DELIVERY),
    "document.revise": _entry(R.SENDER, topics.DOCUMENT, topics.DELIVERY),
    "delivery.accept": _entry(R.RECIPIENT, topics.DELIVERY, topics.REGISTER),
    "delivery.refuse": _entry(R.RECIPIENT, topics.DELIVERY),
    "delivery.assign": _entry(R.RECIPIENT, topics.DELIVERY),
    "delivery.progress": _entry(R.RECIPIENT, topics.DELIVERY),
    "delivery.complete": _entry(R.RECIPIENT, topics.DELIVERY),
    "delivery.recall": _entry(R.SENDER, topics.DELIVERY),
    "delivery.answer_recall": _entry(R.RECIPIENT, topics.DELIVERY),
}


def given_by(role: Role) -> frozenset[str]:
    """The command types ``role`` gives."""
    return frozenset(t for t, entry in CATALOGUE.items() if entry.role is role)


def writing(record_topic: str) -> frozenset[str]:
    """The command types that may write records of ``record_topic``."""
    return frozenset(t for t, entry in CATALOGUE.items() if record_topic in entry.writes)


def record_topic_of(event_topic: str) -> str:
    """The record (aggregate topic) a stored event topic belongs to:
    ``domain.delivery:Delivery.Accepted`` -> ``domain.delivery:Delivery``."""
    return event_topic.rsplit(".", 1)[0]
