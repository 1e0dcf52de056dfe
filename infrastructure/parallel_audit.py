"""The full audit on every core: the log cut into ranges, one replay per range.

Each range's replay (in this process, or in a worker process) opens the
store itself and verifies and replays every command group whose record lies
in its range, exactly as the sequential audit
does (``domain.verification.audit.CommandReplay``), against the stored events before the
range, which it reads from the store where a command touches an aggregate
(``StoredBefore``). A replay keeps in memory only what it replayed since it
last handed that over to the store (every ``KEEP_AT_MOST`` events), so its
memory stays bounded however long the log. This process replays every
``workers``-th range itself while ``workers - 1`` worker processes share the
others, then reads the whole log once more for the Merkle tree and the
checkpoints, and then requires the
ranges to join up: each range's first command record must be the event right
after the previous range's last replayed event, and the last range must end
at the log's last event. Nothing is left unreplayed, nothing replayed twice.

A range starts at the first command record at or after its nominal start: in
a log that passes, no other event carries a record's topic (the replay
compares every topic), so where the ranges meet is the same for every worker.
The earliest failure found by any worker or by the tree is the one reported.
"""

from __future__ import annotations

import bisect
import itertools
import math
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, StoredEvent

from domain.errors import AuditFailure, AuditIncompleteError
from domain.evidence.keys import PublicKey, key_id_for
from domain.ledger.application import DocLedger
from domain.verification.audit import (
    GROUP_HEADS,
    AuditReport,
    CommandReplay,
    RangeReport,
    report_of,
)
from domain.verification.audit_tree import TreeAudit, open_checkpoints
from infrastructure.heap import settle
from infrastructure.log_store import EventsTable
from infrastructure.periodic import Periodically
from infrastructure.replay_recorder import REPLAY

PAGE = 1000
KEEP_AT_MOST = 50_000  # events a replay holds in memory before handing them to the store


@dataclass(frozen=True, kw_only=True)
class RangeJob:
    env: dict[str, str]  # how to open the store (eventsourcing's environment)
    start: int  # the range's nominal first position
    stop: int | None  # the next range's nominal start; None: to the end
    end: int  # the log's last position when the audit began: nothing later is read
    registrar_spki: bytes
    ledger_spki: bytes
    notes: tuple[str, ...]  # signed checkpoints, for the genesis check of range 0
    slot: int  # where this worker counts its progress
    keep_at_most: int  # events a replay holds in memory before handing them to the store


NOTHING = RangeReport(first=None, last=None, commands=0, events=0)  # a range without records


@dataclass(frozen=True, kw_only=True)
class RangeResult:
    report: RangeReport
    failure: tuple[int | None, str] | None = None  # (position, reason): a finding
    error: str | None = None  # the range could not be audited (not a finding)


_progress: Any = None  # a shared array of counters, one per range (set per worker)


def _init_worker(progress: Any) -> None:
    global _progress
    _progress = progress
    settle()  # the worker lives for the audit alone (infrastructure/heap.py)


def _count(slot: int, events: int) -> None:
    if _progress is not None:
        _progress[slot] += events


def _key(spki: bytes) -> PublicKey:
    return PublicKey(keyid=key_id_for(spki), algorithm="ed25519", spki_der=spki)


class StoreReader(Application[UUID]):
    """The ledger's store, for reading only: no tables created, no writes."""

    name = DocLedger.name  # the tables are named after the application


def open_reader(env: dict[str, str]) -> StoreReader:
    return StoreReader(env={**env, "CREATE_TABLE": "n"})


