"""Pages of the log's events with their leaf indexes, for monitors (``/v1/log/events``).

A page covers the leaves [start, end) up to a signed checkpoint's size: every
event for an auditor (or the operator), only those naming the agency for an
agency (``domain.verification.monitor.naming``). The events of a stretch of
leaves are read in two queries (the leaves, then their notifications), and a
page is extended to end at a whole command, so a command record and the events
it lists are judged together.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import AuditFailure, InvalidInputError, NotFoundError
from domain.ledger.application import DocLedger
from domain.verification.monitor import LogEvent, commands_end, naming
from infrastructure.log_store import LogStore
from infrastructure.transparency import LedgerLog

MAX_LIMIT = 1000


def read_events(app: DocLedger, store: LogStore, start: int, stop: int) -> list[LogEvent]:
    """The stored events of leaves [start, stop), each checked against its leaf."""
    if stop <= start:
        return []
    leaves = store.leaves(start, stop - start)
    if not leaves:
        return []
    rows = {n.id: n for n in app.recorder.select_notifications(
        leaves[0][1], len(leaves), stop=leaves[-1][1])}
    events = []
    for index, notification_id, leaf in leaves:
        row = rows.get(notification_id)
        if row is None or not isinstance(row.originator_id, UUID):
            raise AuditFailure(notification_id, f"leaf {index} names this notification, "
                               "which the event store does not hold")
        event = LogEvent(leaf_index=index, notification_id=notification_id,
                         aggregate_id=row.originator_id, version=row.originator_version,
                         topic=row.topic, state=bytes(row.state))
        if event.leaf_hash != leaf:
            raise AuditFailure(notification_id, f"the stored event no longer hashes to its "
                               f"leaf {index}: run docledger audit")
        events.append(event)
    return events


def events_page(app: DocLedger, log: LedgerLog, *, start: int, limit: int,
                agency: str | None) -> dict[str, Any]:
    """The page of leaves from ``start`` (at most ``limit`` of them, more to finish a
    command) covered by the latest published checkpoint: every event, or with
    ``agency`` those naming it. ``end`` is where the next page starts."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be 1 to {MAX_LIMIT}")
    store = log.store
    latest = log.published_checkpoint()
    if latest is None:
        raise NotFoundError("the ledger has published no checkpoint yet")
    size = latest.size
    stop = min(start + limit, size)
    events = read_events(app, store, start, stop)
    finish = min(commands_end(events), size)
    if finish > stop:
        events += read_events(app, store, stop, finish)
        stop = finish
    shown = events if agency is None else [e for e, _ in naming(events, agency)]
    return {"start": start, "end": max(stop, start), "tree_size": size,
            "events": [e.as_dict() for e in shown]}
