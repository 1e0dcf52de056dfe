"""Many API processes on one PostgreSQL: commands/s with 1 and 2 server processes.

The same full command flow as bench.http (sign, POST /v1/commands, retry a 409
concurrent-modification with a new command id), served by N processes of
``docledger serve --reuse-port`` on one port (the kernel spreads the connections
over them; api/listening.py says why not uvicorn's ``--workers``) over one
PostgreSQL schema, N = 1 and 2. For each N, in the same run, the baseline: a
trivial FastAPI POST served the same way by the same number of processes.

CPU per command is read from /proc around each timed window: the server
processes' and their PostgreSQL backends' (found by the application name the
servers connect with). Those two are
what a command costs wherever it runs; the clients (signing every command, in
this process) are reported apart. From them, the commands/s a machine of
``--project-cores`` cores could take, assuming the cost per command stays as
measured when processes are added (the figure with 2 processes says whether it
does) and the store's ordered insert stays below its ceiling (bench.store_ceiling).

    DOCLEDGER_BACKEND=postgres python -m bench.processes
    DOCLEDGER_BACKEND=postgres python -m bench.processes --quick   # about 30 s
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import psycopg

from bench.http import Tally, free_port, hammer, ledger_work, prepare, trivial_work
from bench.scratch import scratch_settings
from bench.stats import median, percentile, processes
from infrastructure.settings import Settings

# what one primary's ordered insert takes, events/s, transactions of ~20 events
# (bench.store_ceiling, BENCHMARKS.md); the projection is capped by it
STORE_CEILING_EVENTS = 16_000


def cpu_seconds(pids: list[int] | set[int]) -> float:
    """CPU seconds (user + system) used so far by these processes, from /proc."""
    ticks = sum(int(f[11]) + int(f[12]) for pid, _, f in processes() if pid in pids)
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def servers(command: list[str], env: dict[str, str], count: int) -> Iterator[tuple[str, list[int]]]:
    """``count`` processes of ``command PORT`` sharing one free port (SO_REUSEPORT),
    once all have started and are idle; (url, their pids). Stopped on exit."""
    port = free_port()
    started = [subprocess.Popen([*command, str(port)], env={**os.environ, **env})
               for _ in range(count)]
    pids = [p.pid for p in started]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if any(p.poll() is not None for p in started):
                raise RuntimeError(f"a server exited: {[p.returncode for p in started]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} server(s) did not all start in 60 s")
            try:
                httpx.get(url + "/healthz", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            # each process imports and opens the app on its own: wait until none is busy
            spent = cpu_seconds(pids)
            time.sleep(0.5)
            if cpu_seconds(pids) - spent < 0.05 * count:
                break
        yield url, pids
    finally:
        for p in started:
            p.terminate()
        for p in started:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def connect(settings: Settings) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                           password=settings.pg_password.get_secret_value(),
                           dbname=settings.pg_db, autocommit=True)


def log_position(settings: Settings) -> tuple[int, int]:
    """(the last notification id, the events stored). Ids taken by inserts that
    rolled back (a group that conflicted with another process's commit, which the
    ledger then runs command by command) are never used: the difference counts them."""
    with connect(settings) as conn:
        row = conn.execute(f'SELECT max(notification_id), count(*) FROM "{settings.pg_schema}".'
                           "docledger_events").fetchone()
    assert row is not None
    return int(row[0] or 0), int(row[1])  # type: ignore[call-overload]


def backends_cpu_seconds(settings: Settings, application: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving connections named
    ``application`` (the server's, through PGAPPNAME), read from /proc. Other users
    of a shared PostgreSQL do not count; its background writers do not either."""
    with connect(settings) as conn:
        pids = {int(r[0]) for r in conn.execute(  # type: ignore[call-overload]
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,))}
    return cpu_seconds(pids)


@dataclass
class Phase:
    requests: int
    retries: int
    rate: float  # requests/s (commands/s for the ledger, retries included)
    p50_ms: float
    p99_ms: float
    server_ms: float  # CPU per request: the server's processes
    postgres_ms: float  # CPU per request: PostgreSQL
    clients_ms: float  # CPU per request: this process (the clients)
    events: int = 0
    rolled_back: int = 0  # events of inserts rolled back by conflicts
    errors: int = 0


Work = Callable[[int, httpx.Client, float, Tally], None]
LEDGER = [sys.executable, "-m", "api", "serve", "--reuse-port", "--host", "127.0.0.1",
          "--log-level", "warning", "--port"]
TRIVIAL = [sys.executable, "-m", "bench.trivial_server"]


