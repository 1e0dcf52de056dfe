"""Hostile text in signed commands: control characters and bidirectional controls.

NUL cannot be stored in PostgreSQL text, so one accepted subject holding it
stopped every view for good; C0/C1 controls rewrite terminals and CSV lines;
bidirectional overrides make a code, id or file name display as another.
Every string of every command is checked at parsing and refused as
``invalid-input`` before anything is written.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from domain.errors import InvalidCommandError, InvalidInputError
from domain.exchange.commands import parse_command
from domain.text import display, text_problem
from tests.factories import SENDER, World, header

DOC = str(uuid4())
KEY = {"keyid": "0" * 32, "algorithm": "ed25519", "public_key": "k"}
CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b"]
BIDI = ["\u202a", "\u202e", "\u2066", "\u2069"]


def create(**header_overrides: Any) -> dict[str, Any]:
    return {"document_id": "d-1", "header": header(**header_overrides)}


def payload(type: str, fields: dict[str, Any], *, staff: str = "Trần Thị C",
            agency: str = SENDER, command_id: str = "cmd-0123456789") -> bytes:
    return json.dumps({"type": type, "command_id": command_id,
                       "issued_at": "2026-11-27T08:00:00+07:00",
                       "actor": {"agency": agency, "staff": staff},
                       "fields": fields}, ensure_ascii=False).encode()


# (field, command type, fields with {} where the text goes, kind): kind "code"
# refuses bidi controls too, "multiline" allows tab and newline.
def cases() -> list[tuple[str, str, Any, str]]:
    return [
        ("subject", "document.create", lambda t: create(subject=f"Về {t} việc"), "text"),
        ("document id", "document.create",
         lambda t: {"document_id": f"d{t}1", "header": header()}, "code"),
        ("notation", "document.create", lambda t: create(code_notation=f"QĐ{t}UBND"), "code"),
        ("place", "document.create", lambda t: create(promulgation_place=f"Hà{t}Nội"), "text"),
        ("type name", "document.create",
         lambda t: create(document_type={"type": 1, "type_name": f"Quyết{t}định"}), "text"),
        ("signer", "document.create",
         lambda t: create(signer={"full_name": f"Nguyễn{t}B"}), "text"),
        ("to place", "document.create", lambda t: create(to_places=[f"Sở{t}X"]), "text"),
        ("response code", "document.create", lambda t: create(response_for={
            "organ_id": SENDER, "code": f"1{t}2", "promulgation_date": "2026-11-01",
            "document_id": "x"}), "code"),
        ("attachment name", "document.create", lambda t: {
            "document_id": "d", "header": header(), "attachments": [{
                "name": f"a{t}fdp.exe", "media_type": "application/pdf", "size": 1,
                "sha256": "0" * 64}]}, "code"),
        ("agency name", "agency.register", lambda t: {
            "code": SENDER, "name": f"Sở{t}X", "keys": [KEY]}, "text"),
        ("agency code", "agency.add_key", lambda t: {"code": f"000.00.00{t}G22", "key": KEY},
         "code"),
        ("revoked keyid", "agency.revoke_key",
         lambda t: {"code": SENDER, "keyid": f"ab{t}", "reason": "lộ"}, "code"),
        ("reason", "delivery.refuse", lambda t: {"document": DOC, "reason": f"sai{t}x"},
         "multiline"),
        ("unit", "delivery.assign", lambda t: {"document": DOC, "lead_unit": f"Phòng{t}A"},
         "text"),
        ("officer", "delivery.assign",
         lambda t: {"document": DOC, "lead_unit": "A", "officer": f"B{t}"}, "text"),
        ("instructions", "delivery.assign",
         lambda t: {"document": DOC, "lead_unit": "A", "instructions": f"x{t}y"}, "multiline"),
        ("note", "delivery.progress", lambda t: {"document": DOC, "note": f"x{t}y"},
         "multiline"),
    ]


CASES = cases()
IDS = [c[0] for c in CASES]


def refused_as_invalid_input(raw: bytes) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        parse_command(raw)
    assert info.value.code == "invalid-input"
    assert not isinstance(info.value, InvalidCommandError)
    return info.value


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
@pytest.mark.parametrize(("what", "type", "fields", "kind"), CASES, ids=IDS)
def test_control_character_in_any_field_is_refused_as_invalid_input(
        what: str, type: str, fields: Any, kind: str, char: str) -> None:
    parse_command(payload(type, fields(".")))  # the same command is fine without it
    error = refused_as_invalid_input(payload(type, fields(char)))
    assert f"U+{ord(char):04X}" in str(error)


@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
@pytest.mark.parametrize(("what", "type", "fields", "kind"), CASES, ids=IDS)
def test_bidi_override_is_refused_in_codes_ids_and_notations(
        what: str, type: str, fields: Any, kind: str, char: str) -> None:
    raw = payload(type, fields(char))
    if kind == "code":
        assert "bidirectional" in str(refused_as_invalid_input(raw))
    elif what not in ("agency name",):  # free text keeps it (shown escaped)
        parse_command(raw)


@pytest.mark.parametrize(("what", "type", "fields", "kind"),
                         [c for c in CASES if c[3] == "multiline"],
                         ids=[c[0] for c in CASES if c[3] == "multiline"])
def test_tab_and_newline_are_allowed_only_in_multiline_text(
        what: str, type: str, fields: Any, kind: str) -> None:
    parse_command(payload(type, fields("\t")))
    parse_command(payload(type, fields("\n")))
    refused_as_invalid_input(payload("document.create", create(subject="a\nb")))


@pytest.mark.parametrize("char", ["\x00", "\x9b", "\u202e"])
def test_control_in_the_actor_staff_name_is_refused(char: str) -> None:
    raw = payload("document.create", create(), staff=f"Trần{char}C")
    if char == "\u202e":
        parse_command(raw)  # a person's name is free text
    else:
        refused_as_invalid_input(raw)


@pytest.mark.parametrize("agency", ["000.00.00.G2\x00", "registrar\u202e"])
def test_control_in_the_actor_agency_is_refused(agency: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_command(payload("document.create", create(), agency=agency))


def test_display_shows_bidi_and_control_characters_as_escapes() -> None:
    assert display("abc\u202efdp.exe") == "abc<U+202E>fdp.exe"
    assert display("a\u2066b\u2069\x1b[2J") == "a<U+2066>b<U+2069><U+001B>[2J"
    assert display("Về việc\tx\ny") == "Về việc\tx\ny"
    assert text_problem("Về việc phê duyệt") is None


# ---- end to end, both backends: refused, nothing written ----------------------------


@pytest.mark.parametrize("hostile", [
    pytest.param({"subject": "Về\x00việc"}, id="NUL in subject"),
    pytest.param({"document_id": "d\x00"}, id="NUL in document id"),
    pytest.param({"staff": "Trần\x00C"}, id="NUL in staff name"),
    pytest.param({"subject": "a\x9bb"}, id="C1 in subject"),
    pytest.param({"code_notation": "QĐ\u202eDNBU"}, id="bidi in notation"),
])
def test_hostile_text_in_a_signed_command_is_refused_and_writes_nothing(
        world: World, hostile: dict[str, str]) -> None:
    head = world.event_count()
    fields = {"document_id": hostile.get("document_id", "d-1"), "header": header(**{
        k: v for k, v in hostile.items() if k in ("subject", "code_notation")})}
    raw = world.signed(SENDER, "document.create", fields,
                       staff=hostile.get("staff", "Trần Thị C"))
    with pytest.raises(InvalidInputError) as info:
        world.app.execute(raw)
    assert info.value.code == "invalid-input"
    assert world.event_count() == head
