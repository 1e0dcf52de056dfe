"""The ledger service every entry point runs commands through: concurrent callers
share the work of following the log, and none returns before its own events are leaves."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from infrastructure.service import CatchUp, LedgerService
from tests.factories import OTHER, RECIPIENT, World


def test_each_concurrent_command_is_in_the_merkle_log_when_it_returns(
        world: World, service: LedgerService) -> None:
    docs = [world.sent(recipients=(RECIPIENT, OTHER)) for _ in range(8)]
    commands = [world.signed(agency, "delivery.accept", {"document": doc})
                for doc in docs for agency in (RECIPIENT, OTHER)]

    def run(raw: bytes) -> tuple[int, int]:
        outcome = service.execute(raw)
        # read at once, before any other caller can help: the leaves must be there
        return max(outcome.notification_ids), service.log.store.last_notification_id()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(run, commands))
    assert all(logged >= mine for mine, logged in results)
    assert service.log.store.last_notification_id() == world.event_count()


def test_catch_up_runs_once_for_callers_already_covered() -> None:
    runs: list[int] = []
    position = [0]
    gate = threading.Event()

    def run() -> int:
        gate.wait(5)
        runs.append(position[0])
        return position[0]

    follower = CatchUp(run)
    position[0] = 10
    threads = [threading.Thread(target=follower.past, args=(p,)) for p in (3, 7, 10, 10)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert runs == [10]  # the first caller covered everyone queued behind it
    follower.past(None)  # a repeat always looks
    assert runs == [10, 10]
