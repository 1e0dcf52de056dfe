"""Projection views: rebuild throughput and memory, and inbox latency at scale.

1. Rebuild: generates a realistic signed history (bench.generate), then rebuilds
   every view from it, at half the log and at the whole log (memory must not
   grow with the log). Baseline in the same run: reading the whole log once.
2. Inbox: fills the deliveries view with N synthetic rows (2,000 agencies,
   Zipf-skewed, every state) and times one page (50 rows) of the inbox of
   random agencies and of the busiest one. Baseline: one delivery by key.

Backend from the environment: DOCLEDGER_BACKEND=postgres DOCLEDGER_PG_DB=…
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
import uuid
from datetime import date, timedelta

from bench.generate import fill
from bench.scratch import scratch_settings
from bench.stats import median, percentile, timed
from domain.ledger.application import DocLedger
from infrastructure.ledger import init_ledger
from infrastructure.views import queries
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import build_shadow

STATES = ["arrived", "accepted", "assigned", "in_progress", "completed", "refused", "recalled"]


def rebuild_figures(app: DocLedger, repeats: int) -> None:
    total = app.recorder.max_notification_id() or 0

    def scan() -> None:
        start = 1
        while batch := app.recorder.select_notifications(start, 5000):
            start = batch[-1].id + 1

    def rebuild_to(until: int, *, trace: bool = False) -> tuple[float, int]:
        """Seconds, or (traced separately: tracing slows allocation) peak bytes.
        The same work as ``docledger rebuild`` up to its switch."""
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        build_shadow(app, "__bench", until=until)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        return seconds, peak

    base = median(timed(scan, repeats))
    full = [rebuild_to(total) for _ in range(repeats)]
    half = [rebuild_to(total // 2, trace=True)]
    full += [rebuild_to(total, trace=True)]
    ViewStore(app, "__bench", indexes=False).drop()
    full_s = median([s for s, p in full if not p])
    print(f"rebuild of {total:,} events: median {full_s:.2f} s = {total / full_s:,.0f} events/s; "
          f"reading the log alone: {total / base:,.0f} events/s "
          f"(rebuild takes {full_s / base:.1f} × the read)")
    print(f"peak Python memory of a rebuild: half the log {max(p for _, p in half) / 2**20:.1f}"
          f" MiB, whole log {max(p for _, p in full) / 2**20:.1f} MiB")


def fill_deliveries(views: ViewStore, count: int, agencies: int) -> list[str]:
    rng = random.Random(3)
    codes = [f"{i // 100:03d}.{i % 100:02d}.31.H29" for i in range(agencies)]
    weights = [1 / (rank + 1) for rank in range(agencies)]
    today = date.today()
    template = views.sql(
        "INSERT INTO {t:v_deliveries} (delivery_id, document_id, sender, recipient, reference, "
        "subject, type_name, priority, due_date, due_key, state, status_code, "
        "incoming_number, lead_unit, officer, arrived_on, updated_at, revision) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0)")
    done = 0
    while done < count:
        rows = []
        for _ in range(min(50_000, count - done)):
            recipient = rng.choices(codes, weights)[0]
            state = rng.choice(STATES)
            due = (today + timedelta(days=rng.randint(-30, 60))).isoformat()
            rows.append((str(uuid.uuid4()), str(uuid.uuid4()), rng.choice(codes), recipient,
                         f"{done}/CV-UBND", "Về việc triển khai nhiệm vụ", "Công văn",
                         rng.choice([0, 0, 0, 1, 2, 3]), due, due, state,
                         "03", done, "Phòng Nội vụ", None, today.isoformat(), "2026"))
            done += 1
        with views.transaction() as c:
            c.executemany(template, rows)
    with views.transaction() as c:
        c.execute("ANALYZE")
    return codes


def inbox_figures(views: ViewStore, count: int, samples: int) -> None:
    codes = fill_deliveries(views, count, agencies=2000)
    rng = random.Random(5)
    today = date.today()
    some = views.query("SELECT delivery_id FROM {t:v_deliveries} LIMIT 1")[0]["delivery_id"]
    base = timed(lambda: views.query(
        "SELECT * FROM {t:v_deliveries} WHERE delivery_id = %s", [some]), samples)
    cases = {
        "inbox page, random agency, by urgency": lambda: queries.inbox(
            views, queries.InboxQuery(agency=rng.choice(codes)), today),
        "inbox page, busiest agency, by urgency": lambda: queries.inbox(
            views, queries.InboxQuery(agency=codes[0]), today),
        "inbox page, busiest agency, by due date": lambda: queries.inbox(
            views, queries.InboxQuery(agency=codes[0], sort="due"), today),
        "inbox page, busiest agency, overdue only": lambda: queries.inbox(
            views, queries.InboxQuery(agency=codes[0], overdue=True), today),
        "inbox page, busiest agency, state=arrived": lambda: queries.inbox(
            views, queries.InboxQuery(agency=codes[0], states=("arrived",)), today),
    }
    busiest = views.query("SELECT count(*) AS n FROM {t:v_deliveries} WHERE recipient = %s",
                          [codes[0]])[0]["n"]
    print(f"{count:,} deliveries in the view; the busiest agency has {busiest:,}")
    print(f"{'figure':44} {'median ms':>10} {'p99 ms':>8} {'× baseline':>11}")
    rows = [("baseline: one delivery by key", base)]
    rows += [(name, timed(fn, samples)) for name, fn in cases.items()]
    for name, s in rows:
        print(f"{name:44} {median(s) * 1000:10.3f} {percentile(s, 99) * 1000:8.3f} "
              f"{median(s) / median(base):11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=3000, help="history for the rebuild")
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--skip-inbox", action="store_true")
    args = parser.parse_args()
    settings = scratch_settings("bench-views-")
    print(f"backend: {settings.backend}")
    if not args.skip_rebuild:
        gen = fill(settings, documents=args.documents)
        rebuild_figures(gen.app, args.repeats)
    if not args.skip_inbox:
        inbox_settings = scratch_settings("bench-views-")
        app = init_ledger(inbox_settings)
        inbox_figures(ViewStore(app, "__bench_inbox"), args.deliveries, args.samples)


if __name__ == "__main__":
    main()
