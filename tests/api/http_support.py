"""Test support for the HTTP API: a real app over a World, and signed clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from api.client import LedgerClient
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
