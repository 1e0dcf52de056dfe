"""Auditors: registered by the registrar, they read audit trails and nothing else."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.agency import KeyEntry, check_can_sign
from domain.errors import DuplicateError, InvalidInputError, NotFoundError
from domain.keys import PublicKey
from domain.records import Record, stable_id

AUDITOR_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,39}")


def check_auditor_id(value: str) -> str:
    if not isinstance(value, str) or not AUDITOR_ID.fullmatch(value):
        raise InvalidInputError(f"invalid auditor id {value!r}: 3–40 of a-z, 0-9 and '-'")
    return value


class Auditor(Record):
    """An inspectorate, archive or court reading the ledger with its own keys."""

    @staticmethod
    def id_for(auditor_id: str) -> UUID:
        return stable_id("auditor", auditor_id)

    class Registered(Record.Created):
        auditor_id: str
        name: str
        keys: list[dict[str, str]]

        def apply(self, auditor: Any) -> None:
            auditor.auditor_id = self.auditor_id
            auditor.name = self.name
            auditor.keys = {spec["keyid"]: KeyEntry(key=PublicKey.from_spec(spec),
                                                    effective_from=self.timestamp)
                            for spec in self.keys}

    class KeyRevoked(Record.Event):
        keyid: str
        reason: str

        def apply(self, auditor: Any) -> None:
            entry = auditor.keys[self.keyid]
            auditor.keys[self.keyid] = KeyEntry(key=entry.key, effective_from=entry.effective_from,
                                                revoked_at=self.timestamp)

    if TYPE_CHECKING:  # set by the events' apply(), not by __init__
        auditor_id: str
        name: str
        keys: dict[str, KeyEntry]

    def key_for_signing(self, keyid: str, at: datetime) -> PublicKey:
        """The key a request signed now by this auditor may be verified with."""
        return check_can_sign(self.keys.get(keyid), keyid, f"auditor {self.auditor_id}", at)

    def revoke_key(self, keyid: str, reason: str, *, envelope: dict[str, Any],
                   at: datetime) -> None:
        entry = self.keys.get(keyid)
        if entry is None:
            raise NotFoundError(f"auditor {self.auditor_id} has no key {keyid}")
        if entry.revoked_at is not None:
            raise DuplicateError(f"key {keyid} is already revoked")
        self.trigger_event(self.KeyRevoked, envelope=envelope, timestamp=at, keyid=keyid,
                           reason=reason)
