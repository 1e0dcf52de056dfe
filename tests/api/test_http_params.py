"""Query, path and header values that once reached the database and failed there (500).

Each is now refused at the edge with a 422 problem, on both backends: a cursor
whose offset is huge or not an integer, a control character in a text filter,
a ``wait_for`` beyond 64 bits, an event id hiding a NUL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from tests.api.http_support import client_for
from tests.factories import SENDER, World

PROBLEM_JSON = "application/problem+json"
VIEWS = f"/v1/agencies/{SENDER}"


def cursor(offset: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


@pytest.fixture
def signed(world: World) -> Iterator[tuple[TestClient, Any]]:
    """The real app (a server error comes back as a 500, not raised) and SENDER's auth."""
    world.sent()
    with TestClient(create_app(world.settings), raise_server_exceptions=False) as http:
        yield http, client_for(http, world, SENDER).auth


def assert_422_problem(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].startswith("urn:docledger:problem:invalid-")


@pytest.mark.parametrize("route", ["/inbox", "/outbox"])
@pytest.mark.parametrize("offset", [10**30, 2**63 - 1, True, -1, 1.5, "5"],
                         ids=repr)
def test_cursor_with_huge_or_non_integer_offset_is_422(
        signed: tuple[TestClient, Any], route: str, offset: Any) -> None:
    http, auth = signed
    assert_422_problem(http.get(VIEWS + route, params={"cursor": cursor(offset)}, auth=auth))


@pytest.mark.parametrize("name", ["unit", "officer"])
@pytest.mark.parametrize("value", ["a\x00b", "line\nbreak", "\x7f"],
                         ids=repr)
def test_control_character_in_a_text_filter_is_422(
        signed: tuple[TestClient, Any], name: str, value: str) -> None:
    http, auth = signed
    assert_422_problem(http.get(VIEWS + "/inbox", params={name: value}, auth=auth))


def test_text_filter_with_ordinary_unicode_still_filters(signed: tuple[TestClient, Any]) -> None:
    http, auth = signed
    response = http.get(VIEWS + "/inbox", params={"unit": "Phòng Hành chính – Tổng hợp"},
                        auth=auth)
    assert response.status_code == 200 and response.json()["items"] == []


@pytest.mark.parametrize("route", ["/inbox", "/outbox", "/statistics"])
def test_wait_for_beyond_64_bits_is_422(signed: tuple[TestClient, Any], route: str) -> None:
    http, auth = signed
    assert_422_problem(http.get(VIEWS + route, params={"wait_for": 2**63}, auth=auth))


@pytest.mark.parametrize("event", ["2026-11-27T02:15:00+00:00\n\x00", "a\x00\nb"], ids=repr)
def test_event_id_hiding_a_nul_is_422_before_the_stream_starts(
        signed: tuple[TestClient, Any], event: str) -> None:
    http, auth = signed
    value = base64.urlsafe_b64encode(event.encode()).decode()
    response = http.get(VIEWS + "/inbox/stream", params={"timeout": 1}, auth=auth,
                        headers={"Last-Event-ID": value})
    assert_422_problem(response)
