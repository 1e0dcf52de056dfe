"""The store the audit replays into, and what else a replay runs on.

``ReplayRecorder`` is an eventsourcing ``ApplicationRecorder`` built on the
library's public classes: the events the replay commits go to a plain
in-memory recorder (``POPOApplicationRecorder``), laid over the stored events
before the replay's range (``domain.verification.audit.PriorEvents``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)
from eventsourcing.popo import POPOApplicationRecorder

from domain.verification.audit import PriorEvents
from infrastructure.cache_guard import CacheGuard


class ReplayRecorder(ApplicationRecorder):
    """The replay's store: what the replay commits, in memory, over the stored
    events before its range (``prior``), which it reads only where a command
    touches an aggregate. It acts as one store holding both: an aggregate reads
    as its prior events followed by the replay's, and an event whose aggregate
    and version exist already, in either part, is refused as the store's unique
    constraint would refuse it. Positions (``select_notifications``) are the
    replay's own.

    So a replay holds in memory only what it replayed, not the log before its
    range; ``rebase`` hands even that over to the store, bounding its memory
    however long the range.
    """

    def __init__(self, prior: PriorEvents | None) -> None:
        self.prior = prior
        self.replayed = POPOApplicationRecorder()  # what the replay committed since rebase
        self._prior_last: dict[UUID, int] = {}  # last prior version, of aggregates seen

    def rebase(self, prior: PriorEvents) -> None:
        """Forget the events replayed so far: ``prior`` (the stored log up to the
        next group) holds them now, exactly as replayed, since each was compared
        byte for byte with its stored copy. The replay's aggregates stay cached."""
        self.replayed = POPOApplicationRecorder()
        self.prior = prior
        self._prior_last = {}

    def expect(self, originator_ids: Iterable[UUID | str]) -> None:
        """Look up at once the prior versions of aggregates about to be written
        (one query for a page of the log instead of one per command)."""
        if self.prior is None:
            return
        # asked of the dict one by one: a set minus the dict's keys would build a
        # set of every aggregate seen so far, each command (quadratic in a range)
        known = self._prior_last
        unknown = [i for i in {_uuid(i) for i in originator_ids} if i not in known]
        if unknown:
            found = self.prior.last_versions(unknown)
            for originator_id in unknown:
                self._prior_last[originator_id] = found.get(originator_id, 0)

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        self._refuse_prior_versions(stored_events)
        return self.replayed.insert_events(stored_events, **kwargs)

    def _refuse_prior_versions(self, stored_events: Sequence[StoredEvent]) -> None:
        """The unique (aggregate, version) constraint, over the prior events
        (the in-memory recorder keeps it over the replayed ones)."""
        if self.prior is None:
            return
        self.expect(_uuid(s.originator_id) for s in stored_events)
        for s in stored_events:
            if s.originator_version <= self._prior_last[_uuid(s.originator_id)]:
                raise IntegrityError(f"Stored event already recorded: {s}")

    def select_events(self, originator_id: UUID | str, *, gt: int | None = None,
                      lte: int | None = None, desc: bool = False,
                      limit: int | None = None) -> Sequence[StoredEvent]:
        replayed = self.replayed
        if self.prior is None:
            return replayed.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        key = _uuid(originator_id)
        known = self._prior_last.get(key)
        if gt is not None and known is not None and gt >= known:
            prior: Sequence[StoredEvent] = []  # nothing before the range after gt
        else:
            prior = self.prior.events(key, after=gt or 0)
            if prior or not gt:
                self._prior_last[key] = prior[-1].originator_version if prior else 0
        found = [s for s in prior if lte is None or s.originator_version <= lte]
        found += replayed.select_events(originator_id, gt=gt, lte=lte)
        if desc:
            found.reverse()
        return found if limit is None else found[:limit]

    def select_notifications(self, start: int | None, limit: int, stop: int | None = None,
                             topics: Sequence[str] = (), *,
                             inclusive_of_start: bool = True) -> Sequence[Notification]:
        return self.replayed.select_notifications(start, limit, stop, topics,
                                                  inclusive_of_start=inclusive_of_start)

    def max_notification_id(self) -> int | None:
        return self.replayed.max_notification_id()

    def subscribe(self, gt: int | None = None,
                  topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        """The replayed events as they are committed (until the next rebase)."""
        return self.replayed.subscribe(gt, topics)


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


class InMemoryReplay:
    """What the audit's replay runs on (``domain.verification.audit.ReplayAdapters``):
    a ``ReplayRecorder`` and the ledger's cache guard."""

    @staticmethod
    def store(prior: PriorEvents | None) -> ReplayRecorder:
        return ReplayRecorder(prior)

    @staticmethod
    def cache_guard(app: Application[UUID], *, sole_writer: bool) -> CacheGuard:
        return CacheGuard(app, sole_writer=sole_writer)


REPLAY = InMemoryReplay()
