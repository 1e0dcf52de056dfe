"""Agencies and their key history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.errors import (
    DuplicateError,
    KeyExpiredError,
    KeyNotActiveError,
    KeyRevokedError,
    NotFoundError,
    UnknownKeyError,
)
from domain.evidence.certificates import CertifiedKey, certificate_from_b64
from domain.evidence.key_validity import certificate_covers, key_valid_at
from domain.evidence.keys import PublicKey
from domain.evidence.revocation import certificate_ref
from domain.exchange.ids import agency_id
from domain.exchange.records import Record


@dataclass(frozen=True, kw_only=True)
class KeyEntry:
    """One key of an agency with the times it took and lost effect."""

    key: PublicKey
    effective_from: datetime
    revoked_at: datetime | None = None
    # the validity period of the certificate that vouches for the key, if one does
    not_before: datetime | None = None
    not_after: datetime | None = None
    certificate: str | None = None  # base64 DER
    # (issuer name hash, serial hex): what revocation evidence names the certificate by
    ref: tuple[str, str] | None = None

    def valid_at(self, at: datetime) -> bool:
        """Whether an event recorded at ``at`` may carry this key's signature
        (``key_valid_at``: not at the revocation instant itself, and within its
        certificate's validity period)."""
        return key_valid_at(at, effective_from=self.effective_from, revoked_at=self.revoked_at,
                            not_before=self.not_before, not_after=self.not_after)

    def certificate_covers(self, at: datetime) -> bool:
        return certificate_covers(at, not_before=self.not_before, not_after=self.not_after)


class KeyHolder:
    """Key history shared by agencies and auditors: who may sign, revocation.

    The class using it defines ``keys``, a ``KeyRevoked`` event and ``owner``.
    """

    keys: dict[str, KeyEntry]
    KeyRevoked: Any

    @property
    def owner(self) -> str:
        raise NotImplementedError

    def key_for_signing(self, keyid: str, at: datetime, *,
                        recorded_at: datetime | None = None) -> PublicKey:
        """The key something new dated ``at`` by this party may be verified with.

        Refuses unknown keys and any revoked key (a compromised key could
        otherwise backdate within the clock-skew window); the key must be valid
        (``key_valid_at``) at ``at`` and at ``recorded_at``, the time the ledger
        records the act with, which is what every verifier checks later.
        """
        entry = self.keys.get(keyid)
        if entry is None:
            raise UnknownKeyError(f"key {keyid} is not a key of {self.owner}")
        if entry.revoked_at is not None:
            raise KeyRevokedError(
                f"key {keyid} of {self.owner} was revoked at {entry.revoked_at.isoformat()}")
        for instant, what in ((at, "the issue time"), (recorded_at, "the ledger's time")):
            if instant is not None and not entry.certificate_covers(instant):
                raise KeyExpiredError(
                    f"key {keyid} of {self.owner}: its certificate is valid from "
                    f"{_iso(entry.not_before)} to {_iso(entry.not_after)}, not at {what} "
                    f"{instant.isoformat()}")
            if instant is not None and not entry.valid_at(instant):
                raise KeyNotActiveError(
                    f"key {keyid} of {self.owner} takes effect at "
                    f"{entry.effective_from.isoformat()}, after {what}")
        return entry.key

    def revoke_key(self, keyid: str, reason: str, *, envelope: dict[str, Any],
                   at: datetime) -> None:
        entry = self.keys.get(keyid)
        if entry is None:
            raise NotFoundError(f"{self.owner} has no key {keyid}")
        if entry.revoked_at is not None:
            raise DuplicateError(f"key {keyid} is already revoked")
        self.trigger_event(  # type: ignore[attr-defined]
            self.KeyRevoked, envelope=envelope, timestamp=at, keyid=keyid, reason=reason)


def _iso(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat()


def keys_from(specs: list[dict[str, str]], at: datetime) -> dict[str, KeyEntry]:
    return {spec["keyid"]: KeyEntry(key=PublicKey.from_spec(spec), effective_from=at)
            for spec in specs}


def revoked(keys: dict[str, KeyEntry], keyid: str, at: datetime) -> dict[str, KeyEntry]:
    entry = keys[keyid]
    return {**keys, keyid: KeyEntry(key=entry.key, effective_from=entry.effective_from,
                                    revoked_at=at, not_before=entry.not_before,
                                    not_after=entry.not_after,
                                    certificate=entry.certificate, ref=entry.ref)}


class Agency(KeyHolder, Record):
    """A registered agency: code, name and the history of its keys."""

    TOPIC = topics.AGENCY

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.AGENCY, "Created")

    @staticmethod
    def id_for(code: str) -> UUID:
        return agency_id(code)

    class Registered(Record.Created):
        TOPIC = topics.event(topics.AGENCY, "Registered")

        code: str
        name: str
        keys: list[dict[str, str]]

        def apply(self, agency: Any) -> None:
            agency.code = self.code
            agency.name = self.name
            agency.keys = keys_from(self.keys, self.timestamp)

    class KeyAdded(Record.Event):
        TOPIC = topics.event(topics.AGENCY, "KeyAdded")

        key: dict[str, str]

        def apply(self, agency: Any) -> None:
            agency.keys[self.key["keyid"]] = KeyEntry(
                key=PublicKey.from_spec(self.key), effective_from=self.timestamp
            )

    class CertificateAdded(Record.Event):
        """A key an X.509 certificate vouches for, with the certificate and the chain
        it was validated with (docs/trust.md)."""

        TOPIC = topics.event(topics.AGENCY, "CertificateAdded")

        key: dict[str, str]
        certificate: str  # base64 DER
        chain: list[str]  # base64 DER, as given
        anchor: str  # SHA-256 of the trust anchor's DER
        binding: str  # the subject attribute naming the agency, or "registrar"
        not_before: str  # the certificate's validity period, ISO 8601 UTC
        not_after: str

        def apply(self, agency: Any) -> None:
            agency.keys[self.key["keyid"]] = KeyEntry(
                key=PublicKey.from_spec(self.key), effective_from=self.timestamp,
                not_before=datetime.fromisoformat(self.not_before),
                not_after=datetime.fromisoformat(self.not_after), certificate=self.certificate,
                ref=certificate_ref(certificate_from_b64(self.certificate)))

    class KeyRevoked(Record.Event):
        TOPIC = topics.event(topics.AGENCY, "KeyRevoked")

        keyid: str
        reason: str

        def apply(self, agency: Any) -> None:
            agency.keys = revoked(agency.keys, self.keyid, self.timestamp)

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        code: str
        name: str
        keys: dict[str, KeyEntry]

    @property
    def owner(self) -> str:
        return f"agency {self.code}"

    def add_key(self, key: PublicKey, *, envelope: dict[str, Any], at: datetime) -> None:
        if key.keyid in self.keys:
            raise DuplicateError(f"agency {self.code} already has key {key.keyid}")
        self.trigger_event(
            self.KeyAdded, envelope=envelope, timestamp=at, key=key.to_spec()
        )

    def add_certificate(self, certified: CertifiedKey, *, certificate: str, chain: list[str],
                        envelope: dict[str, Any], at: datetime) -> None:
        if certified.key.keyid in self.keys:
            raise DuplicateError(f"agency {self.code} already has key {certified.key.keyid}")
        self.trigger_event(
            self.CertificateAdded, envelope=envelope, timestamp=at,
            key=certified.key.to_spec(), certificate=certificate, chain=chain,
            anchor=certified.anchor, binding=certified.binding,
            not_before=certified.not_before.isoformat(),
            not_after=certified.not_after.isoformat())
