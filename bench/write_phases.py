"""Where the write path's CPU goes: thread CPU time per command in each phase of
``DocLedger``'s command path, under group commit, next to the whole process's.

    python -m bench.write_phases --backend postgres --threads 16 --seconds 8

Each phase method is wrapped to add the thread CPU time (``time.thread_time``)
spent inside it; phases do not nest, so the figures add up. What no phase
holds is the group committer's hand-over between threads, the checking of
signatures on the callers' threads (``preverify``), the clients' loop and the
interpreter's switching between threads. The clients' signing is measured apart:
an agency signs on its own machine.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.scratch import scratch_settings
from bench.stats import postgres_cpu_seconds
from bench.write_path import ClientSigning, drive, ledger_with_agencies, ours_flow
from domain.ledger.application import DocLedger
from infrastructure.group_commit import GroupCommitter

PHASES = {
    "preverify": "checking the command's signature (the caller's thread)",
    "_follow_log": "the cache guard's look at the log's last position (one a group)",
    "_parse": "parsing the envelope and the command",
    "_prepare": "verifying, authorising, running the rules, signing the ledger statement",
    "_save_events": "encoding the events and committing the group (one a group)",
    "_committed": "caching what was committed",
    "_snapshot_registers": "snapshots of number registers",
}


class PhaseClock:
    """Adds the thread CPU time spent in each wrapped method."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrap(self, owner: type, name: str) -> None:
        method: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with self._lock:
                    self.seconds[name] += spent

        setattr(owner, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()

    clock = PhaseClock()
    for name in PHASES:
        clock.wrap(DocLedger, name)
    app, codes, keys = ledger_with_agencies(
        scratch_settings("bench-phases-", backend=args.backend), 4 * args.threads)
    committer = GroupCommitter(app)
    signing = ClientSigning()

    def flow(i: int, n: int) -> int:
        return ours_flow(committer.execute, keys, codes[4 * i], codes[4 * i + 1: 4 * i + 4],
                         n, signing)

    drive(flow, args.threads, 1.0)  # warm the caches and the pool
    clock.seconds.clear()
    signing.seconds, groups = 0.0, committer.groups
    cpu, pg = time.process_time(), postgres_cpu_seconds()
    commands, elapsed = drive(flow, args.threads, args.seconds)
    cpu = time.process_time() - cpu
    pg_after = postgres_cpu_seconds()
    per = 1000 / commands
    print(f"backend {args.backend}, {args.threads} threads, group commit: {commands:,} commands "
          f"in {elapsed:.1f} s ({commands / elapsed:,.0f}/s), "
          f"{commands / max(committer.groups - groups, 1):.1f} commands a group")
    print(f"CPU per command: {cpu * per:.3f} ms this process, of which "
          f"{signing.seconds * per:.3f} ms the clients' signing"
          + (f"; {(pg_after - pg) * per:.3f} ms PostgreSQL" if pg is not None and pg_after
             is not None else ""))
    print(f"{'phase':22} {'ms/command':>10}  what")
    for name, what in PHASES.items():
        print(f"{name:22} {clock.seconds[name] * per:10.3f}  {what}")
    rest = cpu - signing.seconds - sum(clock.seconds.values())
    print(f"{'(in no phase)':22} {rest * per:10.3f}  hand-over between threads, clients' loop, "
          "interpreter")


if __name__ == "__main__":
    main()
