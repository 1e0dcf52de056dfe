"""Each signed command carries its schema version; the version selects the model its
fields are parsed with and the rules it runs under, on execution and in the
audit's replay alike."""

from __future__ import annotations

import json

import pytest

from domain.errors import InvalidCommandError
from domain.evidence.envelope import COMMAND_TYPE, Envelope
from domain.exchange.commands import command_payload
from domain.exchange.signing import new_command_id
from infrastructure.ledger import run_audit, trust_anchors
from tests.factories import OTHER, RECIPIENT, SENDER, World
from tests.schema_support import V2, refuse_v2  # noqa: F401 - a fixture


def signed_payload(world: World, agency: str, type: str, fields: dict[str, object],
                   schema_version: int | None) -> bytes:
    payload = command_payload(type=type, command_id=new_command_id(),
                              issued_at=world.app.clock().isoformat(), agency=agency,
                              staff="văn thư", fields=fields, schema_version=schema_version)
    return Envelope.sign(COMMAND_TYPE, payload, world.keys[agency]).to_json()


def payload_of(raw: bytes) -> dict[str, object]:
    return dict(json.loads(Envelope.from_json(raw).payload))


@pytest.mark.parametrize("schema_version", [None, 1], ids=["without-field", "with-field"])
def test_a_version_1_payload_executes_with_or_without_the_field(
        world: World, schema_version: int | None) -> None:
    doc = world.sent()
    raw = signed_payload(world, RECIPIENT, "delivery.accept", {"document": doc}, schema_version)
    assert world.app.execute(raw).result["incoming_number"] == 1


def test_new_commands_are_signed_with_their_schema_version(world: World) -> None:
    raw = world.signed(SENDER, "document.issue", {"document": world.draft()})
    assert payload_of(raw)["schema_version"] == 1


@pytest.mark.parametrize("version", [0, 7, "1"], ids=["zero", "unknown", "as-text"])
def test_an_unknown_schema_version_is_refused_invalid_command_and_writes_nothing(
        world: World, version: object) -> None:
    doc = world.sent()
    before = world.event_count()
    raw = signed_payload(world, RECIPIENT, "delivery.accept", {"document": doc},
                         version)  # type: ignore[arg-type]
    with pytest.raises(InvalidCommandError, match="schema_version"):
        world.app.execute(raw)
    assert world.event_count() == before


def test_version_2_rules_apply_to_version_2_commands_while_version_1_history_replays(
        world: World, refuse_v2: None) -> None:  # noqa: F811
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    v1 = world.act(RECIPIENT, "delivery.refuse", {"document": doc, "reason": "Gửi nhầm"},
                   schema_version=1)
    assert "schema_version" not in v1.result  # v1 rules
    with pytest.raises(InvalidCommandError, match="grounds"):  # v2 has no "reason"
        world.act(OTHER, "delivery.refuse", {"document": doc, "reason": "Gửi nhầm nơi nhận"})
    with pytest.raises(InvalidCommandError, match="grounds"):  # v2's own rule: 10 characters
        world.act(OTHER, "delivery.refuse", {"document": doc, "grounds": "Gửi nhầm"})
    raw = world.signed(OTHER, "delivery.refuse", {"document": doc,
                                                  "grounds": "Gửi nhầm nơi nhận"})
    assert payload_of(raw)["schema_version"] == V2  # the latest version of its type
    assert world.app.execute(raw).result["schema_version"] == V2
    registrar, ledger = trust_anchors(world.settings)
    report = run_audit(world.app, registrar_key=registrar, ledger_key=ledger, workers=1)
    assert report.events == world.event_count()
