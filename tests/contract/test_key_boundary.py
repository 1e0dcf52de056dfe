"""The revocation instant, through the real ledger on SQLite and PostgreSQL.

A key covers events stamped before its revocation and none stamped at it
(domain/evidence/key_validity.py). The ledger, a document's history, the audit
and the offline bundle verifier must agree at exactly that instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.errors import DocLedgerError, KeyRevokedError
from domain.verification.bundle import verify_bundle
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from infrastructure.ledger import open_log, run_audit, trust_anchors
from tests.factories import RECIPIENT, World

MICROSECOND = timedelta(microseconds=1)


def stop_clock(world: World, at: datetime) -> None:
    """The ledger's clock reads ``at`` from now on, whatever happens."""
    world.app.clock = lambda: at


def verify_everywhere(world: World, document: str) -> None:
    """The document's history, the full audit and its bundle all verify."""
    document_history(world.app, UUID(document))
    registrar_key, ledger_key = trust_anchors(world.settings)
    run_audit(world.app, registrar_key=registrar_key, ledger_key=ledger_key)
    log = open_log(world.settings, world.app)
    verify_bundle(build_bundle(world.app, log, UUID(document)), log.note_key.vkey())


def revoke(world: World, keyid: str) -> datetime:
    return world.act("registrar", "agency.revoke_key", {
        "code": RECIPIENT, "keyid": keyid, "reason": "key compromised"}).received_at


def test_act_a_microsecond_before_the_revocation_is_accepted_everywhere(
        world: World, clock: Any) -> None:
    doc = world.sent()
    old = world.keys[RECIPIENT]
    stop_clock(world, clock.now + timedelta(seconds=1))
    accepted = world.act(RECIPIENT, "delivery.accept", {"document": doc})
    # the clock stands still: only the ledger's strictly increasing times part them
    revoked_at = revoke(world, old.keyid)
    assert accepted.received_at == revoked_at - MICROSECOND
    verify_everywhere(world, doc)


def test_act_signed_with_a_key_at_its_revocation_instant_is_refused(
        world: World, clock: Any) -> None:
    doc = world.sent()
    old = world.keys[RECIPIENT]
    revoked_at = revoke(world, old.keyid)
    stop_clock(world, revoked_at)
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc},
                       signer=old, issued_at=revoked_at)
    before = world.event_count()
    with pytest.raises(DocLedgerError) as refused:
        world.app.execute(raw)
    assert type(refused.value) is KeyRevokedError
    assert world.event_count() == before
    verify_everywhere(world, doc)  # what was recorded still verifies
