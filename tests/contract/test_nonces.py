"""The API's nonce store, on SQLite and PostgreSQL: each nonce is claimed once,
by any process on the database, until it may be forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from infrastructure.ledger import open_ledger
from infrastructure.nonces import NonceStore
from tests.factories import World

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEEP_UNTIL = NOW + timedelta(minutes=5)


def test_replayed_nonce_is_refused_by_every_process_on_the_store(world: World) -> None:
    here = NonceStore.beside(world.app)
    assert here.claim("nonce-0123456789abcdef", KEEP_UNTIL, NOW)
    assert not here.claim("nonce-0123456789abcdef", KEEP_UNTIL, NOW + timedelta(minutes=1))
    other_process = open_ledger(world.settings, clock=world.app.clock)
    try:
        elsewhere = NonceStore.beside(other_process)
        assert not elsewhere.claim("nonce-0123456789abcdef", KEEP_UNTIL, NOW)
        assert elsewhere.claim("nonce-fedcba9876543210", KEEP_UNTIL, NOW)
    finally:
        other_process.close()


def test_replayed_nonce_is_refused_until_its_keep_until_and_then_forgotten(
        world: World) -> None:
    nonces = NonceStore.beside(world.app)
    assert nonces.claim("nonce-0123456789abcdef", KEEP_UNTIL, NOW)
    assert not nonces.claim("nonce-0123456789abcdef", KEEP_UNTIL, KEEP_UNTIL)
    later = KEEP_UNTIL + timedelta(seconds=1)
    assert nonces.claim("nonce-0123456789abcdef", later + timedelta(minutes=5), later)
