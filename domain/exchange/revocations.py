"""The revocation evidence the ledger holds: CRLs and OCSP responses, recorded by
the registrar's signed ``revocation.record`` commands (``docledger revocation
refresh`` fetches them).

A certificate-backed key's signature at ``T`` is judged against the evidence the
ledger held at ``T`` (recorded at or before ``T``): it is refused when that evidence
says the certificate was revoked at or before ``T``. A revocation at ``R``
invalidates signatures from ``R`` on, never those before (docs/trust.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.errors import CertificateRevokedError
from domain.evidence.revocation import EvidenceFacts
from domain.exchange.ids import REVOCATION_ID
from domain.exchange.records import Record


@dataclass(frozen=True, kw_only=True)
class KnownRevocation:
    at: datetime  # when the certificate was revoked, as the evidence says
    reason: str
    recorded_at: datetime  # when the ledger came to hold the evidence


def revoked_before(known: list[KnownRevocation], at: datetime) -> KnownRevocation | None:
    """The revocation held at ``at`` that covers ``at``, if any (the earliest)."""
    held = [k for k in known if k.recorded_at <= at and k.at <= at]
    return min(held, key=lambda k: k.at) if held else None


class RevocationEvidence(Record):
    """Every CRL and OCSP response recorded, and what they say, by certificate."""

    TOPIC = topics.REVOCATION

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.REVOCATION, "Created")

    @staticmethod
    def id_for() -> UUID:
        return REVOCATION_ID

    class Opened(Record.Created):
        TOPIC = topics.event(topics.REVOCATION, "Opened")

        def apply(self, evidence: Any) -> None:
            evidence.revocations = {}

    class Recorded(Record.Event):
        TOPIC = topics.event(topics.REVOCATION, "Recorded")

        kind: str  # "crl" or "ocsp"
        evidence: str  # base64 DER, as fetched
        issuer_certificate: str  # base64 DER of the certificate it was checked with
        issuer: str  # SHA-256 of the issuer's name DER
        this_update: str  # ISO 8601
        revoked: list[list[str]]  # [serial hex, revoked at ISO 8601, reason]

        def apply(self, evidence: Any) -> None:
            for serial, at, reason in self.revoked:
                evidence.revocations.setdefault((self.issuer, serial), []).append(
                    KnownRevocation(at=datetime.fromisoformat(at), reason=reason,
                                    recorded_at=self.timestamp))

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        revocations: dict[tuple[str, str], list[KnownRevocation]]

    @classmethod
    def open(cls, *, envelope: dict[str, Any], at: datetime) -> RevocationEvidence:
        return cls._create(cls.Opened, id=REVOCATION_ID, envelope=envelope, timestamp=at)

    def record(self, facts: EvidenceFacts, *, evidence: str, issuer_certificate: str,
               envelope: dict[str, Any], at: datetime) -> None:
        self.trigger_event(
            self.Recorded, envelope=envelope, timestamp=at, kind=facts.kind,
            evidence=evidence, issuer_certificate=issuer_certificate, issuer=facts.issuer,
            this_update=facts.this_update.isoformat(),
            revoked=[[r.serial, r.at.isoformat(), r.reason] for r in facts.revoked])

    def revoked_at(self, ref: tuple[str, str], at: datetime) -> KnownRevocation | None:
        return revoked_before(self.revocations.get(ref, []), at)


def check_not_revoked(entry_ref: tuple[str, str] | None, keyid: str, owner: str,
                      evidence: RevocationEvidence | None, at: datetime) -> None:
    """Refuse a certificate-backed key whose certificate the evidence held at ``at``
    says was revoked at or before ``at``."""
    if entry_ref is None or evidence is None:
        return
    known = evidence.revoked_at(entry_ref, at)
    if known is not None:
        raise CertificateRevokedError(
            f"key {keyid} of {owner}: its certificate was revoked at {known.at.isoformat()} "
            f"({known.reason}; evidence recorded at {known.recorded_at.isoformat()})")
