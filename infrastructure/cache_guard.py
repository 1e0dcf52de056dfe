"""Keeps the aggregate cache true to the log without a read per aggregate.

eventsourcing's fast-forwarding cache asks the store for newer events every time
an aggregate is taken from it: one round trip per aggregate, about four and a
half per command. The guard makes that one round trip per command (or per group
of commands): before a command runs, it reads the notifications written since it
last looked, and every cached aggregate that another writer (another process, or
another application object on the same store) changed is brought forward with
the events just read, as eventsourcing's fast-forwarding would with events it
read itself; one the events cannot bring forward (they skip a version, say) is
evicted, to be read again when next needed. When the log's last
position shows that nothing but this application's own commits was written
since, that position is all it reads. What this application
itself commits it puts into the cache, so hot aggregates never need a read.

The guard cannot make a cached aggregate fresher than a read would be: a write
by another process that lands between the guard's look and the command's commit
is caught the same way as with fast-forwarding, by the store's unique
(aggregate, version) constraint for the aggregates the command changes.

An application that is its store's only writer (the audit's in-memory replay)
has nothing to evict: its guard reads no log and caches whatever it commits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from copy import deepcopy
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, project_aggregate
from eventsourcing.persistence import Notification

PAGE = 1000


class CacheGuard:
    """Brings forward (or evicts) what other writers changed; caches what this
    application commits (the ledger's ``domain.ledger.cache.AggregateCacheGuard``)."""

    def __init__(self, app: Application[UUID], *, sole_writer: bool = False) -> None:
        cache = app.repository.cache
        assert cache is not None, "the guard needs the repository's cache"
        self._app = app
        self._cache = cache
        # No other writer (the audit's in-memory replay): nothing to evict, and
        # what is committed is always what is stored.
        self._sole_writer = sole_writer
        self._lock = threading.Lock()
        self._position = 0 if sole_writer else app.recorder.max_notification_id() or 0
        self._ours: set[int] = set()  # our notification ids not yet read back
        self._others_seen = False  # whether the last look read another writer's events
        # other writers' events on cached aggregates (for tests and benchmarks)
        self.followed = 0  # applied to the cached aggregate
        self.evictions = 0  # which evicted it instead

    def refresh(self) -> None:
        """Read the log since the last look; bring forward or evict what others changed."""
        if self._sole_writer:
            return
        with self._lock:
            # When the last look found another writer's events, the next will most
            # likely find some too: reading the log's last position first would
            # then only add a round trip.
            if self._ours and not self._others_seen and self._only_ours_since():
                return
            self._others_seen = False
            while True:
                page = self._app.recorder.select_notifications(self._position + 1, PAGE)
                for n in page:
                    if n.id in self._ours:
                        self._ours.discard(n.id)
                    else:
                        self._others_seen = True
                        self._follow(n)
                if page:
                    self._position = page[-1].id
                if len(page) < PAGE:
                    return

    def _follow(self, n: Notification) -> None:
        """Another writer's event: applied to a copy of the cached aggregate, which
        replaces it, when it is the aggregate's next version; else the cached one
        is evicted. Nothing changes a cached object in place: readers may hold it
        (``DocLedger.lookup``)."""
        assert isinstance(n.originator_id, UUID), "the ledger's ids are UUIDs"
        try:
            cached = self._cache.get(n.originator_id)
        except KeyError:
            return  # not cached: nothing to keep true
        followed = None
        if cached.version + 1 == n.originator_version:
            # the repository's own projector, as its reconstruction and fast-forwarding use
            followed = project_aggregate(deepcopy(cached), [self._app.mapper.to_domain_event(n)])
        if followed is None:
            self._evict(n.originator_id)
            self.evictions += 1
        else:
            self._cache.put(n.originator_id, followed)
            self.followed += 1

    def _only_ours_since(self) -> bool:
        """Whether every position written since the last look is one of our own
        commits (then there is nothing to evict, and nothing to read but the
        log's last position). Commits are numbered in the order they become
        visible, so none of another writer's can hide below that position."""
        top = self._app.recorder.max_notification_id() or 0
        since = range(self._position + 1, top + 1)
        if len(since) > len(self._ours) or any(n not in self._ours for n in since):
            return False
        self._ours.difference_update(since)
        self._position = top
        return True

    def committed(self, notification_ids: Iterable[int], aggregates: Iterable[Any]) -> None:
        """This application committed these notifications, leaving ``aggregates``
        exactly as stored: cache them, unless the log was read past our commit
        meanwhile (then another writer's change may already have been evicted,
        and putting ours back could undo that: evict instead)."""
        ids = list(notification_ids)
        with self._lock:
            if self._sole_writer or (ids and min(ids) > self._position):
                if not self._sole_writer:  # it never reads them back
                    self._ours.update(ids)
                for aggregate in aggregates:
                    self._cache.put(aggregate.id, aggregate)
                return
        self.forget(a.id for a in aggregates)

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """Evict aggregates whose cached copy may not be what is stored."""
        for aggregate_id in aggregate_ids:
            self._evict(aggregate_id)

    def _evict(self, aggregate_id: UUID) -> None:
        with contextlib.suppress(KeyError):
            self._cache.get(aggregate_id, evict=True)
