"""Test support for the HTTP API: a real app over a World, and signed clients."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import requests
from fastapi.testclient import TestClient
from http_message_signatures import HTTPMessageSigner
from http_message_signatures.algorithms import ED25519

from api.client import LedgerClient, _OneKey
from api.http.app import create_app
from tests.factories import World


@contextmanager
def api_for(world: World) -> Iterator[TestClient]:
    """The real FastAPI app over the world's data folder and database."""
    with TestClient(create_app(world.settings)) as client:
        yield client


def client_for(http: TestClient, world: World, party: str) -> LedgerClient:
    """A signed client acting as ``party`` (an agency code or 'registrar')."""
    signer = world.registrar if party == "registrar" else world.keys[party]
    return LedgerClient("http://testserver", party, signer, http=http)  # type: ignore[arg-type]


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
