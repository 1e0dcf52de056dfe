"""How an event's shape changes, on a test-only aggregate: the library's upcasting
(``class_version`` and ``upcast_v1_v2``) reads an event stored in its first shape
in its new one, and changes no stored byte, so every leaf hash (over the stored
bytes) and every checkpoint still hold. What it cannot do is make a replayed
command write the old bytes again: a class the ledger's commands write keeps its
shape, and a new shape is a new event class (docs/changing-commands.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.evidence.leaf import event_leaf_hash

WRITTEN = "tests.upcasting:Memo.Written"


class Memo(Aggregate):
    TOPIC = "tests.upcasting:Memo"

    class Created(Aggregate.Created):
        TOPIC = "tests.upcasting:Memo.Created"

    class Written(Aggregate.Event):
        """Version 2: what version 1 stored as ``text`` is ``body``, with a language."""

        TOPIC = WRITTEN
        class_version = 2
        body: str
        language: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["body"] = state.pop("text")
            state["language"] = "vi"


def stored_in_first_shape(app: Application) -> StoredEvent:
    """The row the code before the change wrote: no class_version, a ``text``."""
    state = {"timestamp": datetime(2026, 1, 2, tzinfo=UTC), "text": "Về việc họp"}
    return StoredEvent(originator_id=uuid4(), originator_version=2, topic=WRITTEN,
                       state=app.mapper.transcoder.encode(state))


def test_an_event_stored_in_its_first_shape_is_read_in_its_new_shape() -> None:
    app = Application()
    row = stored_in_first_shape(app)
    leaf = event_leaf_hash(row.originator_id, row.originator_version, row.topic, row.state)
    event = app.mapper.to_domain_event(row)
    assert isinstance(event, Memo.Written)
    assert (event.body, event.language) == ("Về việc họp", "vi")
    # reading changed nothing stored: the leaf, and every root over it, holds
    assert event_leaf_hash(row.originator_id, row.originator_version, row.topic,
                           row.state) == leaf


def test_an_upcast_event_written_again_is_not_the_stored_bytes() -> None:
    app = Application()
    row = stored_in_first_shape(app)
    rewritten = app.mapper.to_stored_event(app.mapper.to_domain_event(row))
    assert rewritten.topic == row.topic
    assert rewritten.state != row.state  # so a replay writing this class would differ
    assert app.mapper.transcoder.decode(rewritten.state)["class_version"] == 2
