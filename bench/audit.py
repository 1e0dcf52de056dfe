"""Full-audit throughput next to raw Ed25519 verification on the same machine.

Generates a realistic history (bench.generate), signs a checkpoint, then runs the
full audit with one process and with a worker per core. Baseline: raw Ed25519
verifications per second on one core, measured right before each audit run.
"""

from __future__ import annotations

import argparse
import os
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.generate import fill
from bench.scratch import scratch_settings
from bench.stats import median, processes
from infrastructure.ledger import open_log, run_audit, trust_anchors
from infrastructure.periodic import Periodically


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


class WorkerPeak:
    """The largest peak resident memory of this process's child processes (the
    audit's workers), read from /proc at each ``sample``.

    ``ru_maxrss`` of RUSAGE_CHILDREN cannot tell it: a child started by fork and
    exec keeps the parent's resident size at the fork as its high-water mark.
    VmHWM counts only the worker's own program.
    """

    def __init__(self) -> None:
        self.peak = 0  # bytes

    def sample(self) -> None:
        me = str(os.getpid())
        for pid, _, fields in processes():
            if fields[1] != me:  # the parent's pid
                continue
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.peak = max(self.peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError, IndexError):
                continue  # the process ended meanwhile


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
    print(f"{gen.commands} commands, {gen.app.recorder.max_notification_id()} events; "
          f"{cores} cores")
    # The baseline is measured right before every audit run: this shared
    # machine's speed swings within minutes, and each run is compared with the
    # raw rate of its own moment.
    raws: list[float] = []
    worker_peak = 0
    for workers in (1, cores):
        runs, ratios = [], []
        for _ in range(args.repeats):
            raw = raw_verifications_per_second()
            raws.append(raw)
            start = time.perf_counter()
            peak = WorkerPeak()
            with Periodically(peak.sample, 0.25):
                report = run_audit(gen.app, registrar_key=registrar, ledger_key=ledger,
                                   workers=workers)
            runs.append(time.perf_counter() - start)
            worker_peak = max(worker_peak, peak.peak)
            ratios.append(report.events / runs[-1] / (raw * cores))
        seconds = median(runs)
        print(f"audit, {workers} process(es): median {seconds:.2f} s, "
              f"{report.events / seconds:,.0f} events/s, median {median(ratios):.1%} of the "
              f"raw rate measured before each run × {cores} cores (runs: "
              + ", ".join(f"{r:.0%}" for r in ratios) + ")")
    print(f"baseline: raw Ed25519 verifications/s on one core: {median(raws):,.0f} "
          f"(median of {len(raws)}, one before each audit run)")
    print(f"largest worker process: peak RSS {worker_peak / 2**20:,.0f} MiB "
          "(VmHWM, sampled every 0.25 s)")


if __name__ == "__main__":
    main()
