"""Reading the views from a streaming replica: read latency and read-your-writes delay.

Starts a hot standby of the benchmark's PostgreSQL server with PostgreSQL's own
tools (tests/replica_support.py: pg_basebackup, pg_ctl), sends documents to one
agency and times, through the service the API runs on:

- an inbox page read from the primary (the baseline) and from the replica;
- a command followed by a read of its own write on the replica (the read waits
  for the replica to replay the command's commit LSN), against a command
  followed by a read on the primary;
- how long after a command's commit the replica has replayed it.

    DOCLEDGER_PG_DB=test python -m bench.replica --documents 200 --samples 200
"""

from __future__ import annotations

import argparse
import time

from bench.scratch import scratch_settings
from bench.stats import median, percentile
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from infrastructure.views import queries
from infrastructure.views.queries import InboxQuery
from infrastructure.views.replica import Replica
from infrastructure.views.store import ViewStore
from tests.factories import RECIPIENT, World
from tests.replica_support import ReplicaCluster, make_replica
from tests.views_support import send


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    settings = scratch_settings("bench-replica-", backend="postgres", views_in_process=True)
    with make_replica() as cluster:
        figures(settings.model_copy(update={"pg_replica": cluster.target,
                                            "replica_max_lag": 30.0}), cluster, args)


def figures(settings: Settings, cluster: ReplicaCluster, args: argparse.Namespace) -> None:
    world = World.create(settings)
    service = bootstrap(world.settings, app=world.app)
    replica = service.replica
    assert isinstance(replica, Replica)
    docs = [send(world, (RECIPIENT,)) for _ in range(args.documents)]
    today = world.app.clock().date()
    page = InboxQuery(agency=RECIPIENT, limit=50)
    service.fresh_views()
    replica.views_for(None, service.commit_lsn())  # the replica has it all

    def read(views: ViewStore) -> list[float]:
        out = []
        for _ in range(args.samples):
            start = time.perf_counter()
            queries.inbox(views, page, today)
            out.append(time.perf_counter() - start)
        return out

    primary_reads = read(service.views)
    replica_reads = read(service.read_views())
    commit_then_primary: list[float] = []
    commit_then_replica: list[float] = []
    replay: list[float] = []
    for i in range(min(args.samples, len(docs))):
        doc = docs[i]
        start = time.perf_counter()
        world.act(RECIPIENT, "delivery.accept", {"document": doc})
        service.fresh_views()
        lsn = service.commit_lsn()
        committed = time.perf_counter()
        views = service.read_views(after_lsn=lsn)
        replay.append(time.perf_counter() - committed)
        queries.inbox(views, page, today)
        (commit_then_replica if views is not service.views else commit_then_primary).append(
            time.perf_counter() - start)
    print(f"replica on port {cluster.port}; {len(docs)} documents; "
          f"reads answered: {replica.counts()}")
    print(f"{'figure':52} {'median ms':>10} {'p99 ms':>8} {'× baseline':>11}")
    base = median(primary_reads)
    rows = [("baseline: inbox page from the primary", primary_reads),
            ("inbox page from the replica", replica_reads),
            ("replica replayed a command's commit LSN, after it", replay),
            ("command, then its read-your-writes on the replica", commit_then_replica),
            ("command, then its read on the primary (replica behind)", commit_then_primary)]
    for name, samples in rows:
        if samples:
            print(f"{name:52} {median(samples) * 1000:10.3f} "
                  f"{percentile(samples, 99) * 1000:8.3f} {median(samples) / base:11.1f}")
    service.close()


if __name__ == "__main__":
    main()
