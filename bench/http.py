"""The HTTP API under load: commands/s and latency of POST /v1/commands.

``docledger serve``, as deployed (a uvicorn process), serves the real app over
PostgreSQL (a fresh schema, a freshly initialised ledger, agencies registered
locally before it starts).
N client threads (httpx) each repeat the whole flow for a fixed time: the
sender creates, signs, issues and sends a document to 3 recipients, then each
recipient accepts, assigns and completes it, every step a signed command
POSTed to /v1/commands. A 409 concurrent-modification (two clients touching
one recipient's register at once) is retried with a new command id; retries
are counted and timed like any request.

Baseline in the same run: a trivial FastAPI endpoint (POST returns
{"ok": true}) served by uvicorn alone, hammered by the same clients.
The two alternate in rounds (both servers up throughout); the ratio is the
median of the rounds' ratios, the rates and latencies are over all rounds.

    DOCLEDGER_BACKEND=postgres DOCLEDGER_PG_DB=test python -m bench.http
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from bench.scratch import scratch_settings
from bench.stats import median, percentile
from bench.workload import full_flow
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger
from infrastructure.settings import Settings

JSON = {"content-type": "application/json"}
UVICORN = ["uvicorn", "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
# the ledger as it is deployed (Dockerfile, docker-compose.yml): ``docledger serve``
SERVE = ["api", "serve", "--host", "127.0.0.1", "--log-level", "warning"]

# the baseline: as little as FastAPI can do for a POST
trivial = FastAPI()


@trivial.post("/")
def ok() -> dict[str, bool]:
    return {"ok": True}


def prepare(settings: Settings, agencies: int) -> dict[str, Ed25519Signer]:
    """Initialise the ledger and register agencies locally; their keys stay in memory."""
    app = init_ledger(settings)
    registrar = load_signer(DataFolder(settings.data).registrar_key)
    keys = {}
    for i in range(agencies):
        code = f"000.{i // 100:02d}.{i % 100:02d}.H29"
        keys[code] = Ed25519Signer.generate()
        app.execute(sign_command(registrar, "agency.register", {
            "code": code, "name": f"Cơ quan {code}",
            "keys": [keys[code].public_key.to_spec()]}, agency="registrar", staff="bench"))
    app.close()
    return keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(module: list[str], env: dict[str, str]) -> Iterator[str]:
    """``python -m MODULE… --port P``, a server on a free port P; stopped (SIGTERM,
    then SIGKILL) on exit."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", *module, "--port", str(port)],
                               env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}")
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start in 30 s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, samples: list[float], retries: int, errors: list[str]) -> None:
        with self.lock:
            self.latencies += samples
            self.retries += retries
            self.errors += errors


