"""Full-audit throughput next to raw Ed25519 verification on the same machine.

Generates a realistic history (bench.generate), signs a checkpoint, then runs the
full audit with one process and with a worker per core. Baseline, measured in
the same run: raw Ed25519 verifications per second on one core.
"""

from __future__ import annotations

import argparse
import os
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.generate import fill
from bench.scratch import scratch_settings
from bench.stats import median
from infrastructure.ledger import open_log, run_audit, trust_anchors


def raw_verifications_per_second(seconds: float = 1.0) -> float:
    key = Ed25519PrivateKey.generate()
    message = b"x" * 600
    sig = key.sign(message)
    public = key.public_key()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(sig, message)
        count += 200
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = scratch_settings("bench-audit-")
    gen = fill(settings, documents=args.documents)
    open_log(settings, gen.app).issue_checkpoint(force=True)
    registrar, ledger = trust_anchors(settings)
    cores = os.cpu_count() or 1
    raw = median([raw_verifications_per_second() for _ in range(args.repeats)])
    print(f"{gen.commands} commands, {gen.app.recorder.max_notification_id()} events; "
          f"{cores} cores")
    print(f"baseline: raw Ed25519 verifications/s on one core: {raw:,.0f}")
    for workers in (1, cores):
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            report = run_audit(gen.app, registrar_key=registrar, ledger_key=ledger,
                               workers=workers)
            runs.append(time.perf_counter() - start)
        seconds = median(runs)
        rate = report.events / seconds
        print(f"audit, {workers} process(es): median {seconds:.2f} s, {rate:,.0f} events/s, "
              f"{rate / raw:.2f} × one core's raw verifications/s")


if __name__ == "__main__":
    main()
