"""The store's ceiling: transactions/s and events/s one PostgreSQL primary accepts
through the recorder the ledger uses, whatever the Python above it.

Every transaction of the ledger's recorder (infrastructure/pg_recorder.py, which
is eventsourcing's) takes ``LOCK TABLE … IN EXCLUSIVE MODE`` on the events table
and sends a ``NOTIFY``, so that notification ids commit in order: transactions
that write the log run one at a time. Here writer *processes* (not threads: no
one interpreter's lock holds them back) insert synthetic events of a typical
size, ``k`` to a transaction, as fast as they can. Baseline in the same run:
the same processes and inserts with nothing ordering them (no table lock, no
NOTIFY), which is what the database and its disk allow when transactions may
interleave. The ratio says what ordering the log costs at each size; the
ledger's own write path (bench.write_path) is compared with these ceilings in
BENCHMARKS.md.

    DOCLEDGER_PG_DB=test python -m bench.store_ceiling    # always on PostgreSQL
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from bench.scratch import scratch_settings
from bench.stats import median
from infrastructure.pg_recorder import RECORDER_ENV

EVENT_BYTES = 900  # a typical stored event of the ledger (JSON with its envelope)
TOPIC = "bench.store_ceiling:Event"


def recorder(env: dict[str, str], ordered: bool) -> Any:
    """The ledger's recorder on a table of its own; unordered: without the table
    lock and the NOTIFY that order its commits."""
    factory = InfrastructureFactory.construct(Environment("StoreCeiling", env))
    store = factory.application_recorder()
    if not ordered:
        store.lock_table_statements = []
        store._notify_channel = lambda curs: None
    return store


def write(env: dict[str, str], ordered: bool, k: int, start_at: float,
          seconds: float) -> tuple[int, float]:
    """One writer process: transactions of ``k`` events from ``start_at`` for
    ``seconds``; returns (transactions, seconds spent in them)."""
    store = recorder({**env, "CREATE_TABLE": "n"}, ordered)
    state = b'{"x":"' + b"x" * (EVENT_BYTES - 8) + b'"}'
    store.insert_events([StoredEvent(uuid.uuid4(), 1, TOPIC, state)])  # connect first
    while time.time() < start_at:
        time.sleep(0.005)
    stop, done, busy = start_at + seconds, 0, 0.0
    while (now := time.time()) < stop:
        store.insert_events([StoredEvent(uuid.uuid4(), 1, TOPIC, state) for _ in range(k)])
        busy += time.time() - now
        done += 1
    store.datastore.close()
    return done, busy


def case(pool: ProcessPoolExecutor, env: dict[str, str], ordered: bool, processes: int,
         k: int, seconds: float) -> tuple[float, float]:
    """(transactions/s over all processes, median ms per transaction)."""
    start_at = time.time() + 1.0  # every process connected before the clock starts
    futures = [pool.submit(write, env, ordered, k, start_at, seconds) for _ in range(processes)]
    results = [f.result() for f in futures]
    transactions = sum(done for done, _ in results)
    return transactions / seconds, median([busy / max(done, 1) * 1000 for done, busy in results])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per case")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--events", type=int, nargs="+", default=[1, 20],
                        help="events per transaction (the ledger's group commits "
                             "average about 20)")
    args = parser.parse_args()
    settings = scratch_settings("bench-ceiling-", backend="postgres")
    env = settings.eventsourcing_env() | RECORDER_ENV
    recorder(env, ordered=True)  # creates the table once
    print(f"PostgreSQL {settings.pg_host}:{settings.pg_port}/{settings.pg_db}; events of "
          f"{EVENT_BYTES} bytes; {args.seconds:.0f} s per case; {os.cpu_count()} cores")
    print(f"\n{'processes':>9} {'events/tx':>9} {'ordered tx/s':>13} {'events/s':>10} "
          f"{'ms/tx':>7} {'unordered tx/s':>15} {'events/s':>10} {'ms/tx':>7} {'ratio':>6}")
    with ProcessPoolExecutor(max(args.processes), mp_context=get_context("spawn")) as pool:
        # every worker process started (and its imports done) before any case
        list(pool.map(time.sleep, [0.5] * max(args.processes)))
        for processes in args.processes:
            for k in args.events:
                ordered, o_ms = case(pool, env, True, processes, k, args.seconds)
                free, f_ms = case(pool, env, False, processes, k, args.seconds)
                print(f"{processes:>9} {k:>9} {ordered:>13,.0f} {ordered * k:>10,.0f} "
                      f"{o_ms:>7.2f} {free:>15,.0f} {free * k:>10,.0f} {f_ms:>7.2f} "
                      f"{ordered / free:>6.2f}")


if __name__ == "__main__":
    main()