def measure(settings: Settings, count: int, clients: int, seconds: float,
            command: list[str], env: dict[str, str], work: Work) -> Phase:
    application = f"bench-processes-{os.getpid()}-{count}-{command[-1]}"
    with servers(command, {**env, "PGAPPNAME": application}, count) as (url, pids):
        here, srv = time.process_time(), cpu_seconds(pids)
        pg = backends_cpu_seconds(settings, application)
        tally, elapsed = hammer(clients, seconds, work, url)
        srv = cpu_seconds(pids) - srv
        pg = backends_cpu_seconds(settings, application) - pg
        here = time.process_time() - here
    n = max(len(tally.latencies), 1)
    for error in tally.errors:
        print("ERROR", error)
    return Phase(len(tally.latencies), tally.retries, len(tally.latencies) / elapsed,
                 median(tally.latencies) * 1000, percentile(tally.latencies, 99) * 1000,
                 srv / n * 1000, pg / n * 1000, here / n * 1000, errors=len(tally.errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
    parser.add_argument("--agencies", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--project-cores", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="4 s phases: about 30 s in all")
    args = parser.parse_args()
    seconds = 4.0 if args.quick else args.seconds

    settings = scratch_settings("bench-processes-")
    if settings.backend != "postgres":
        sys.exit("bench.processes needs DOCLEDGER_BACKEND=postgres: processes share one store")
    keys = prepare(settings, args.agencies)
    env = {"DOCLEDGER_DATA": str(settings.data), "DOCLEDGER_BACKEND": settings.backend,
           "DOCLEDGER_PG_DB": settings.pg_db, "DOCLEDGER_PG_SCHEMA": settings.pg_schema}
    print(f"backend: postgres ({settings.pg_schema}); {args.clients} clients, {seconds:.0f} s "
          f"per phase, {args.agencies} agencies; {' and '.join(map(str, args.workers))} "
          f"server process(es) on one port (SO_REUSEPORT); CPUs: {os.cpu_count()}")

    ledger: dict[int, Phase] = {}
    trivial: dict[int, Phase] = {}
    for workers in args.workers:
        trivial[workers] = measure(settings, workers, args.clients, seconds, TRIVIAL, {},
                                   trivial_work)
        position, stored = log_position(settings)
        ledger[workers] = measure(settings, workers, args.clients, seconds, LEDGER, env,
                                  ledger_work(keys))
        position_after, stored_after = log_position(settings)
        ledger[workers].events = stored_after - stored
        ledger[workers].rolled_back = (position_after - position) - (stored_after - stored)

    print(f"\n{'':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server ms':>9} "
          f"{'pg ms':>7} {'clients ms':>10}")
    for workers in args.workers:
        for name, p in ((f"trivial FastAPI POST, {workers} process(es)", trivial[workers]),
                        (f"POST /v1/commands, {workers} process(es)", ledger[workers])):
            print(f"{name:38} {p.rate:8,.0f} {p.p50_ms:8.2f} {p.p99_ms:8.2f} {p.server_ms:9.3f} "
                  f"{p.postgres_ms:7.3f} {p.clients_ms:10.3f}")
    print()
    for workers in args.workers:
        p, t = ledger[workers], trivial[workers]
        accepted = max(p.requests - p.retries, 1)
        print(f"processes {workers}: {p.rate:,.0f} commands/s against trivial {t.rate:,.0f}/s "
              f"= {p.rate / t.rate:.3f}×; {p.requests:,} requests, {p.retries:,} retries after "
              f"409 ({p.retries / max(p.requests, 1):.2%}); {p.events / accepted:.2f} "
              f"events a command; CPU per command {p.server_ms:.3f} ms server + "
              f"{p.postgres_ms:.3f} ms PostgreSQL (+ {p.clients_ms:.3f} ms clients); "
              f"p50 {p.p50_ms:.1f} ms, p99 {p.p99_ms:.1f} ms")
    for workers in args.workers:
        print(f"conflicts, {workers} process(es): {ledger[workers].rolled_back:,} events of "
              "transactions rolled back and run again command by command by the server")
    first, last = ledger[args.workers[0]], ledger[args.workers[-1]]
    cost = last.server_ms + last.postgres_ms
    print(f"scaling {args.workers[-1]} / {args.workers[0]} process(es): "
          f"{last.rate / first.rate:.2f}× commands/s (trivial "
          f"{trivial[args.workers[-1]].rate / trivial[args.workers[0]].rate:.2f}×), CPU per "
          f"command {cost / (first.server_ms + first.postgres_ms):.2f}× (server + PostgreSQL)")
    cpu_bound = args.project_cores * 1000 / cost
    events = last.events / max(last.requests - last.retries, 1)
    store_bound = STORE_CEILING_EVENTS / max(events, 1e-9)
    print(f"projection for {args.project_cores} cores: {min(cpu_bound, store_bound):,.0f} "
          f"commands/s (CPU: {args.project_cores} cores / {cost:.3f} ms = {cpu_bound:,.0f}/s; "
          f"store ceiling {STORE_CEILING_EVENTS:,} events/s / {events:.2f} events a command = "
          f"{store_bound:,.0f}/s; assumes the CPU per command of {args.workers[-1]} processes, "
          "clients on other machines, every core busy)")
    if any(p.errors for p in ledger.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
