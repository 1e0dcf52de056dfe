"""The key-validity rule and the ledger's strictly increasing times.

A key covers ``effective_from <= T < revoked_at``: every verifier decides with
``key_valid_at``, so they agree at the revocation instant itself. The ledger
never records two commands at one instant, so it cannot record an act at the
instant of a revocation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.errors import KeyRevokedError
from domain.evidence.key_validity import key_valid_at
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger
from domain.verification import bundle as b
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from tests.bundle_support import MemoryLog
from tests.factories import OTHER, RECIPIENT, SENDER, World, header

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
LATER = T + timedelta(seconds=1)  # an issue time after the keys' registration
ORIGIN = "example.gov.vn/ledger"


def test_a_key_is_valid_from_its_effective_instant_until_just_before_its_revocation() -> None:
    start, end = T, T + timedelta(hours=1)
    assert not key_valid_at(start - MICROSECOND, effective_from=start, revoked_at=end)
    assert key_valid_at(start, effective_from=start, revoked_at=end)
    assert key_valid_at(end - MICROSECOND, effective_from=start, revoked_at=end)
    assert not key_valid_at(end, effective_from=start, revoked_at=end)
    assert key_valid_at(end, effective_from=start, revoked_at=None)


class StoppedClock:
    """A clock that reads the same instant until moved."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def in_memory_world(clock: StoppedClock, env: dict[str, str] | None = None
                    ) -> tuple[World, Ed25519Signer]:
    signer, registrar = Ed25519Signer.generate(), Ed25519Signer.generate()
    app = DocLedger(env, ledger_signer=signer, clock=clock)
    app.execute(sign_command(registrar, "ledger.init", {
        "origin": ORIGIN, "registrar_key": registrar.public_key.to_spec(),
        "ledger_key": signer.public_key.to_spec(), "max_clock_skew_seconds": 300,
    }, agency="registrar", staff="init", issued_at=clock.at))
    world = World(app=app, settings=None, registrar=registrar)  # type: ignore[arg-type]
    for code in (SENDER, RECIPIENT, OTHER):
        world.register(code)
    return world, signer


def test_commands_read_at_one_clock_instant_get_strictly_increasing_times() -> None:
    world, _ = in_memory_world(StoppedClock(T))
    first = world.act(SENDER, "document.create", {
        "document_id": "a,2026/12/01,1", "header": header()}, issued_at=LATER)
    batch = world.app.execute_batch([
        world.signed(SENDER, "document.create", {
            "document_id": f"a,2026/12/01,{n}", "header": header()}, issued_at=LATER)
        for n in (2, 3)])
    times = [first.received_at, *(o.received_at for o in batch)]  # type: ignore[union-attr]
    assert times == sorted(set(times)) and times[0] > T  # init and registrations came first
    assert times[1] - times[0] == MICROSECOND


def test_a_clock_that_steps_back_does_not_take_the_ledger_back() -> None:
    clock = StoppedClock(T)
    world, _ = in_memory_world(clock)
    before = world.act(SENDER, "document.create", {
        "document_id": "a,2026/12/01,1", "header": header()}, issued_at=LATER).received_at
    clock.at = T - timedelta(seconds=5)
    after = world.act(SENDER, "document.create", {
        "document_id": "a,2026/12/01,2", "header": header()}, issued_at=LATER).received_at
    assert after == before + MICROSECOND


def test_a_replay_takes_recorded_times_exactly() -> None:
    world, _ = in_memory_world(StoppedClock(T), {DocLedger.RECORDED_TIMES: "y"})
    outcome = world.act(SENDER, "document.create", {
        "document_id": "a,2026/12/01,1", "header": header()}, issued_at=T)
    assert outcome.received_at == T


def test_act_recorded_at_the_revocation_instant_is_refused_by_the_verifiers() -> None:
    """A ledger whose clock repeated an instant (as before times were strictly
    increasing) recorded an act at the very instant its key was revoked: the
    offline bundle verifier and the document's history both refuse it."""
    world, signer = in_memory_world(StoppedClock(T), {DocLedger.RECORDED_TIMES: "y"})
    doc = world.sent()
    old = world.keys[RECIPIENT]
    world.act(RECIPIENT, "delivery.accept", {"document": doc}, issued_at=T)
    world.act("registrar", "agency.revoke_key", {
        "code": RECIPIENT, "keyid": old.keyid, "reason": "key compromised"}, issued_at=T)
    with pytest.raises(KeyRevokedError, match="was not valid at"):
        document_history(world.app, UUID(doc))
    log = MemoryLog(world.app, signer, ORIGIN)
    with pytest.raises(b.BundleError, match="was not valid at .* \\(revoked at") as caught:
        b.verify_bundle(build_bundle(world.app, log, UUID(doc)),  # type: ignore[arg-type]
                        log.note_key.vkey())
    assert caught.value.step == 7


def test_act_recorded_a_microsecond_before_the_revocation_is_accepted_by_the_verifiers(
) -> None:
    clock = StoppedClock(T)
    world, signer = in_memory_world(clock, {DocLedger.RECORDED_TIMES: "y"})
    doc = world.sent()
    old = world.keys[RECIPIENT]
    world.act(RECIPIENT, "delivery.accept", {"document": doc}, issued_at=T)
    clock.at = T + MICROSECOND
    world.act("registrar", "agency.revoke_key", {
        "code": RECIPIENT, "keyid": old.keyid, "reason": "key compromised"}, issued_at=T)
    assert len(document_history(world.app, UUID(doc))) > 0
    log = MemoryLog(world.app, signer, ORIGIN)
    b.verify_bundle(build_bundle(world.app, log, UUID(doc)),  # type: ignore[arg-type]
                    log.note_key.vkey())
