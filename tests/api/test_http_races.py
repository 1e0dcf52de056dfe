"""Races through the HTTP API, on SQLite and PostgreSQL: one winner, one event.

Twenty clients submit competing commands at once (each its own command id,
so none is a retry of another) through the real app. Exactly one may win;
every other must get 409 and the store must hold exactly one resulting event.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from api.http.app import create_app
from domain.exchange.delivery import Delivery
from tests.factories import RECIPIENT, SENDER, World

RACERS = 20
JSON = {"content-type": "application/json"}


def race(http: TestClient, commands: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Submit every command at once, one thread each; (status, body) in order."""
    barrier = threading.Barrier(len(commands))

    def submit(raw: bytes) -> tuple[int, dict[str, Any]]:
        barrier.wait()
        response = http.post("/v1/commands", content=raw, headers=JSON)
        return response.status_code, response.json()

    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(submit, commands))


def serve(world: World) -> TestClient:
    # one client shared by the threads: each request runs on the app's event
    # loop, and the command itself in the thread pool, so they do overlap
    return TestClient(create_app(world.settings), raise_server_exceptions=False)


def events_named(world: World, doc: str, name: str) -> int:
    delivery_id = Delivery.id_for(UUID(doc), RECIPIENT)
    return sum(type(e).__name__ == name for e in world.app.events_of(delivery_id))


def written_since(world: World, before: int) -> list[int]:
    return [n.id for n in world.app.recorder.select_notifications(before + 1, 10_000)]


def assert_one_winner(results: list[tuple[int, dict[str, Any]]]) -> int:
    statuses = Counter(status for status, _ in results)
    assert statuses[201] == 1 and statuses[409] == RACERS - 1, statuses
    losers = {body["type"] for status, body in results if status == 409}
    assert losers <= {"urn:docledger:problem:illegal-transition",
                      "urn:docledger:problem:concurrent-modification"}, losers
    return next(i for i, (status, _) in enumerate(results) if status == 201)


def test_twenty_clients_accepting_one_delivery_one_wins(world: World) -> None:
    doc = world.sent()
    commands = [world.signed(RECIPIENT, "delivery.accept", {"document": doc})
                for _ in range(RACERS)]
    assert len(set(commands)) == RACERS  # a new command id each
    before = world.event_count()
    with serve(world) as http:
        results = race(http, commands)
    winner = results[assert_one_winner(results)][1]
    assert events_named(world, doc, "Accepted") == 1
    # every event written since is the winner's: the losers wrote nothing
    assert written_since(world, before) == winner["notification_ids"]


def test_recall_racing_completion_one_wins(world: World) -> None:
    doc = world.sent()
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.act(RECIPIENT, "delivery.assign", {"document": doc, "lead_unit": "Phòng Nội vụ"})
    recalls = [world.signed(SENDER, "delivery.recall", {"document": doc, "reason": "gửi nhầm"})
               for _ in range(RACERS // 2)]
    completions = [world.signed(RECIPIENT, "delivery.complete", {"document": doc})
                   for _ in range(RACERS // 2)]
    commands = [c for pair in zip(recalls, completions, strict=True) for c in pair]
    before = world.event_count()
    with serve(world) as http:
        results = race(http, commands)
    winner = assert_one_winner(results)
    assert written_since(world, before) == results[winner][1]["notification_ids"]
    recalled = events_named(world, doc, "RecallRequested")
    completed = events_named(world, doc, "Completed")
    assert recalled + completed == 1
    # the winner's side is the event written: even indexes recall, odd ones complete
    assert (recalled, completed) == ((1, 0) if winner % 2 == 0 else (0, 1))
