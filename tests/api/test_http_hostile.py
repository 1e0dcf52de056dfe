"""Hostile input: targeted abuse of the API (the generated requests are in
test_http_fuzz.py)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.client import LedgerClient, ProblemError
from api.http.app import create_app
from tests.api.http_support import api_for, client_for
from tests.conftest import sqlite_settings
from tests.factories import RECIPIENT, SENDER, World

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:docledger:problem:"
# ---- a ledger to abuse ------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A ledger with a sent document, so reads have something to find."""
    world = World.create(sqlite_settings(tmp_path_factory.mktemp("hostile")))
    world.sent()
    yield world
    world.app.close()


# ---- targeted -----------------------------------------------------------------


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"].startswith(TYPE_PREFIX) and problem["status"] == status
    if code is not None:
        assert problem["type"] == TYPE_PREFIX + code
    return problem


GARBAGE_READS: list[tuple[str, dict[str, Any], int]] = [
    ("/v1/agencies/not-a-code", {}, 422),
    ("/v1/agencies/" + "A" * 5000, {}, 422),
    ("/v1/agencies/%00%ff", {}, 422),
    ("/v1/agencies/..%2F..%2Fetc%2Fpasswd", {}, 404),  # %2F splits the path: no such route
    ("/v1/agencies/999.99.99.Z99", {}, 404),
    ("/v1/log/checkpoints", {"after": -1}, 422),
    ("/v1/log/checkpoints", {"limit": 0}, 422),
    ("/v1/log/checkpoints", {"limit": 10**6}, 422),
    ("/v1/log/checkpoints", {"after": "1e3"}, 422),
    ("/v1/log/checkpoints", {"after": "\x00"}, 422),
    ("/v1/log/inclusion", {}, 422),
    ("/v1/log/inclusion", {"leaf_hash": "0" * 64, "notification": 1}, 422),
    ("/v1/log/inclusion", {"leaf_hash": "zz"}, 422),
    ("/v1/log/inclusion", {"leaf_hash": "0" * 64}, 404),
    ("/v1/log/inclusion", {"notification": 0}, 422),
    ("/v1/log/inclusion", {"notification": 10**6}, 404),
    ("/v1/log/consistency", {"old": 2, "new": 1}, 422),
    ("/v1/log/consistency", {"old": 1}, 422),
    ("/v1/log/consistency", {"old": 1, "new": 10**30}, 422),  # beyond 64 bits
    ("/v1/log/consistency", {"old": 1, "new": 10**9}, 404),  # beyond the log
    ("/v1/log/consistency", {"old": "one", "new": 2}, 422),
]


@pytest.mark.parametrize(("path", "params", "status"), GARBAGE_READS,
                         ids=[f"{p} {q}"[:60] for p, q, _ in GARBAGE_READS])
def test_signed_reads_with_garbage_parameters_are_problems(
        hostile_world: World, path: str, params: dict[str, Any], status: int) -> None:
    with api_for(hostile_world) as http:
        with pytest.raises(ProblemError) as info:
            client_for(http, hostile_world, SENDER).get(path, **params)
    assert info.value.status == status
    assert info.value.problem["type"].startswith(TYPE_PREFIX)


def test_inclusion_by_notification_beyond_64_bits_is_a_problem(hostile_world: World) -> None:
    with serve(hostile_world) as http:
        response = http.get("/v1/log/inclusion", params={"notification": 2**63})
    assert response.status_code in (404, 422)


def test_inclusion_in_a_tree_larger_than_the_log_is_not_found(hostile_world: World) -> None:
    with serve(hostile_world) as http:
        response = http.get("/v1/log/inclusion", params={"notification": 1, "size": 10**9})
    assert_problem(response, 404)


def test_whoami_documents_its_401(hostile_world: World) -> None:
    responses = create_app(hostile_world.settings).openapi()["paths"]["/v1/whoami"]["get"][
        "responses"]
    assert "401" in responses


def serve(world: World) -> TestClient:
    """The real app; a server error comes back as a 500 response rather than raised."""
    return TestClient(create_app(world.settings), raise_server_exceptions=False)


def post(http: Any, body: bytes, content_type: str | None = "application/json") -> Any:
    headers = {} if content_type is None else {"content-type": content_type}
    return http.post("/v1/commands", content=body, headers=headers)


def test_oversized_envelope_is_413_and_writes_nothing(hostile_world: World) -> None:
    raw = hostile_world.signed(SENDER, "document.create", {
        "document_id": "x", "header": {"subject": "A" * (2 * 2**20 + 1)}})
    before = hostile_world.event_count()
    with serve(hostile_world) as http:
        response = post(http, raw)
    assert len(raw) > 2 * 2**20
    assert_problem(response, 413, "payload-too-large")
    assert hostile_world.event_count() == before


