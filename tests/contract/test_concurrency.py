"""Racing writers: exactly one wins, the rest get a clear conflict, nothing doubles."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from domain.errors import ConflictError
from domain.exchange.delivery import Delivery
from infrastructure.ledger import open_ledger
from tests.factories import RECIPIENT, SENDER, World

RACERS = 8


def race(world: World, commands: list[bytes]) -> list[object]:
    """Run each command on its own application instance, all at once."""
    apps = [open_ledger(world.settings, clock=world.app.clock) for _ in commands]

    def run(pair: tuple[object, bytes]) -> object:
        app, raw = pair
        try:
            return app.execute(raw)  # type: ignore[attr-defined]
        except ConflictError as exc:
            return exc

    try:
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(run, zip(apps, commands, strict=True)))
    finally:
        for app in apps:
            app.close()


def test_racing_accepts_of_one_delivery_write_exactly_once(world: World) -> None:
    doc = world.sent()
    commands = [world.signed(RECIPIENT, "delivery.accept", {"document": doc})
                for _ in range(RACERS)]
    before = world.event_count()
    results = race(world, commands)
    wins = [r for r in results if not isinstance(r, ConflictError)]
    assert len(wins) == 1, results
    assert all(isinstance(r, ConflictError) for r in results if r is not wins[0])
    delivery = world.app.find(Delivery, Delivery.id_for(UUID(doc), RECIPIENT))
    assert delivery.incoming_number == 1
    # one command record + the acceptance + the register's opening and number
    assert world.event_count() - before >= 3
    accepted = [e for e in world.app.events_of(delivery.id) if isinstance(e, Delivery.Accepted)]
    assert len(accepted) == 1


def test_recall_racing_completion_one_wins(world: World) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng Nội vụ"})
    complete = world.signed(RECIPIENT, "delivery.complete", {"document": doc})
    recall = world.signed(SENDER, "delivery.recall", {"document": doc, "reason": "sai sót"})
    results = race(world, [complete, recall])
    assert sum(not isinstance(r, ConflictError) for r in results) == 1, results
    delivery = world.app.find(Delivery, Delivery.id_for(UUID(doc), RECIPIENT))
    assert delivery.state.value in ("completed", "recall_requested")


def test_same_command_raced_is_executed_once(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    results = race(world, [raw] * RACERS)
    assert all(not isinstance(r, ConflictError) for r in results), results
    assert sum(not r.repeated for r in results) == 1  # type: ignore[attr-defined]
