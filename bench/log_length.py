"""The Merkle log's sequencing on a short log and on a long one.

After each group commit the service catches the Merkle log up with the events
just committed (``LedgerLog.catch_up``: where the tree ends, the new events,
one append of their leaves and nodes). That cost must not grow with the log's
length: a ledger keeps years of history (docs/scale.md, "The log's length").

Generates a history of ``--short`` documents (the baseline) and one of
``--documents`` (the long log) in fresh stores, catches each log up, then
writes ``--more`` documents' lives more on each, catching the log up after
every group commit of ``--lockstep`` commands, and prints the median and p99 of
those catch-ups.

    DOCLEDGER_BACKEND=postgres python -m bench.log_length --documents 10000
"""

from __future__ import annotations

import argparse
import time

from bench.generate import fill
from bench.scratch import scratch_settings
from bench.stats import median, percentile
from infrastructure.ledger import open_log


def catch_ups(documents: int, more: int, lockstep: int) -> tuple[int, list[float]]:
    """(events in the log before, each catch-up's seconds while writing ``more``)."""
    settings = scratch_settings(f"bench-log-{documents}-")
    gen = fill(settings, documents=documents)
    log = open_log(settings, gen.app)
    log.catch_up()
    events = gen.app.recorder.max_notification_id() or 0
    times: list[float] = []

    def timed() -> None:
        started = time.perf_counter()
        log.catch_up()
        times.append(time.perf_counter() - started)

    gen.run(gen.documents(gen.codes, more, first=documents), lockstep=lockstep,
            after_group=timed)
    gen.app.close()
    return events, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000, help="the long log")
    parser.add_argument("--short", type=int, default=100, help="the baseline's log")
    parser.add_argument("--more", type=int, default=60,
                        help="documents written on each log, catching up after each group")
    parser.add_argument("--lockstep", type=int, default=8,
                        help="documents whose lives advance together, one group commit a step")
    args = parser.parse_args()
    figures = []
    for documents in (args.short, args.documents):
        events, times = catch_ups(documents, args.more, args.lockstep)
        figures.append(median(times))
        print(f"log of {events:,} events: catch-up after each group commit: median "
              f"{median(times) * 1e3:.3f} ms, p99 {percentile(times, 99) * 1e3:.3f} ms "
              f"over {len(times)} groups", flush=True)
    print(f"ratio long / short: {figures[1] / figures[0]:.2f}×")


if __name__ == "__main__":
    main()
