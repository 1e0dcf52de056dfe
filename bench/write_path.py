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

from bench.plain import PlainExchange, run_flow
from bench.scratch import scratch_settings
from bench.workload import full_flow
from domain.application import Outcome
from domain.keys import Ed25519Signer
from domain.signing import sign_command
from infrastructure.group_commit import GroupCommitter
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger


def ours_flow(execute: Callable[[bytes], Outcome], keys: dict[str, Ed25519Signer], sender: str,
              recipients: list[str], n: int) -> int:
    def act(agency: str, type: str, fields: dict[str, object]) -> dict[str, object]:
        return execute(sign_command(keys[agency], type, fields, agency=agency,
                                    staff="văn thư")).result

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--group-commit", action="store_true",
                        help="commit concurrent commands together (GroupCommitter)")
    args = parser.parse_args()

    ours = scratch_settings("bench-write-", backend=args.backend)
    app = init_ledger(ours)
    registrar = load_signer(DataFolder(ours.data).registrar_key)
    codes = [f"{i:03d}.00.31.H29" for i in range(4 * args.threads)]
    keys = {c: Ed25519Signer.generate() for c in codes}
    for code in codes:
        app.execute(sign_command(registrar, "agency.register", {
            "code": code, "name": code, "keys": [keys[code].public_key.to_spec()]},
            agency="registrar", staff="r"))
    before = app.recorder.max_notification_id() or 0
    committer = GroupCommitter(app) if args.group_commit else None
    execute = committer.execute if committer else app.execute
    commands, elapsed = drive(lambda i, n: ours_flow(
        execute, keys, codes[4 * i], codes[4 * i + 1: 4 * i + 4], n), args.threads, args.seconds)
    events = (app.recorder.max_notification_id() or 0) - before

    plain_settings = scratch_settings("bench-write-", backend=args.backend)
    plain = PlainExchange(plain_settings.eventsourcing_env())
    p_commands, p_elapsed = drive(lambda i, n: run_flow(
        plain, f"s{i}", [f"r{i}a", f"r{i}b", f"r{i}c"]), args.threads, args.seconds)
    p_events = plain.recorder.max_notification_id() or 0

    ours_rate, plain_rate = commands / elapsed, p_commands / p_elapsed
    mode = (f"group commit, {commands / max(committer.groups, 1):.1f} commands per transaction"
            if committer else "one transaction per command")
    print(f"backend {args.backend}, {args.threads} thread(s), {args.seconds:.0f} s each; "
          f"docledger: {mode}")
    print(f"plain eventsourcing: {plain_rate:,.0f} commands/s, {p_events / p_elapsed:,.0f} "
          f"events/s")
    print(f"docledger:           {ours_rate:,.0f} commands/s, {events / elapsed:,.0f} events/s "
          f"(signed, verified, receipts' record, gap-free numbers)")
    print(f"ratio ours / plain: {ours_rate / plain_rate:.2f} × commands/s")


if __name__ == "__main__":
    main()
