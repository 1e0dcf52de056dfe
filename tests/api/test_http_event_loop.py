"""A store that blocks a signed request's authentication must not hold the event loop.

The key lookup and the nonce claim of a signed request go to the store. Run on
the event loop, one blocked claim would stall every other answer of the
process, /healthz included. Each test holds one request's nonce claim (as a
locked store would) and asks /healthz meanwhile.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.client import SignedAuth
from tests.api.http_support import api_for
from tests.factories import SENDER, World

HANG_BOUND = 30  # seconds: only a hang takes this long


@contextmanager
def nonce_claims_held(http: TestClient, monkeypatch: pytest.MonkeyPatch
                      ) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Every nonce claim waits for ``release`` once it has set ``entered``."""
    nonces = http.app.state.container.nonces  # type: ignore[attr-defined]
    claim = nonces.claim
    entered, release = threading.Event(), threading.Event()

    def held(*args: Any) -> bool:
        entered.set()
        release.wait(HANG_BOUND)
        return claim(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(nonces, "claim", held)
    try:
        yield entered, release
    finally:
        release.set()


def healthz_answers_while_blocked(http: TestClient, monkeypatch: pytest.MonkeyPatch,
                                  blocked: Callable[[], httpx.Response]) -> httpx.Response:
    """Send ``blocked`` and, while its nonce claim is held, /healthz; return the
    blocked request's answer once it is let go."""
    with ThreadPoolExecutor(2) as pool, nonce_claims_held(http, monkeypatch) as (entered,
                                                                                release):
        first = pool.submit(blocked)
        assert entered.wait(HANG_BOUND), "the request never reached its nonce claim"
        health = pool.submit(http.get, "/healthz")
        done, _ = wait([health], timeout=HANG_BOUND)
        release.set()
        assert health in done, "/healthz waited for another request's nonce claim"
        assert health.result().status_code == 200
        return first.result()


def test_upload_with_nonce_claim_blocked_leaves_healthz_answering(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"%PDF-1.7 blocked upload"
    with api_for(world) as http:
        answer = healthz_answers_while_blocked(http, monkeypatch, lambda: http.put(
            f"/v1/attachments/{hashlib.sha256(data).hexdigest()}", content=data,
            headers={"content-type": "application/octet-stream"},
            auth=SignedAuth(SENDER, world.keys[SENDER])))
    assert answer.status_code == 201, answer.text


def test_signed_read_with_nonce_claim_blocked_leaves_healthz_answering(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    with api_for(world) as http:
        answer = healthz_answers_while_blocked(http, monkeypatch, lambda: http.get(
            "/v1/whoami", auth=SignedAuth(SENDER, world.keys[SENDER])))
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == SENDER
