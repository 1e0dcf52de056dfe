"""eventsourcing's repository, with one read less for aggregates never snapshotted.

The library reads an aggregate's latest snapshot, then its events after it: two
queries for every aggregate not in the cache, and for every id looked up and not
found (each new document's, before it is created). Only the registers are ever
snapshotted (``DocLedger.snapshotting_intervals``); any other aggregate is read
from its events alone, in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository, project_aggregate


def project_unsnapshotted(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's ``project_aggregate``, as the projector of an aggregate of a
    class that is never snapshotted: the repository then reads no snapshot for it."""
    return project_aggregate(aggregate, events)


class LedgerRepository(Repository[UUID]):
    """``Repository`` that reads no snapshot for ``get(..., projector_func=
    project_unsnapshotted)``."""

    def _reconstruct_aggregate(self, aggregate_id: UUID, version: int | None,
                               projector_func: Any) -> Any:
        if projector_func is not project_unsnapshotted:
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        events = self.event_store.get(originator_id=aggregate_id, lte=version)
        aggregate = project_aggregate(None, events)
        if aggregate is None:
            raise AggregateNotFoundError(
                f"Aggregate {aggregate_id!r} version {version!r} not found.")
        return aggregate
