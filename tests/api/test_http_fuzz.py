"""Every parameter of every route, fuzzed from the OpenAPI schema on both backends.

Schemathesis generates valid and invalid values for each operation the app
publishes and sends them in-process (ASGI, lifespan included) to the real app
over an embedded SQLite ledger and a PostgreSQL one. Requests go unsigned (the
public routes and the 401s) and signed by a registered agency, with the agency
path parameter pinned to it, so the parameter parsing behind authentication is
reached too. The bar: no 5xx, and every 4xx an RFC 9457 problem document.
Examples are derandomised, so a run is the same run everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.python import asgi as schemathesis_asgi

from api.http.app import create_app
from tests.api.http_support import RequestsSignedAuth
from tests.conftest import PG, pg_settings, sqlite_settings
from tests.factories import SENDER, World

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:docledger:problem:"
# An event stream never ends: it is cut after this long, and must have answered its
# headers by then (a busy machine took over 0.3 s to: the signature check and the
# first read come first); what follows the headers is not what is fuzzed.
STREAM_CUT = 1.0
ANSWER_DEADLINE = 60.0  # any other request: a slow answer on a busy machine is still an answer
EXAMPLES = 8  # per operation, per backend, per signed/unsigned: under a minute in all
# what the answers must keep to of the published schema, besides never failing
CONFORMS = [checks.status_code_conformance, checks.content_type_conformance,
            checks.response_schema_conformance]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


class AppUnderTest:
    """The ASGI app the generated requests reach; the backend fixture plugs in the real one
    (the schema is loaded at import, before there is a ledger to open)."""

    app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "request the fuzzed_world fixture"
        await self.app(scope, receive, send)


UNDER_TEST = AppUnderTest()
schema = schemathesis.openapi.from_dict(create_app().openapi())
schema.app = UNDER_TEST


def backend_settings(backend: str, tmp: Path) -> Iterator[Any]:
    if backend == "sqlite":
        yield sqlite_settings(tmp)
        return
    schema_name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema_name}"')
    try:
        # no view worker runs here: follow the views in-process, as SQLite does
        yield pg_settings(tmp, schema_name).model_copy(update={"views_in_process": True})
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema_name}" CASCADE')


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed_world(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A ledger with a sent document, served to the generated requests."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_available")
    for backend in backend_settings(request.param, tmp_path_factory.mktemp(request.param)):
        world = World.create(backend)
        world.sent()
        UNDER_TEST.app = create_app(world.settings)
        try:
            yield world
        finally:
            # schemathesis starts the lifespan on the first request and keeps it
            schemathesis_asgi.shutdown_lifespans()
            UNDER_TEST.app = None
            world.app.close()


def deadline(case: Any) -> float:
    """How long a request may take: only the event stream is cut short, since it never ends."""
    return STREAM_CUT if case.path.endswith("/stream") else ANSWER_DEADLINE


def assert_answer(case: Any, response: Any, world: World, before: int) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    case.validate_response(response, checks=CONFORMS)
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == [PROBLEM_JSON], response.text[:500]
        assert response.json()["type"].startswith(TYPE_PREFIX)
        assert world.event_count() == before, "a refused request wrote to the store"


@schema.parametrize()
@FUZZ
def test_fuzzed_unsigned_requests_never_fail_the_server(case: Any,
                                                        fuzzed_world: World) -> None:
    before = fuzzed_world.event_count()
    assert_answer(case, case.call(timeout=deadline(case)), fuzzed_world, before)


@schema.exclude(method="POST", path="/v1/commands").parametrize()
@FUZZ
def test_fuzzed_signed_requests_reach_the_routes_and_never_fail(
        case: Any, fuzzed_world: World) -> None:
    if case.path_parameters and "code" in case.path_parameters:
        case.path_parameters["code"] = SENDER  # the agency's own views: past the 403
    before = fuzzed_world.event_count()
    response = case.call(auth=RequestsSignedAuth(SENDER, fuzzed_world), timeout=deadline(case))
    assert_answer(case, response, fuzzed_world, before)
