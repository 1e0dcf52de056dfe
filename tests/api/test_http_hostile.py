"""Hostile input: requests generated from the OpenAPI schema, plus targeted abuse.

Schemathesis generates valid and invalid requests for every operation the app
publishes (so routes added later are covered without touching this file) and
sends them to the real app, lifespan included, over an embedded SQLite ledger.
Whatever comes in, the answer is never a 5xx, conforms to the schema, and a
refused request writes nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner
from http_message_signatures.algorithms import ED25519
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.python import asgi as schemathesis_asgi

from api.client import LedgerClient, ProblemError, _OneKey
from api.http.app import create_app
from tests.api.http_support import api_for, client_for
from tests.conftest import sqlite_settings
from tests.factories import RECIPIENT, SENDER, World

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:docledger:problem:"
# event streams may run for as long as the request asks; schemathesis keeps what
# arrived before this deadline, so a generated `timeout=86400` costs a second
STREAM_CUT = 1.0
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]


# ---- generated from the schema ------------------------------------------------


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A ledger with a sent document, so reads have something to find."""
    world = World.create(sqlite_settings(tmp_path_factory.mktemp("hostile")))
    world.sent()
    yield world
    world.app.close()


class AppUnderTest:
    """The ASGI app the generated requests reach; a module fixture plugs in the real one.

    The schema is loaded at import (``@schema.parametrize`` needs it then), long
    before the fixture has a ledger for the app's lifespan to open. (The lazy
    ``schemathesis.pytest.from_fixture`` would avoid this, but schemathesis
    4.32 sets ``request.node._nodeid``, which pytest 9 no longer has.)
    """

    app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "request the hostile_app fixture"
        await self.app(scope, receive, send)


UNDER_TEST = AppUnderTest()
schema = schemathesis.openapi.from_dict(create_app().openapi())
schema.app = UNDER_TEST  # the ASGI transport: requests run in-process, lifespan included


@pytest.fixture(scope="module")
def hostile_app(hostile_world: World) -> Iterator[FastAPI]:
    UNDER_TEST.app = create_app(hostile_world.settings)
    yield UNDER_TEST.app
    # schemathesis starts the lifespan on the first request and keeps it for the process
    schemathesis_asgi.shutdown_lifespans()
    UNDER_TEST.app = None


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_fail_the_server(case: Any, hostile_app: FastAPI,
                                                  hostile_world: World) -> None:
    before = hostile_world.event_count()
    response = case.call(timeout=STREAM_CUT)
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == [PROBLEM_JSON]  # schemathesis: lists
        assert response.json()["type"].startswith(TYPE_PREFIX)
        assert hostile_world.event_count() == before, "a refused request wrote to the store"


class RequestsSignedAuth(requests.auth.AuthBase):
    """api.client.SignedAuth for the requests session schemathesis sends with."""

    def __init__(self, party: str, world: World) -> None:
        signer = world.registrar if party == "registrar" else world.keys[party]
        self.keyid = f"{party}:{signer.keyid}"
        self.signer = HTTPMessageSigner(signature_algorithm=ED25519, key_resolver=_OneKey(signer))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        now = datetime.now(UTC)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        components = ("@method", "@path", "@query") + (("content-digest",) if body else ())
        self.signer.sign(request, key_id=self.keyid, created=now,
                         expires=now + timedelta(seconds=60), nonce=secrets.token_urlsafe(24),
                         covered_component_ids=components, body=body or None)
        return request


@schema.exclude(method="POST", path="/v1/commands").parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_signed_reads_get_past_auth_and_never_fail(
        case: Any, hostile_app: FastAPI, hostile_world: World) -> None:
    """Signed as a registered agency, garbage parameters reach the routes themselves."""
    response = case.call(auth=RequestsSignedAuth(SENDER, hostile_world), timeout=STREAM_CUT)
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == [PROBLEM_JSON]
        assert response.json()["type"].startswith(TYPE_PREFIX)


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
                path = template
                for name in [seg[1:-1] for seg in template.split("/") if seg.startswith("{")]:
                    path = path.replace("{" + name + "}", value)
                with pytest.raises(ProblemError) as info:
                    client.get(path)
                assert info.value.status in statuses, (path, info.value)
                assert info.value.problem["type"].startswith(TYPE_PREFIX)
