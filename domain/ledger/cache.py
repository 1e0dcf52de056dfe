"""What the ledger needs of whatever keeps its aggregate cache true to the log.

An application whose cache is not fast-forwarded on every read (one round trip
per aggregate) is given a guard instead (``infrastructure.cache_guard``): it
looks at the log once per command and evicts what other writers changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application


class AggregateCacheGuard(Protocol):
    """Keeps an application's aggregate cache true to its store's log."""

    def refresh(self) -> None:
        """Before a command: evict whatever other writers changed since the last look."""
        ...

    def committed(self, notification_ids: Iterable[int], aggregates: Iterable[Any]) -> None:
        """The application committed these notifications, leaving ``aggregates``
        exactly as stored."""
        ...

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """Evict aggregates whose cached copy may not be what is stored."""
        ...


class CacheGuardFactory(Protocol):
    """Makes the guard of an application's cache, once the application has its
    store and cache; ``sole_writer``: no other writer shares the store."""

    def __call__(self, app: Application[UUID], *, sole_writer: bool) -> AggregateCacheGuard:
        ...
