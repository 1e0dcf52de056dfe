"""The command catalogue (domain/exchange/catalogue.py) names every command, and
recorded history agrees with it: each command wrote only the records its entry
names, and was given by the party its role names."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from domain import topics
from domain.evidence.keys import Ed25519Signer
from domain.exchange import commands
from domain.exchange.catalogue import CATALOGUE, Role, record_topic_of
from domain.exchange.ids import REGISTRAR, delivery_id
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger
from domain.ledger.handlers import HANDLERS
from domain.stored_state import decode_state
from tests.bundle_support import story
from tests.factories import OTHER, RECIPIENT, SENDER, ManualClock, World

GOLDEN_DB = Path(__file__).parent / "assets" / "golden" / "ledger.sqlite"
Row = tuple[str, int, str, bytes]  # aggregate id, version, topic, state


def test_the_catalogue_names_every_command_type_and_every_handler() -> None:
    assert set(CATALOGUE) == set(commands.FIELDS) == set(HANDLERS)
    stored_records = set(topics.STORED_EVENTS) - {topics.COMMAND_RECORD}
    for entry in CATALOGUE.values():
        assert entry.writes and entry.writes <= stored_records


def golden_rows() -> list[Row]:
    with sqlite3.connect(f"file:{GOLDEN_DB}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT originator_id, originator_version, topic, state "
                          "FROM stored_events ORDER BY rowid").fetchall()
    db.close()
    return [(str(UUID(r[0])), r[1], r[2], bytes(r[3])) for r in rows]


def groups(rows: Iterable[Row]) -> Iterator[tuple[dict[str, Any], list[Row]]]:
    """Each command record's statement with the events it lists."""
    stream = iter(rows)
    for head in stream:
        assert head[2] == topics.RECORD_ACCEPTED
        statement = payload_of(decode_state(head[3]))
        yield statement, [next(stream) for _ in statement["events"]]


def payload_of(state: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(state["envelope"]["payload"]))  # type: ignore[no-any-return]


def check_against_catalogue(rows: list[Row]) -> set[str]:
    """Assert every command agrees with the catalogue; the command types seen."""
    senders: dict[str, str] = {}  # document id -> its sender
    seen = set()
    for statement, events in groups(rows):
        states = [decode_state(state) for *_, state in events]
        command = next(payload_of(s) for s in states
                       if s["envelope"]["payloadType"].endswith("command+json"))
        kind, actor = command["type"], command["actor"]["agency"]
        entry = CATALOGUE[kind]
        for (aggregate, _, topic, _), state in zip(events, states, strict=True):
            assert record_topic_of(topic) in entry.writes, (kind, topic)
            if topic == topics.event(topics.DOCUMENT, "Created"):
                senders[aggregate] = state["sender"]
        fields = command["fields"]
        if entry.role is Role.REGISTRAR:
            assert actor == REGISTRAR, kind
        elif entry.role is Role.KEY_HOLDER:
            assert actor in (REGISTRAR, fields["code"]), kind
        elif entry.role is Role.SENDER:
            document = fields.get("document") or next(a for a, *_ in events
                                                      if a in senders)
            assert senders[document] == actor, kind
        else:
            deliveries = {a for a, _, t, _ in events
                          if record_topic_of(t) == topics.DELIVERY}
            assert deliveries == {str(delivery_id(UUID(fields["document"]), actor))}, kind
        assert statement["command_id"] == command["command_id"]
        seen.add(kind)
    return seen


def test_the_golden_ledger_agrees_with_the_catalogue() -> None:
    seen = check_against_catalogue(golden_rows())
    assert {"ledger.init", "document.send", "delivery.accept", "delivery.recall"} <= seen


def test_a_ledger_with_key_changes_agrees_with_the_catalogue() -> None:
    signer, registrar = Ed25519Signer.generate(), Ed25519Signer.generate()
    app = DocLedger(ledger_signer=signer, clock=ManualClock())
    app.execute(sign_command(registrar, "ledger.init", {
        "origin": "example.gov.vn/ledger", "registrar_key": registrar.public_key.to_spec(),
        "ledger_key": signer.public_key.to_spec(), "max_clock_skew_seconds": 300,
    }, agency="registrar", staff="init"))
    world = World(app=app, settings=None, registrar=registrar)  # type: ignore[arg-type]
    for code in (SENDER, RECIPIENT, OTHER):
        world.register(code)
    story(world)
    rows = [(str(n.originator_id), n.originator_version, n.topic, n.state)
            for n in app.recorder.select_notifications(1, 10_000)]
    seen = check_against_catalogue(rows)
    assert {"agency.add_key", "agency.revoke_key", "delivery.refuse"} <= seen
