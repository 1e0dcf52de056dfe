"""Replay of a signed request after its ``expires``, inside the verifier's clock leeway.

The verifier admits a request until ``expires`` + CLOCK_SKEW; a nonce forgotten at
``expires`` let the same bytes in again during those seconds. Each test sends one
signed request twice: the second must be refused however late it comes.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner
from http_message_signatures.algorithms import ED25519

from api.client import _OneKey
from api.http.auth import CLOCK_SKEW, nonce_keep_until
from tests.api.http_support import api_for
from tests.factories import SENDER, World


def signed_whoami(http: TestClient, world: World, created: datetime,
                  expires: datetime) -> httpx.Request:
    signer = world.keys[SENDER]
    request = http.build_request("GET", "/v1/whoami")
    HTTPMessageSigner(signature_algorithm=ED25519, key_resolver=_OneKey(signer)).sign(
        request, key_id=f"{SENDER}:{signer.keyid}", created=created, expires=expires,
        nonce=secrets.token_urlsafe(24), covered_component_ids=("@method", "@path", "@query"))
    return request


@pytest.mark.parametrize("seconds_past_expiry", [1, 3])
def test_replay_inside_clock_leeway_after_expiry_is_refused(
        world: World, seconds_past_expiry: int) -> None:
    assert seconds_past_expiry < CLOCK_SKEW.total_seconds()
    now = datetime.now(UTC)
    expires = now - timedelta(seconds=seconds_past_expiry)
    with api_for(world) as http:
        request = signed_whoami(http, world, expires - timedelta(seconds=30), expires)
        first = http.send(request)
        assert first.status_code == 200, first.text  # late, but inside the leeway
        replay = http.send(request)
        again = http.send(request)
    for answer in (replay, again):
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert "replayed" in answer.json()["detail"]


def test_replay_of_a_request_created_in_the_future_is_refused(world: World) -> None:
    """``created`` up to the skew ahead of the server's clock is admitted, once."""
    created = datetime.now(UTC) + CLOCK_SKEW - timedelta(seconds=2)
    with api_for(world) as http:
        request = signed_whoami(http, world, created, created + timedelta(seconds=60))
        assert http.send(request).status_code == 200
        assert http.send(request).status_code == 401


def test_a_nonce_is_kept_past_every_instant_the_verifier_admits() -> None:
    expires = int(datetime.now(UTC).timestamp())
    last_admitted = datetime.fromtimestamp(expires, UTC) + CLOCK_SKEW
    assert nonce_keep_until(expires) > last_admitted + timedelta(seconds=30)
