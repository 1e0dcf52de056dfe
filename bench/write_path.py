"""Write path: commands/s and events/s through the application layer, ours next to
the plain alternative (bench.plain), on the same backend in the same run.

Workload per document: send to 3 recipients (ours: create, sign, issue, send —
4 signed commands; plain: 1 command), then each recipient accepts, assigns,
completes (9 commands). Threads submit documents concurrently.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.plain import PlainExchange, run_flow
from bench.scratch import scratch_settings
from bench.stats import median, postgres_cpu_seconds
from bench.workload import full_flow
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger, Outcome
from infrastructure.group_commit import GroupCommitter
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger
from infrastructure.settings import Settings


class ClientSigning:
    """CPU the clients spend signing their commands (thread time): the clients run in
    this process, but an agency signs on its own machine, not the ledger's."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def sign(self, signer: Ed25519Signer, type: str, fields: dict[str, object],
             agency: str) -> bytes:
        started = time.thread_time()
        raw = sign_command(signer, type, fields, agency=agency, staff="văn thư")
        spent = time.thread_time() - started
        with self._lock:
            self.seconds += spent
        return raw


def ours_flow(execute: Callable[[bytes], Outcome], keys: dict[str, Ed25519Signer], sender: str,
              recipients: list[str], n: int, signing: ClientSigning | None = None) -> int:
    signing = signing or ClientSigning()

    def act(agency: str, type: str, fields: dict[str, object]) -> dict[str, object]:
        return execute(signing.sign(keys[agency], type, fields, agency)).result

    return full_flow(act, sender, recipients, f"w-{uuid.uuid4().hex}")


def drive(flow, threads: int, seconds: float) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Run ``flow(i)`` in each thread until time is up; (commands, elapsed)."""
    done, lock, stop = [0], threading.Lock(), time.perf_counter() + seconds

    def worker(i: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            count = flow(i, n)
            n += 1
            with lock:
                done[0] += count

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0], time.perf_counter() - started


def ledger_with_agencies(settings: Settings, count: int
                         ) -> tuple[DocLedger, list[str], dict[str, Ed25519Signer]]:
    """A new ledger with ``count`` agencies registered: (ledger, codes, their keys);
    thread i of the benchmark drives agencies 4i (the sender) to 4i + 3."""
    app = init_ledger(settings)
    registrar = load_signer(DataFolder(settings.data).registrar_key)
    codes = [f"{i:03d}.00.31.H29" for i in range(count)]
    keys = {c: Ed25519Signer.generate() for c in codes}
    for code in codes:
        app.execute(sign_command(registrar, "agency.register", {
            "code": code, "name": code, "keys": [keys[code].public_key.to_spec()]},
            agency="registrar", staff="r"))
    return app, codes, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10,
                        help="time for each side, split over the rounds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of ours, then plain")
    parser.add_argument("--group-commit", action="store_true",
                        help="commit concurrent commands together (GroupCommitter)")
    args = parser.parse_args()

    settings = scratch_settings("bench-write-", backend=args.backend)
    app, codes, keys = ledger_with_agencies(settings, 4 * args.threads)
    committer = GroupCommitter(app) if args.group_commit else None
    execute = committer.execute if committer else app.execute
    plain = PlainExchange(scratch_settings("bench-write-", backend=args.backend)
                          .eventsourcing_env())

    committed = [0]  # our commands, over all rounds
    # per round: (this process, of which the clients' signing, PostgreSQL) per command
    cpu: dict[str, list[tuple[float, float, float | None]]] = {"ours": [], "plain": []}
    signing = ClientSigning()

    def measured(side: str, flow: Callable[[int, int], int],
                 recorder: Any) -> tuple[float, float]:
        """One round: (commands/s, events/s); notes the CPU per command of this
        process and of PostgreSQL (when it runs on this machine)."""
        before, cpu_before, pg_before = (recorder.max_notification_id() or 0,
                                         time.process_time(), postgres_cpu_seconds())
        signed_before = signing.seconds
        commands, elapsed = drive(flow, args.threads, args.seconds / args.rounds)
        pg_after = postgres_cpu_seconds()
        pg = None if pg_before is None or pg_after is None or not commands \
            else (pg_after - pg_before) / commands
        cpu[side].append(((time.process_time() - cpu_before) / max(commands, 1),
                          (signing.seconds - signed_before) / max(commands, 1), pg))
        if side == "ours":
            committed[0] += commands
        return commands / elapsed, ((recorder.max_notification_id() or 0) - before) / elapsed

    def ours_round() -> tuple[float, float]:
        return measured("ours", lambda i, n: ours_flow(
            execute, keys, codes[4 * i], codes[4 * i + 1: 4 * i + 4], n, signing), app.recorder)

    def plain_round() -> tuple[float, float]:
        return measured("plain", lambda i, n: run_flow(
            plain, f"s{i}", [f"r{i}a", f"r{i}b", f"r{i}c"]), plain.recorder)

    # Rounds alternate, so a slow spell of this shared machine slows both sides.
    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(ours_round())
        theirs.append(plain_round())
    commands_ratios = [o[0] / p[0] for o, p in zip(ours, theirs, strict=True)]
    events_ratios = [o[1] / p[1] for o, p in zip(ours, theirs, strict=True)]
    mode = (f"group commit, {committed[0] / max(committer.groups, 1):.1f} commands per "
            "transaction"
            if committer else "one transaction per command")
    print(f"backend {args.backend}, {args.threads} thread(s), {args.rounds} alternating rounds "
          f"of {args.seconds / args.rounds:.1f} s a side; docledger: {mode}")
    print(f"plain eventsourcing: {median([c for c, _ in theirs]):,.0f} commands/s, "
          f"{median([e for _, e in theirs]):,.0f} events/s (median round)")
    print(f"docledger:           {median([c for c, _ in ours]):,.0f} commands/s, "
          f"{median([e for _, e in ours]):,.0f} events/s (median round; signed, verified, "
          "receipts' record, gap-free numbers)")
    if args.backend == "postgres":
        print("CPU per command, median round: " + "; ".join(
            f"{name} {per_command(cpu[side])}"
            for side, name in (("ours", "docledger"), ("plain", "plain eventsourcing"))))
    print(f"ratio ours / plain, median of the rounds: {median(commands_ratios):.2f} × "
          f"commands/s, {median(events_ratios):.2f} × events/s (rounds: "
          + ", ".join(f"{r:.2f}" for r in commands_ratios) + ")")


def per_command(rounds: list[tuple[float, float, float | None]]) -> str:
    """'0.784 ms here (0.071 ms of it the clients' signing) + 0.124 ms PostgreSQL',
    from the median round of each."""
    here = median([r[0] for r in rounds]) * 1000
    clients = median([r[1] for r in rounds]) * 1000
    server = [r[2] for r in rounds if r[2] is not None]
    return (f"{here:.3f} ms here ({clients:.3f} ms of it the clients' signing) + "
            + (f"{median(server) * 1000:.3f} ms PostgreSQL" if server
               else "PostgreSQL not on this machine"))


if __name__ == "__main__":
    main()
