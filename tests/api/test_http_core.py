"""The HTTP API's core: commands with receipts, signed reads, problems, the public log."""

from __future__ import annotations

import json

import pytest
from fastapi.responses import JSONResponse

from api.client import ProblemError
from api.http.responses import FastJSONResponse
from domain.evidence.receipt import open_receipt
from infrastructure.keyfiles import load_public_key
from infrastructure.ledger import DataFolder
from tests.api.http_support import api_for, client_for
from tests.factories import RECIPIENT, SENDER, World, header


def test_command_returns_receipt_and_retry_returns_the_same(world: World) -> None:
    doc = world.sent()
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": doc})
    with api_for(world) as http:
        first = http.post("/v1/commands", content=raw, headers={"content-type": "application/json"})
        again = http.post("/v1/commands", content=raw, headers={"content-type": "application/json"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["receipt"] == again.json()["receipt"]
    content = open_receipt(first.json()["receipt"],
                           load_public_key(DataFolder(world.settings.data).ledger_key))
    assert content["command_id"] == first.json()["command_id"]


def test_a_commands_answer_is_the_compact_utf8_json_it_always_was(world: World) -> None:
    """orjson writes the command route's answers (api/http/responses.py): the bytes
    Starlette's JSONResponse writes, Vietnamese text as UTF-8, and those of an
    answer orjson will not write at all."""
    raw = world.signed(RECIPIENT, "delivery.accept", {"document": world.sent()})
    with api_for(world) as http:
        answer = http.post("/v1/commands", content=raw,
                           headers={"content-type": "application/json"})
    assert answer.status_code == 201
    assert answer.content == JSONResponse(answer.json()).body
    for content in ({"tên": "Sở Nội vụ", "n": 2**63 - 1}, {"n": 2**70}, {"x": "\x1f\u2028"}):
        assert FastJSONResponse(content).body == JSONResponse(content).body


def test_bad_envelope_is_a_problem_and_writes_nothing(world: World) -> None:
    count = world.event_count()
    with api_for(world) as http:
        bad = http.post("/v1/commands", content=b"{nope",
                        headers={"content-type": "application/json"})
        wrong_type = http.post("/v1/commands", content=b"{}",
                               headers={"content-type": "text/plain"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"] == "urn:docledger:problem:invalid-envelope"
    assert wrong_type.status_code == 415
    assert world.event_count() == count


def test_signed_read_of_the_directory_and_public_log(world: World) -> None:
    with api_for(world) as http:
        client = client_for(http, world, SENDER)
        agency = client.get(f"/v1/agencies/{SENDER}")
        assert agency["keys"][0]["keyid"] == world.keys[SENDER].keyid
        note = http.get("/v1/log/checkpoint").text
        vkey = http.get("/v1/log/vkey").text.strip()
    assert note.startswith(world.settings.origin + "\n") and vkey.startswith(world.settings.origin)


def test_replayed_request_signature_is_refused(world: World) -> None:
    with api_for(world) as http:
        client = client_for(http, world, SENDER)
        request = http.build_request("GET", "/v1/whoami")
        signed = next(client.auth.auth_flow(request))
        first = http.send(signed)
        assert first.status_code == 200 and first.json()["name"] == SENDER
        replay = http.send(signed)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["detail"]


def test_unsigned_or_forged_request_is_401(world: World) -> None:
    from api.client import LedgerClient
    from domain.evidence.keys import Ed25519Signer

    with api_for(world) as http:
        unsigned = http.get("/v1/whoami")
        forged = LedgerClient("http://testserver", SENDER, Ed25519Signer.generate(), http=http)
        with pytest.raises(ProblemError) as info:
            forged.get("/v1/whoami")
    assert unsigned.status_code == 401
    assert unsigned.headers["www-authenticate"].startswith("Signature")
    assert info.value.status == 401


def test_problem_error_carries_the_type(world: World) -> None:
    with api_for(world) as http:
        client = client_for(http, world, RECIPIENT)
        with pytest.raises(ProblemError) as info:
            client.command("delivery.accept", {"document": "00000000-0000-0000-0000-000000000000"})
    assert info.value.status == 404
    assert json.dumps(info.value.problem).count("not-found") == 1


def test_nul_in_a_signed_subject_is_a_422_invalid_input_problem_and_writes_nothing(
        world: World) -> None:
    head = world.event_count()
    raw = world.signed(SENDER, "document.create",
                       {"document_id": "d-nul", "header": header(subject="Về\x00việc")})
    with api_for(world) as http:
        answer = http.post("/v1/commands", content=raw,
                           headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:docledger:problem:invalid-input"
    assert "U+0000" in answer.json()["detail"]
    assert world.event_count() == head
