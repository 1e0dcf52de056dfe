"""The monitor's pure decisions: which events name an agency, what is flagged, and
what the log must prove (domain/verification/monitor.py)."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain import topics
from domain.evidence.checkpoint import Checkpoint
from domain.evidence.envelope import COMMAND_TYPE, STATEMENT_TYPE
from domain.evidence.merkle import node_hash
from domain.exchange.ids import agency_id, command_record_id, delivery_id
from domain.verification.monitor import (
    COMMAND_RECORD,
    DELIVERY,
    KEY_CHANGE,
    OMISSION,
    OWN_RECORD,
    SIGNED,
    UNKNOWN_COMMAND,
    LogEvent,
    LogMisbehaviourError,
    check_extends,
    check_included,
    commands_end,
    findings,
    leaf_record,
    naming,
    omissions,
    page_events,
    parse_known,
    sighting,
    unshown_listed,
)

A, B = "000.00.00.G22", "000.00.00.H41"
DOC = uuid4()


def state(payload: dict[str, Any], payload_type: str = COMMAND_TYPE,
          **fields: Any) -> bytes:
    envelope = {"payloadType": payload_type,
                "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
                "signatures": [{"keyid": "k-" + str(payload.get("actor", {})), "sig": "AA=="}]}
    return json.dumps({"timestamp": {"_type_": "datetime_iso",
                                     "_data_": "2026-12-01T10:00:00+00:00"},
                       "envelope": envelope, **fields}).encode()


def command(actor: str, command_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "x.y", "command_id": command_id, "actor": {"agency": actor},
            "fields": fields}


def event(leaf: int, aggregate: UUID, topic: str, body: bytes, version: int = 1) -> LogEvent:
    return LogEvent(leaf_index=leaf, notification_id=leaf + 1, aggregate_id=aggregate,
                    version=version, topic=topic, state=body)


def record(leaf: int, command_id: str, listed: list[LogEvent]) -> LogEvent:
    body = state({"type": "ledger.accepted", "command_id": command_id}, STATEMENT_TYPE,
                 events=[[str(e.aggregate_id), e.version, e.topic] for e in listed],
                 result={})
    return event(leaf, command_record_id(command_id), topics.RECORD_ACCEPTED, body)


def test_an_event_names_the_agency_by_its_record_its_signature_or_a_delivery_to_it() -> None:
    key_added = event(1, agency_id(A), topics.event(topics.AGENCY, "KeyAdded"),
                      state(command("registrar", "reg-1", code=A)), version=2)
    signed = event(3, uuid4(), topics.event(topics.DOCUMENT, "Sent"),
                   state(command(A, "a-1", document=str(DOC))))
    to_a = event(4, delivery_id(DOC, A), topics.event(topics.DELIVERY, "Arrived"),
                 state({"type": "delivery.arrived", "cause": "b-1", "document": str(DOC)},
                       STATEMENT_TYPE))
    to_b = event(5, delivery_id(DOC, B), topics.event(topics.DELIVERY, "Arrived"),
                 state({"type": "delivery.arrived", "cause": "b-1", "document": str(DOC)},
                       STATEMENT_TYPE))
    events = [record(0, "reg-1", [key_added]), key_added,
              record(2, "a-1", [signed, to_a, to_b]), signed, to_a, to_b]
    kept = [(e.leaf_index, why) for e, why in naming(events, A)]
    assert kept == [(0, COMMAND_RECORD), (1, OWN_RECORD), (2, COMMAND_RECORD), (3, SIGNED),
                    (4, DELIVERY)]
    assert [e.leaf_index for e, _ in naming(events, B)] == [2, 5]
    assert commands_end(events[:3]) == 6  # the second command runs to leaf 5


def test_without_a_known_list_acts_are_listed_and_only_key_changes_flagged() -> None:
    key_added = sighting(event(1, agency_id(A), topics.event(topics.AGENCY, "KeyAdded"),
                               state(command("registrar", "reg-1", code=A)), version=2),
                         OWN_RECORD)
    act = sighting(event(3, uuid4(), topics.event(topics.DOCUMENT, "Created"),
                         state(command(A, "a-1"))), SIGNED)
    assert [f.kind for f in findings([key_added, act], A, None)] == [KEY_CHANGE]
    flagged = findings([key_added, act], A, frozenset({"reg-1"}))
    assert [(f.kind, f.command_id) for f in flagged] == [(UNKNOWN_COMMAND, "a-1")]
    assert findings([key_added, act], A, frozenset({"reg-1", "a-1"})) == []


def test_the_known_list_skips_comments_and_blank_lines() -> None:
    text = "# issued by our system\nabc-12345678\n\n  def-1234567 # resent\n#\n"
    assert parse_known(text) == {"abc-12345678", "def-1234567"}


def test_a_record_listing_the_agencys_record_that_was_not_shown_is_an_omission() -> None:
    hidden = event(1, agency_id(A), topics.event(topics.AGENCY, "KeyAdded"),
                   state(command("registrar", "reg-1", code=A)), version=2)
    shown = [(record(0, "reg-1", [hidden]), COMMAND_RECORD)]
    assert [f.kind for f in unshown_listed(shown, A)] == [OMISSION]


def tree(events: list[LogEvent]) -> Checkpoint:
    return Checkpoint(origin="o", size=2,
                      root=node_hash(events[0].leaf_hash, events[1].leaf_hash))


def test_an_altered_event_fails_even_with_the_original_proof() -> None:
    body = state(command(B, "b-1", document=str(DOC)), status="03")
    events = [event(0, uuid4(), topics.RECORD_ACCEPTED, state(command(B, "b-1"))),
              event(1, delivery_id(DOC, B), topics.event(topics.DELIVERY, "Accepted"), body)]
    latest = tree(events)
    proof = {"leaf_index": 1, "proof": [events[0].leaf_hash.hex()]}
    check_included(events[1], proof, latest)
    altered = event(1, events[1].aggregate_id, events[1].topic,
                    body.replace(b'"03"', b'"02"'))
    with pytest.raises(LogMisbehaviourError, match="not in the signed tree"):
        check_included(altered, proof, latest)
    with pytest.raises(LogMisbehaviourError, match="at leaf 0"):
        check_included(events[1], {**proof, "leaf_index": 0}, latest)


def test_a_saved_checkpoint_the_log_does_not_extend_is_refused() -> None:
    saved = Checkpoint(origin="o", size=4, root=bytes(32))
    with pytest.raises(LogMisbehaviourError, match="shrank"):
        check_extends(saved, Checkpoint(origin="o", size=3, root=bytes(32)), [])
    with pytest.raises(LogMisbehaviourError, match="forked"):
        check_extends(saved, Checkpoint(origin="o", size=4, root=b"\1" * 32), [])
    with pytest.raises(LogMisbehaviourError, match="forked"):
        check_extends(saved, Checkpoint(origin="o", size=6, root=b"\1" * 32),
                      ["00" * 32])


def test_a_page_holding_events_outside_its_range_is_refused() -> None:
    inside = event(5, uuid4(), topics.RECORD_ACCEPTED, b"{}").as_dict()
    assert page_events({"end": 6, "events": [inside]}, 5)[1] == 6
    with pytest.raises(LogMisbehaviourError, match="outside it"):
        page_events({"end": 6, "events": [inside]}, 6)
    with pytest.raises(LogMisbehaviourError, match="malformed"):
        page_events({"end": 7, "events": [{**inside, "state": "not base64!"}]}, 5)


def test_a_public_leaf_names_its_record_and_an_unshown_one_of_the_agency_is_an_omission() -> None:
    from domain.evidence.leaf import leaf_data

    topic = topics.event(topics.AGENCY, "KeyRevoked")
    leaves = [leaf_data(agency_id(B), 2, topic, b"{}"), leaf_data(agency_id(A), 3, topic, b"{}")]
    assert leaf_record(leaves[1]) == (agency_id(A), 3, topic)
    shown = event(10, agency_id(A), topic, b"{}", version=3)
    assert omissions(leaves, 9, [shown], A) == []
    assert [f.leaf_index for f in omissions(leaves, 9, [], A)] == [10]
    with pytest.raises(LogMisbehaviourError, match="topic length"):
        leaf_record(leaves[0] + b"x")