class StoredBefore:
    """The stored events before position ``start``, read by aggregate
    (``domain.verification.audit.PriorEvents``): the state a range is replayed against."""

    def __init__(self, app: Application[UUID], start: int) -> None:
        self.table = EventsTable.of(app.recorder)
        self.start = start

    def events(self, originator_id: UUID, after: int = 0) -> list[StoredEvent]:
        t = self.table
        with t.datastore.transaction(commit=False) as c:
            c.execute(t.sql(f"SELECT originator_version, topic, state FROM {t.name} "
                            f"WHERE originator_id = %s AND originator_version > %s "
                            f"AND {t.position} < %s ORDER BY originator_version"),
                      (t.key(originator_id), after, self.start))
            return [StoredEvent(originator_id=originator_id,
                                originator_version=int(r["originator_version"]),
                                topic=r["topic"], state=bytes(r["state"]))
                    for r in c.fetchall()]

    def last_versions(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        t = self.table
        found: dict[UUID, int] = {}
        with t.datastore.transaction(commit=False) as c:
            for k in range(0, len(originator_ids), 500):
                chunk = originator_ids[k:k + 500]
                c.execute(t.sql(f"SELECT originator_id, max(originator_version) AS last "
                                f"FROM {t.name} WHERE {t.position} < %s AND originator_id IN ("
                                + ",".join(["%s"] * len(chunk)) + ") GROUP BY originator_id"),
                          (self.start, *(t.key(i) for i in chunk)))
                found.update({t.key_of(r["originator_id"]): int(r["last"])
                              for r in c.fetchall()})
        return found


def audit_range(job: RangeJob) -> RangeResult:
    """Replay the command groups whose records lie in [job.start, job.stop)
    (in a worker process: counted in the counters it was started with)."""
    return replay_range(job, _count)


def replay_range(job: RangeJob, count: Callable[[int, int], None]) -> RangeResult:
    """``audit_range``, counting each replayed group's events with ``count``."""
    reader = open_reader(job.env)
    ledger_key = _key(job.ledger_spki)
    replay: CommandReplay | None = None
    try:
        pages = _pages_upto(reader, job.start, job.end)

        def prior_at(position: int) -> StoredBefore:
            return StoredBefore(reader, position)

        prior = None
        if job.start > 1:
            found = _first_record(pages)
            if found is None:  # no record: these events end the range before
                return RangeResult(report=NOTHING)
            first, pages = found
            prior = prior_at(first)
        replay = CommandReplay(mapper=reader.mapper, registrar_key=_key(job.registrar_spki),
                               ledger_key=ledger_key,
                               checkpoints=open_checkpoints(job.notes, ledger_key)
                               if prior is None else [], adapters=REPLAY, prior=prior,
                               prior_at=prior_at, keep_at_most=job.keep_at_most)
        for group in replay.groups(_expecting(replay, pages), stop_before=job.stop):
            count(job.slot, len(group))
    except AuditFailure as exc:
        assert replay is not None
        return RangeResult(report=replay.report(), failure=(exc.position, exc.reason))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which decides
        # Either the store failed, or the stored events this range reads as its
        # starting state are broken; an earlier range then names them.
        return RangeResult(report=replay.report() if replay is not None else NOTHING,
                           error=f"range from {job.start}: {exc!r}")
    finally:
        reader.close()
    return RangeResult(report=replay.report())


def _first_record(pages: Iterator[list[Notification]]
                  ) -> tuple[int, Iterator[list[Notification]]] | None:
    """Where a range really starts: at its first group's head, a command record or a
    gateway receipt (the events
    before it end the previous range's last group). Returns that position and
    the pages from it on, or None if the range holds no record."""
    for page in pages:
        for k, n in enumerate(page):
            if n.topic in GROUP_HEADS:
                return n.id, itertools.chain([page[k:]], pages)
    return None


def _expecting(replay: CommandReplay, pages: Iterable[list[Notification]]
               ) -> Iterator[Notification]:
    """The pages' events, announcing each page's aggregates to the replay's store
    first (one query a page for their versions before the range)."""
    for page in pages:
        replay.recorder.expect(n.originator_id for n in page)
        yield from page


def run_parallel_audit(
    *,
    env: dict[str, str],
    total: int,
    notifications: Callable[[], Iterator[Notification]],
    stored_leaves: Iterator[tuple[int, int, bytes]] | None,
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    notes: Iterable[str],
    workers: int,
    ranges: int,
    progress: Callable[[int], None] | None = None,
    keep_at_most: int = KEEP_AT_MOST,
) -> AuditReport:
    """Audit the log up to position ``total`` in ``ranges`` ranges on ``workers``
    processes, this one among them (1: here, one range after another; the tests
    use that to cut small logs). ``progress`` hears of replayed events every
    quarter second, from a thread of its own. Whatever a live ledger appends
    meanwhile is left for the next audit: every reader stops at ``total``, so
    all see the same log."""
    notes = tuple(notes)
    if stored_leaves is not None:
        stored_leaves = itertools.takewhile(lambda leaf: leaf[1] <= total, stored_leaves)
    opened = open_checkpoints(notes, ledger_key)
    tree = TreeAudit(opened, stored_leaves)
    size = math.ceil(total / ranges)
    starts = [1 + k * size for k in range(ranges) if k * size < total] or [1]
    jobs = [RangeJob(env=env, start=start, stop=starts[k + 1] if k + 1 < len(starts) else None,
                     end=total,
                     registrar_spki=registrar_key.spki_der, ledger_spki=ledger_key.spki_der,
                     notes=notes, slot=k, keep_at_most=keep_at_most)
            for k, start in enumerate(starts)]
    failures: list[tuple[int | None, int, str]] = []  # (position, order, reason)
    # This process replays every ``workers``-th range itself, then reads the log
    # for the tree, while ``workers - 1`` worker processes share the others: no
    # more processes than ``workers`` compete for the cores, and this one's
    # imports are not paid again.
    here, there = jobs[::workers], [job for k, job in enumerate(jobs) if k % workers]
    counters = get_context("spawn").Array("q", len(jobs), lock=False)

    def count(slot: int, events: int) -> None:
        counters[slot] += events

    with ExitStack() as stack:
        futures: list[Future[RangeResult]] = []
        if there:
            pool = stack.enter_context(ProcessPoolExecutor(
                min(workers - 1, len(there)), mp_context=get_context("spawn"),
                initializer=_init_worker, initargs=(counters,)))
            futures = [pool.submit(audit_range, job) for job in there]
        if progress is not None:  # every quarter second, and once more at the end
            reporter = _Reporter(counters, progress)
            stack.callback(reporter.report)
            stack.enter_context(Periodically(reporter.report, 0.25))
        done_here = [replay_range(job, count) for job in here]
        ids = _tree_pass(tree, _upto(notifications(), total), failures)
        wait(futures, return_when=FIRST_EXCEPTION)  # a worker that died: result() raises
        finished = iter(done_here)
        pending = iter(futures)
        results = [next(finished) if k % workers == 0 else next(pending).result()
                   for k in range(len(jobs))]
    failures += [(r.failure[0], 0, r.failure[1]) for r in results if r.failure is not None]
    errors = [r.error for r in results if r.error is not None]
    if not errors:
        _join(results, ids, failures)
    if failures:
        position, _, reason = min(failures, key=lambda f: (
            f[0] if f[0] is not None else math.inf, f[1]))
        raise AuditFailure(position, reason)
    if errors:
        raise AuditIncompleteError("the audit could not finish: " + "; ".join(errors))
    replayed = RangeReport(first=ids[0] if ids else None, last=ids[-1] if ids else None,
                           commands=sum(r.report.commands for r in results),
                           events=sum(r.report.events for r in results))
    return report_of(replayed, tree, opened)


def _tree_pass(tree: TreeAudit, stream: Iterator[Notification],
               failures: list[tuple[int | None, int, str]]) -> array[int]:
    """Step 5 over the whole log; returns every position read, in order."""
    ids: array[int] = array("q")
    try:
        for n in stream:
            tree.add(n)
            ids.append(n.id)
        tree.finish(ids[-1] if ids else None)
    except AuditFailure as exc:
        failures.append((exc.position, 1, exc.reason))
        ids.extend(n.id for n in stream)  # the join still needs the whole log
    return ids


def _join(results: list[RangeResult], ids: Sequence[int],
          failures: list[tuple[int | None, int, str]]) -> None:
    """Require the replayed ranges to cover the log exactly, in order: each range
    starts at the event right after the previous one's last (notification ids
    may have gaps: PostgreSQL spends ids on transactions that roll back)."""
    expected: int | None = ids[0] if ids else None
    for result in results:
        report = result.report
        if result.failure is not None:
            return  # a range that failed says where; the join past it means nothing
        if report.first is None:
            continue  # no record in this range: its events belong to the one before
        if report.first != expected:
            failures.append((expected, 0, "expected a command record here: the events "
                                          f"from here up to {report.first} belong to no "
                                          "signed command"))
            return
        assert report.last is not None
        after = bisect.bisect_right(ids, report.last)
        expected = ids[after] if after < len(ids) else None
    if expected is not None:
        failures.append((expected, 0, "expected a command record here: the events from "
                                      "here to the end belong to no signed command"))


class _Reporter:
    """Hands ``progress`` what the counters gained since it last reported."""

    def __init__(self, counters: Any, progress: Callable[[int], None]) -> None:
        self.counters = counters
        self.progress = progress
        self.reported = 0

    def report(self) -> None:
        if (now := sum(self.counters)) > self.reported:
            self.progress(now - self.reported)
            self.reported = now


def _pages_upto(app: Application[UUID], start: int,
                end: int | None = None) -> Iterator[list[Notification]]:
    """The stored log from ``start`` (to ``end``) in notification order, a page at a time."""
    while end is None or start <= end:
        batch = list(app.recorder.select_notifications(start, PAGE, stop=end))
        if batch:
            yield batch
        if len(batch) < PAGE:
            return
        start = batch[-1].id + 1


def log_pages(app: Application[UUID], start: int = 1) -> Iterator[Notification]:
    """The stored log in notification order, read a page at a time."""
    return itertools.chain.from_iterable(_pages_upto(app, start))


def _upto(stream: Iterator[Notification], end: int) -> Iterator[Notification]:
    return itertools.takewhile(lambda n: n.id <= end, stream)
