"""The trust anchors: CA certificates agency certificates are validated against.

One record for the ledger, changed only by the registrar's signed commands
(``trust.add_anchor``, ``trust.remove_anchor``), so which anchors were in force
at any instant is history like everything else: an anchor is in force at ``T``
when ``added_at <= T < removed_at`` (the rule of ``key_validity.key_valid_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cryptography import x509

from domain import topics
from domain.errors import DuplicateError, NotFoundError
from domain.evidence.certificates import Anchor, certificate_from_b64
from domain.evidence.key_validity import key_valid_at
from domain.exchange.ids import TRUST_ID
from domain.exchange.records import Record


@dataclass(frozen=True, kw_only=True)
class AnchorEntry:
    sha256: str
    certificate: str  # base64 DER
    code_attribute: str
    subject: str
    added_at: datetime
    removed_at: datetime | None = None

    def in_force_at(self, at: datetime) -> bool:
        return key_valid_at(at, effective_from=self.added_at, revoked_at=self.removed_at)

    def anchor(self) -> Anchor:
        return Anchor(certificate=_certificate(self.certificate), sha256=self.sha256,
                      code_attribute=self.code_attribute)


_parsed: dict[str, x509.Certificate] = {}


def _certificate(b64: str) -> x509.Certificate:
    cert = _parsed.get(b64)
    if cert is None:
        cert = _parsed[b64] = certificate_from_b64(b64, "trust anchor")
    return cert


class TrustAnchors(Record):
    """The anchors, ever added, by fingerprint."""

    TOPIC = topics.TRUST

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.TRUST, "Created")

    @staticmethod
    def id_for() -> UUID:
        return TRUST_ID

    class Opened(Record.Created):
        TOPIC = topics.event(topics.TRUST, "Opened")

        def apply(self, trust: Any) -> None:
            trust.anchors = {}

    class AnchorAdded(Record.Event):
        TOPIC = topics.event(topics.TRUST, "AnchorAdded")

        sha256: str
        certificate: str
        code_attribute: str
        subject: str

        def apply(self, trust: Any) -> None:
            trust.anchors[self.sha256] = AnchorEntry(
                sha256=self.sha256, certificate=self.certificate,
                code_attribute=self.code_attribute, subject=self.subject,
                added_at=self.timestamp)

    class AnchorRemoved(Record.Event):
        TOPIC = topics.event(topics.TRUST, "AnchorRemoved")

        sha256: str
        reason: str

        def apply(self, trust: Any) -> None:
            entry: AnchorEntry = trust.anchors[self.sha256]
            trust.anchors[self.sha256] = AnchorEntry(
                sha256=entry.sha256, certificate=entry.certificate,
                code_attribute=entry.code_attribute, subject=entry.subject,
                added_at=entry.added_at, removed_at=self.timestamp)

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        anchors: dict[str, AnchorEntry]

    @classmethod
    def open(cls, *, envelope: dict[str, Any], at: datetime) -> TrustAnchors:
        return cls._create(cls.Opened, id=TRUST_ID, envelope=envelope, timestamp=at)

    def in_force(self, at: datetime) -> list[Anchor]:
        return [e.anchor() for e in self.anchors.values() if e.in_force_at(at)]

    def add(self, *, sha256: str, certificate: str, code_attribute: str, subject: str,
            envelope: dict[str, Any], at: datetime) -> None:
        entry = self.anchors.get(sha256)
        if entry is not None:
            state = ("is already in force" if entry.removed_at is None else
                     f"was removed at {entry.removed_at.isoformat()}; it is not added again")
            raise DuplicateError(f"trust anchor {sha256} ({entry.subject}) {state}")
        self.trigger_event(self.AnchorAdded, envelope=envelope, timestamp=at, sha256=sha256,
                           certificate=certificate, code_attribute=code_attribute,
                           subject=subject)

    def remove(self, sha256: str, reason: str, *, envelope: dict[str, Any],
               at: datetime) -> None:
        entry = self.anchors.get(sha256)
        if entry is None or entry.removed_at is not None:
            raise NotFoundError(f"no trust anchor {sha256} is in force")
        self.trigger_event(self.AnchorRemoved, envelope=envelope, timestamp=at,
                           sha256=sha256, reason=reason)