def hammer(clients: int, seconds: float, work: Callable[[int, httpx.Client, float, Tally],
                                                          None], url: str) -> tuple[Tally, float]:
    tally = Tally()
    barrier = threading.Barrier(clients + 1)

    def run(n: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            barrier.wait()
            work(n, http, deadline, tally)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds  # set before the barrier lets anyone go
    started = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - started


def trivial_work(n: int, http: httpx.Client, deadline: float, tally: Tally) -> None:
    samples: list[float] = []
    while time.monotonic() < deadline:
        start = time.perf_counter()
        response = http.post("/", content=b"{}", headers=JSON)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200
    tally.add(samples, 0, [])


def ledger_work(keys: dict[str, Ed25519Signer]) -> Callable[[int, httpx.Client, float, Tally],
                                                            None]:
    codes = sorted(keys)

    def work(n: int, http: httpx.Client, deadline: float, tally: Tally) -> None:
        samples: list[float] = []
        errors: list[str] = []
        retries = 0

        def act(agency: str, type: str, fields: dict[str, Any]) -> dict[str, Any]:
            nonlocal retries
            for _ in range(20):
                raw = sign_command(keys[agency], type, fields, agency=agency, staff="văn thư")
                start = time.perf_counter()
                response = http.post("/v1/commands", content=raw, headers=JSON)
                samples.append(time.perf_counter() - start)
                if response.status_code == 201:
                    return response.json()["result"]  # type: ignore[no-any-return]
                if (response.status_code == 409 and response.json()["type"].endswith(
                        "concurrent-modification")):
                    retries += 1
                    continue
                raise RuntimeError(f"{type}: {response.status_code} {response.text[:300]}")
            raise RuntimeError(f"{type}: still conflicting after 20 tries")

        sender = codes[n % len(codes)]
        others = [c for c in codes if c != sender]
        i = 0
        try:
            while time.monotonic() < deadline:
                recipients = [others[(n + i + k) % len(others)] for k in range(3)]
                i += 1
                full_flow(act, sender, recipients,
                          f"{sender},bench-{n}-{i}-{uuid.uuid4().hex[:6]}")
        except Exception as exc:  # reported, the other clients carry on
            errors.append(f"client {n}: {exc}")
        tally.add(samples, retries, errors)

    return work


def row(name: str, tally: Tally, seconds: float) -> tuple[str, float, float, float]:
    s = tally.latencies
    return name, len(s) / seconds, median(s) * 1000, percentile(s, 99) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="per side, split over the rounds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds alternating the baseline and the full flow, so that a "
                             "slow spell of the shared machine slows both")
    parser.add_argument("--agencies", type=int, default=16)
    args = parser.parse_args()

    settings = scratch_settings("bench-http-")
    keys = prepare(settings, args.agencies)
    env = {"DOCLEDGER_DATA": str(settings.data), "DOCLEDGER_BACKEND": settings.backend,
           "DOCLEDGER_PG_DB": settings.pg_db, "DOCLEDGER_PG_SCHEMA": settings.pg_schema}
    print(f"backend: {settings.backend} ({settings.pg_schema}); {args.clients} clients, "
          f"{args.rounds} alternating rounds of {args.seconds / args.rounds:.1f} s a side, "
          f"{args.agencies} agencies; uvicorn, 1 worker, CPUs: {os.cpu_count()}")

    base, ledger, base_s, ledger_s = Tally(), Tally(), 0.0, 0.0
    ratios = []
    work, phase = ledger_work(keys), args.seconds / args.rounds
    with server(SERVE, env) as ours, server([*UVICORN, "bench.http:trivial"], {}) as trivial_url:
        for _ in range(args.rounds):
            b, b_s = hammer(args.clients, phase, trivial_work, trivial_url)
            o, o_s = hammer(args.clients, phase, work, ours)
            ratios.append((len(o.latencies) / o_s) / (len(b.latencies) / b_s))
            base.add(b.latencies, b.retries, b.errors)
            ledger.add(o.latencies, o.retries, o.errors)
            base_s, ledger_s = base_s + b_s, ledger_s + o_s

    rows = [row("trivial FastAPI POST (baseline)", base, base_s),
            row("POST /v1/commands (full flow)", ledger, ledger_s)]
    print(f"\n{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, rate, p50, p99 in rows:
        print(f"{name:34} {rate:9,.0f} {p50:8.2f} {p99:8.2f}")
    (_, b_rate, b_p50, b_p99), (_, l_rate, l_p50, l_p99) = rows
    print(f"{'ratio (commands / baseline)':34} {l_rate / b_rate:9.3f} {l_p50 / b_p50:8.1f}× "
          f"{l_p99 / b_p99:7.1f}×")
    print(f"commands/s ratio, median of the rounds: {median(ratios):.3f} (rounds: "
          + ", ".join(f"{r:.3f}" for r in ratios) + ")")
    print(f"\ncommands: {len(ledger.latencies):,} requests, of which {ledger.retries:,} retries "
          f"after 409 concurrent-modification; "
          f"≈{(len(ledger.latencies) - ledger.retries) // 13:,} full flows (13 commands each)")
    for error in ledger.errors:
        print("ERROR", error)
    if ledger.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
