"""Search over HTTP: signed by the agency, paged by cursor, hostile text refused or plain."""

from __future__ import annotations

import base64
import json

import pytest

from api.client import ProblemError
from tests.api.http_support import client_for
from tests.api.test_http_reads import api
from tests.factories import OTHER, RECIPIENT, World
from tests.views_support import send


def test_search_pages_and_finds_without_diacritics(world: World) -> None:
    docs = [send(world, (RECIPIENT,), subject=f"Quyết định số {i} về Đông Sơn")
            for i in range(3)]
    send(world, (OTHER,), subject="Quyết định về Đông Sơn")
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        path = f"/v1/agencies/{RECIPIENT}/search"
        first = reader.get(path, q="quyet dinh dong son", limit=2)
        assert [r["document_id"] for r in first["items"]] == [docs[2], docs[1]]
        second = reader.get(path, q="quyet dinh dong son", limit=2, cursor=first["next"])
        assert [r["document_id"] for r in second["items"]] == [docs[0]]
        assert second["next"] is None
        assert first["items"][0]["subject"] == "Quyết định số 2 về Đông Sơn"


def test_overlong_query_text_is_refused_with_422(world: World) -> None:
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        with pytest.raises(ProblemError) as refused:
            reader.get(f"/v1/agencies/{RECIPIENT}/search", q="quyet " * 40)
        assert refused.value.status == 422
        with pytest.raises(ProblemError) as many:
            reader.get(f"/v1/agencies/{RECIPIENT}/search", q=" ".join(f"w{i}" for i in range(20)))
        assert many.value.status == 422


@pytest.mark.parametrize("cursor", [
    "not-a-cursor",
    base64.urlsafe_b64encode(json.dumps({"p": 2, "s": 1}).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"p": 1, "s": True}).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"p": 1, "s": -1}).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"p": 1, "s": 2**70}).encode()).decode(),
])
def test_forged_search_cursor_is_refused(world: World, cursor: str) -> None:
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        with pytest.raises(ProblemError) as refused:
            reader.get(f"/v1/agencies/{RECIPIENT}/search", q="x", cursor=cursor)
        assert refused.value.status == 422


def test_fts5_syntax_injection_over_http_is_plain_words(world: World) -> None:
    mine = send(world, (RECIPIENT,), subject="Quyết định")
    send(world, (OTHER,), subject="Quyết định khác")
    with api(world) as http:
        reader = client_for(http, world, RECIPIENT)
        path = f"/v1/agencies/{RECIPIENT}/search"
        for text in ('"quyet" OR "khac"', "NEAR(quyet khac)", "quy*", "words:khac", "-khac"):
            assert reader.get(path, q=text)["items"] == [], text
        assert [r["document_id"] for r in reader.get(path, q='"quyet"')["items"]] == [mine]