@pytest.mark.parametrize("content_type", [
    "text/plain", None, "application/jsonx", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/problem+json"])
def test_wrong_content_type_is_415_and_writes_nothing(hostile_world: World,
                                                      content_type: str | None) -> None:
    raw = hostile_world.signed(RECIPIENT, "delivery.accept", {"document": str(uuid.uuid4())})
    before = hostile_world.event_count()
    with serve(hostile_world) as http:
        response = post(http, raw, content_type)
    assert_problem(response, 415, "unsupported-media-type")
    assert hostile_world.event_count() == before


@pytest.mark.parametrize("body", [
    b"[]", b"{}", b"null", b"42", b'"envelope"', b'{"payloadType": 1}',
    b'{"payloadType": "x", "payload": "!!", "signatures": []}',
    b'{"payloadType": "application/vnd.docledger.command+json", "payload": "e30=",'
    b' "signatures": "none"}',
    pytest.param(b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, id="deeply-nested"),
    rb'{"payloadType": "\ud800", "payload": "", "signatures": []}',  # lone surrogate
    b"\xff\xfe{}",
], ids=lambda b: repr(b[:30]))
def test_json_that_is_not_an_envelope_is_400_and_writes_nothing(hostile_world: World,
                                                               body: bytes) -> None:
    before = hostile_world.event_count()
    with serve(hostile_world) as http:
        response = post(http, body)
    assert_problem(response, 400, "invalid-envelope")
    assert hostile_world.event_count() == before


def tampered(raw: bytes, change: dict[str, Any]) -> bytes:
    """The same envelope and signature over a payload with ``change`` applied."""
    envelope = json.loads(raw)
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["fields"].update(change)
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(envelope).encode()


def test_valid_envelope_with_tampered_payload_is_401_and_writes_nothing(
        hostile_world: World) -> None:
    doc = hostile_world.sent()
    raw = hostile_world.signed(RECIPIENT, "delivery.refuse",
                               {"document": doc, "reason": "không đúng thẩm quyền"})
    forged = tampered(raw, {"reason": "đồng ý"})
    before = hostile_world.event_count()
    with serve(hostile_world) as http:
        response = post(http, forged)
        assert_problem(response, 401, "invalid-signature")
        assert response.headers["www-authenticate"].startswith("Signature")
        assert hostile_world.event_count() == before
        # the genuine bytes still go through: the forgery did not burn the command id
        assert post(http, raw).status_code == 201


def test_unknown_document_is_404_and_malformed_uuid_is_422(hostile_world: World) -> None:
    before = hostile_world.event_count()
    with api_for(hostile_world) as http:
        client = client_for(http, hostile_world, RECIPIENT)
        with pytest.raises(ProblemError) as unknown:
            client.command("delivery.accept", {"document": str(uuid.uuid4())})
        with pytest.raises(ProblemError) as malformed:
            client.command("delivery.accept", {"document": "not-a-uuid"})
    assert (unknown.value.status, unknown.value.problem["type"]) == (404, TYPE_PREFIX + "not-found")
    assert (malformed.value.status, malformed.value.problem["type"]) == (
        422, TYPE_PREFIX + "invalid-command")
    assert hostile_world.event_count() == before


def uuid_paths(app: FastAPI) -> list[str]:
    """GET routes with a UUID in their path, e.g. /v1/documents/{document}."""
    found = []
    for path, ops in app.openapi()["paths"].items():
        params = ops.get("get", {}).get("parameters", [])
        if any(p["in"] == "path" and (p.get("schema", {}).get("format") == "uuid")
               for p in params):
            found.append(path)
    return found


def test_signed_reads_by_unknown_or_malformed_uuid(hostile_world: World) -> None:
    """Every route with a UUID path parameter: an unknown id is 404, garbage is 422."""
    app = create_app(hostile_world.settings)
    paths = uuid_paths(app)
    assert len(paths) >= 3, paths  # status, history, bundle at least
    with TestClient(app) as http:
        client = LedgerClient("http://testserver", SENDER, hostile_world.keys[SENDER], http=http)
        for template in paths:
            # %00 cannot even be signed over (the verifier rejects the URL): 401 or 422
            for value, statuses in ((str(uuid.uuid4()), {404}), ("not-a-uuid", {422}),
                                    ("0" * 5000, {422}), ("%00", {401, 422})):
                path = template.replace("{recipient}", RECIPIENT)  # a code, not a UUID
                for name in [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]:
                    path = path.replace("{" + name + "}", value)
                with pytest.raises(ProblemError) as info:
                    client.get(path)
                assert info.value.status in statuses, (path, info.value)
                assert info.value.problem["type"].startswith(TYPE_PREFIX)
