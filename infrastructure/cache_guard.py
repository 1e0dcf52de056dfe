"""Keeps the aggregate cache true to the log without a read per aggregate.

eventsourcing's fast-forwarding cache asks the store for newer events every time
an aggregate is taken from it: one round trip per aggregate, about four and a
half per command. The guard makes that one round trip per command (or per group
of commands): before a command runs, it reads the notifications written since it
last looked and evicts every aggregate that another writer (another process, or
another application object on the same store) changed. When the log's last
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
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

PAGE = 1000


class CacheGuard:
    """Evicts what other writers changed; caches what this application commits
    (the ledger's ``domain.ledger.cache.AggregateCacheGuard``)."""

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
        self.evictions = 0  # aggregates evicted for other writers' events (for tests)

    def refresh(self) -> None:
        """Read the log since the last look; evict what others changed."""
        if self._sole_writer:
            return
        with self._lock:
            if self._ours and self._only_ours_since():
                return
            while True:
                page = self._app.recorder.select_notifications(self._position + 1, PAGE)
                for n in page:
                    if n.id in self._ours:
                        self._ours.discard(n.id)
                    else:
                        assert isinstance(n.originator_id, UUID), "the ledger's ids are UUIDs"
                        self._evict(n.originator_id)
                        self.evictions += 1
                if page:
                    self._position = page[-1].id
                if len(page) < PAGE:
                    return

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
