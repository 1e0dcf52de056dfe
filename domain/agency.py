"""Agencies and their key history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import (
    DuplicateError,
    KeyNotActiveError,
    KeyRevokedError,
    NotFoundError,
    UnknownKeyError,
)
from domain.keys import PublicKey
from domain.records import Record, stable_id


@dataclass(frozen=True, kw_only=True)
class KeyEntry:
    """One key of an agency with the times it took and lost effect."""

    key: PublicKey
    effective_from: datetime
    revoked_at: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        """Whether an event recorded at ``at`` may carry this key's signature.

        The revocation instant itself counts as valid: the ledger refuses a
        revoked key outright, so an event stamped with that very instant was
        verified before the revocation was recorded (or is the revocation).
        """
        return self.effective_from <= at and (
            self.revoked_at is None or at <= self.revoked_at
        )


def check_can_sign(entry: KeyEntry | None, keyid: str, owner: str, at: datetime) -> PublicKey:
    """The key of ``entry`` if it may sign something new dated ``at``, else raise."""
    if entry is None:
        raise UnknownKeyError(f"key {keyid} is not a key of {owner}")
    if entry.revoked_at is not None:
        raise KeyRevokedError(
            f"key {keyid} of {owner} was revoked at {entry.revoked_at.isoformat()}")
    if at < entry.effective_from:
        raise KeyNotActiveError(
            f"key {keyid} of {owner} takes effect at {entry.effective_from.isoformat()}, "
            "after the issue time")
    return entry.key


class Agency(Record):
    """A registered agency: code, name and the history of its keys."""

    @staticmethod
    def id_for(code: str) -> UUID:
        return stable_id("agency", code)

    class Registered(Record.Created):
        code: str
        name: str
        keys: list[dict[str, str]]

        def apply(self, agency: Any) -> None:
            agency.code = self.code
            agency.name = self.name
            agency.keys = {}
            for spec in self.keys:
                agency.keys[spec["keyid"]] = KeyEntry(
                    key=PublicKey.from_spec(spec), effective_from=self.timestamp
                )

    class KeyAdded(Record.Event):
        key: dict[str, str]

        def apply(self, agency: Any) -> None:
            agency.keys[self.key["keyid"]] = KeyEntry(
                key=PublicKey.from_spec(self.key), effective_from=self.timestamp
            )

    class KeyRevoked(Record.Event):
        keyid: str
        reason: str

        def apply(self, agency: Any) -> None:
            entry = agency.keys[self.keyid]
            agency.keys[self.keyid] = KeyEntry(
                key=entry.key,
                effective_from=entry.effective_from,
                revoked_at=self.timestamp,
            )

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        code: str
        name: str
        keys: dict[str, KeyEntry]

    def key_for_signing(self, keyid: str, issued_at: datetime) -> PublicKey:
        """The key a new command by this agency may be verified with.

        Refuses unknown keys, keys not yet effective at ``issued_at`` and any
        revoked key (a compromised key could otherwise backdate within the
        clock-skew window).
        """
        return check_can_sign(self.keys.get(keyid), keyid, f"agency {self.code}", issued_at)

    def add_key(self, key: PublicKey, *, envelope: dict[str, Any], at: datetime) -> None:
        if key.keyid in self.keys:
            raise DuplicateError(f"agency {self.code} already has key {key.keyid}")
        self.trigger_event(
            self.KeyAdded, envelope=envelope, timestamp=at, key=key.to_spec()
        )

    def revoke_key(
        self, keyid: str, reason: str, *, envelope: dict[str, Any], at: datetime
    ) -> None:
        entry = self.keys.get(keyid)
        if entry is None:
            raise NotFoundError(f"agency {self.code} has no key {keyid}")
        if entry.revoked_at is not None:
            raise DuplicateError(f"key {keyid} is already revoked")
        self.trigger_event(
            self.KeyRevoked, envelope=envelope, timestamp=at, keyid=keyid, reason=reason
        )
