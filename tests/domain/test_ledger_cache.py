"""The ledger's aggregate cache is guarded by whatever guard it is given.

A cache that is not fast-forwarded per read would serve what other writers
changed unless a guard keeps it true to the log; the guard is an adapter
(``infrastructure.cache_guard``) the ledger knows only through the protocol in
``domain.ledger.cache``. Here a fake guard records what the ledger asks of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application

from domain.evidence.keys import Ed25519Signer
from domain.exchange.root import ROOT_ID
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger
from tests.factories import ManualClock

UNGUARDED_CACHE = {"PERSISTENCE_MODULE": "eventsourcing.popo",
                   "AGGREGATE_CACHE_MAXSIZE": "100", "AGGREGATE_CACHE_FASTFORWARD": "n"}


class FakeGuard:
    """Records the ledger's calls instead of reading a log."""

    def __init__(self, app: Application, *, sole_writer: bool) -> None:
        self.app, self.sole_writer = app, sole_writer
        self.refreshed = 0
        self.committed_ids: list[int] = []
        self.forgotten: list[UUID] = []

    def refresh(self) -> None:
        self.refreshed += 1

    def committed(self, notification_ids: Iterable[int], aggregates: Iterable[Any]) -> None:
        self.committed_ids += list(notification_ids)

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        self.forgotten += list(aggregate_ids)


def init(app: DocLedger) -> None:
    registrar = Ed25519Signer.generate()
    app.execute(sign_command(registrar, "ledger.init", {
        "origin": "example.gov.vn/ledger", "registrar_key": registrar.public_key.to_spec(),
        "ledger_key": app.ledger_signer.public_key.to_spec(), "max_clock_skew_seconds": 300,
    }, agency="registrar", staff="init"))


def test_unguarded_cache_that_is_not_fast_forwarded_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a cache guard"):
        DocLedger(UNGUARDED_CACHE, ledger_signer=Ed25519Signer.generate(), clock=ManualClock())


def test_the_ledger_asks_its_guard_before_each_command_and_tells_it_what_it_committed(
        ) -> None:
    app = DocLedger(UNGUARDED_CACHE, ledger_signer=Ed25519Signer.generate(),
                    clock=ManualClock(), cache_guard=FakeGuard)
    guard = app.cache_guard
    assert isinstance(guard, FakeGuard) and guard.app is app and not guard.sole_writer
    init(app)
    assert guard.refreshed == 1
    assert guard.committed_ids == list(range(1, (app.recorder.max_notification_id() or 0) + 1))
    assert app.find(type(app.root()), ROOT_ID) is not None
    assert guard.refreshed >= 2  # reads outside a command look at the log too


def test_a_sole_writer_says_so_to_its_guard() -> None:
    app = DocLedger(UNGUARDED_CACHE | {DocLedger.SOLE_WRITER: "y"},
                    ledger_signer=Ed25519Signer.generate(), clock=ManualClock(),
                    cache_guard=FakeGuard)
    assert isinstance(app.cache_guard, FakeGuard) and app.cache_guard.sole_writer


def test_a_fast_forwarded_cache_needs_no_guard() -> None:
    app = DocLedger(UNGUARDED_CACHE | {"AGGREGATE_CACHE_FASTFORWARD": "y"},
                    ledger_signer=Ed25519Signer.generate(), clock=ManualClock(),
                    cache_guard=FakeGuard)
    assert app.cache_guard is None
