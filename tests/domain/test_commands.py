"""Strict parsing of command payloads and agency codes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import InvalidCommandError, InvalidInputError
from domain.exchange.codes import check_agency_code
from domain.exchange.commands import (
    DocumentCreate,
    DocumentSend,
    command_payload,
    parse_command,
)
from tests.factories import header

DOC = str(uuid4())


def doc(type: str = "document.create", fields: dict[str, Any] | None = None,
        **top: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "type": type,
        "command_id": "cmd-0123456789",
        "issued_at": "2026-11-27T08:00:00+07:00",
        "actor": {"agency": "000.00.00.G22", "staff": "Trần Thị C"},
        "fields": fields if fields is not None else {"document_id": "d-1", "header": header()},
    }
    d.update(top)
    return d


def raw(d: dict[str, Any]) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode()


def refused(d: dict[str, Any] | bytes, match: str | None = None) -> None:
    payload = d if isinstance(d, bytes) else raw(d)
    with pytest.raises(InvalidCommandError, match=match):
        parse_command(payload)


# ---- accepted ----------------------------------------------------------------


def test_valid_create_is_parsed() -> None:
    command, fields = parse_command(raw(doc()))
    assert command.type == "document.create"
    assert command.actor.agency == "000.00.00.G22"
    assert command.issued_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert isinstance(fields, DocumentCreate)
    assert fields.header.subject == header()["subject"]
    assert fields.header.promulgation_date == date(2026, 11, 27)
    assert fields.header.priority == 1 and fields.attachments == []


def test_valid_send_is_parsed_from_command_payload_bytes() -> None:
    payload = command_payload(
        type="document.send", command_id="cmd-abcdefgh", issued_at="2026-11-27T01:00:00Z",
        agency="000.00.00.G22", staff="C",
        fields={"document": DOC, "recipients": ["000.00.00.H41", "001.00.20.TT2"]},
    )
    command, fields = parse_command(payload)
    assert isinstance(fields, DocumentSend)
    assert fields.document == UUID(DOC)
    assert fields.recipients == ["000.00.00.H41", "001.00.20.TT2"]


def test_registrar_actor_is_accepted() -> None:
    d = doc("agency.revoke_key", {"code": "000.00.00.H41", "keyid": "k", "reason": "lộ"})
    d["actor"]["agency"] = "registrar"
    command, _ = parse_command(raw(d))
    assert command.actor.agency == "registrar"


@pytest.mark.parametrize("priority", [0, 4])
def test_priority_bounds_accepted(priority: int) -> None:
    _, fields = parse_command(raw(doc(fields={"document_id": "d", "header":
                                              header(priority=priority)})))
    assert fields.header.priority == priority


def test_subject_of_exactly_500_chars_is_accepted() -> None:
    parse_command(raw(doc(fields={"document_id": "d", "header": header(subject="x" * 500)})))


# ---- refused -----------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"not json", b"{", b"\xff\xfe\x00", b""])
def test_non_json_is_refused(payload: bytes) -> None:
    refused(payload, "not JSON")


@pytest.mark.parametrize("payload", [b"[]", b"null", b'"x"', b"{}"])
def test_non_object_or_empty_is_refused(payload: bytes) -> None:
    refused(payload)


def test_unknown_type_is_refused() -> None:
    refused(doc("document.delete"), "type")


def test_extra_top_level_key_is_refused() -> None:
    refused(doc(extra=1), "extra")


def test_extra_key_in_fields_is_refused() -> None:
    refused(doc(fields={"document_id": "d", "header": header(), "secret": 1}), "fields.secret")


def test_extra_key_in_nested_header_and_actor_is_refused() -> None:
    refused(doc(fields={"document_id": "d", "header": header(colour="red")}))
    d = doc()
    d["actor"]["role"] = "admin"
    refused(d)


def test_subject_over_500_chars_is_refused() -> None:
    refused(doc(fields={"document_id": "d", "header": header(subject="x" * 501)}), "subject")


@pytest.mark.parametrize("code", ["000.00.00.g22", "00.00.00.G22", "000.00.00.022",
                                  "000-00-00-G22", "000.00.00.G222", " 000.00.00.G22", ""])
def test_bad_agency_code_is_refused(code: str) -> None:
    refused(doc("document.send", {"document": DOC, "recipients": [code]}), "recipients")
    d = doc()
    d["actor"]["agency"] = code
    refused(d, "actor")


def test_duplicate_recipients_are_refused() -> None:
    refused(doc("document.send", {"document": DOC,
                                  "recipients": ["000.00.00.H41", "000.00.00.H41"]}),
            "only once")


def test_empty_recipients_are_refused() -> None:
    refused(doc("document.send", {"document": DOC, "recipients": []}))


@pytest.mark.parametrize("issued_at", ["2026-11-27T08:00:00", "2026-11-27T08:00:00.5",
                                       "yesterday", None])
def test_naive_or_bad_issued_at_is_refused(issued_at: Any) -> None:
    refused(doc(issued_at=issued_at), "issued_at")


@pytest.mark.parametrize("priority", [5, -1])
def test_priority_out_of_range_is_refused(priority: int) -> None:
    refused(doc(fields={"document_id": "d", "header": header(priority=priority)}), "priority")


@pytest.mark.parametrize("command_id", ["short", "has space 123", "x" * 129, "cmd/12345678"])
def test_bad_command_id_is_refused(command_id: str) -> None:
    refused(doc(command_id=command_id), "command_id")


def test_bad_uuid_in_fields_is_refused() -> None:
    refused(doc("document.issue", {"document": "not-a-uuid"}), "document")


def test_invalid_command_error_is_an_input_error() -> None:
    assert issubclass(InvalidCommandError, InvalidInputError)
    assert InvalidCommandError.code == "invalid-command"


# ---- agency codes ------------------------------------------------------------


@pytest.mark.parametrize("code", ["000.00.00.G22", "001.00.20.TT2", "000.00.15.H51"])
def test_check_agency_code_accepts_valid_codes(code: str) -> None:
    assert check_agency_code(code) == code


@pytest.mark.parametrize("code", ["000.00.00.g22", "00.00.00.G22", "000.00.00.G2",
                                  "000.00.00.122", "000.00.00.G22 ", "", None, 1])
def test_check_agency_code_refuses_invalid_codes(code: Any) -> None:
    with pytest.raises(InvalidInputError):
        check_agency_code(code)


def test_check_agency_code_refuses_trailing_newline() -> None:
    with pytest.raises(InvalidInputError):
        check_agency_code("000.00.00.G22\n")


def test_parse_command_refuses_recipient_with_trailing_newline() -> None:
    payload = raw(doc("document.send", {"document": DOC, "recipients": ["000.00.00.H41\n"]}))
    with pytest.raises(InvalidInputError, match="U\\+000A"):  # a control character
        parse_command(payload)


@pytest.mark.parametrize(
    ("type", "fields", "top"),
    [("document.issue", {"document": DOC}, {"issued_at": 1795000000}),
     ("delivery.answer_recall", {"document": DOC, "agree": "yes", "reason": "x"}, {})],
)
def test_wrong_json_types_are_refused(type: str, fields: dict[str, Any],
                                      top: dict[str, Any]) -> None:
    refused(doc(type, fields, **top))
