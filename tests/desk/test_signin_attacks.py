"""Attacks on the desk's sign-in and session: each is refused and writes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from api.desk.signin import COOKIE, signin_text
from domain.errors import NotFoundError
from domain.evidence.keys import Ed25519Signer
from domain.exchange.document import Document
from domain.exchange.signing import sign_command
from infrastructure.keyfiles import load_signer
from tests.desk.conftest import A, B, Desk

# the end-to-end flow runs on both backends; these check the desk itself
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def challenge(http: httpx.Client, agency: str) -> dict[str, Any]:
    answer = http.get("/desk/api/challenge", params={"agency": agency})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def signed(got: dict[str, Any], agency: str, signer: Ed25519Signer,
           keyid: str | None = None) -> dict[str, str]:
    keyid = keyid or signer.keyid
    text = signin_text(got["origin"], agency, keyid, got["challenge"])
    return {"agency": agency, "keyid": keyid, "challenge": got["challenge"],
            "signature": base64.b64encode(signer.sign(text)).decode()}


def client(desk: Desk) -> httpx.Client:
    return httpx.Client(base_url=desk.url, timeout=10)


def test_signin_with_a_wrong_key_is_refused(desk: Desk) -> None:
    with client(desk) as http:
        real = load_signer(desk.key(B))
        thief = Ed25519Signer.generate()
        # another key claiming B's key id, then a key id B does not have, then A's key for B
        for body in (signed(challenge(http, B), B, thief, keyid=real.keyid),
                     signed(challenge(http, B), B, thief),
                     signed(challenge(http, B), B, load_signer(desk.key(A)))):
            refused = http.post("/desk/api/session", json=body)
            assert refused.status_code == 401, refused.text
            assert COOKIE not in refused.cookies
        assert http.get("/desk/inbox").status_code == 303  # still signed out


def test_replayed_challenge_is_refused(desk: Desk) -> None:
    with client(desk) as http:
        body = signed(challenge(http, B), B, load_signer(desk.key(B)))
        assert http.post("/desk/api/session", json=body).status_code == 200
        http.cookies.clear()
        replayed = http.post("/desk/api/session", json=body)
        assert replayed.status_code == 401
        assert "used already" in replayed.json()["detail"]


def test_expired_challenge_is_refused(desk: Desk) -> None:
    state = desk.server.config.app.state.desk
    with client(desk) as http:
        body = signed(challenge(http, B), B, load_signer(desk.key(B)))
        state.clock = lambda: time.monotonic() + 61  # the challenge lives 60 s
        expired = http.post("/desk/api/session", json=body)
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]


def test_challenge_issued_for_another_agency_is_refused(desk: Desk) -> None:
    with client(desk) as http:
        got = challenge(http, A)
        body = signed(got, B, load_signer(desk.key(B)))
        assert http.post("/desk/api/session", json=body).status_code == 401


def test_session_cookie_is_httponly_and_samesite_strict(desk: Desk, signed_in: Any) -> None:
    with client(desk) as http:
        body = signed(challenge(http, B), B, load_signer(desk.key(B)))
        opened = http.post("/desk/api/session", json=body)
        cookie = opened.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=strict", "path=/desk", "max-age=1800"):
            assert attribute in cookie
        assert "secure" not in cookie  # served over http from 127.0.0.1 here
    page = signed_in(B)
    assert COOKIE not in page.evaluate("document.cookie")  # no script can read it
    [stored] = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert stored["httpOnly"] and stored["sameSite"] == "Strict"


def test_command_envelope_for_another_agency_than_the_session_is_refused(desk: Desk) -> None:
    with client(desk) as http:
        body = signed(challenge(http, B), B, load_signer(desk.key(B)))
        assert http.post("/desk/api/session", json=body).status_code == 200
        # a valid envelope, signed by A's own key, pushed through B's session
        raw = sign_command(load_signer(desk.key(A)), "document.create", {
            "document_id": "G22,x,1", "attachments": [], "header": {
                "code_notation": "QĐ", "document_type": {"type": 1, "type_name": "Công văn"},
                "subject": "s", "promulgation_place": "p", "promulgation_date": "2026-11-27",
                "signer": {"full_name": "n"}}}, agency=A, staff="x")
        refused = http.post("/desk/api/commands", content=raw,
                            headers={"Content-Type": "application/json"})
        assert refused.status_code == 403
        assert json.loads(refused.text)["type"].endswith("forbidden")
    ledger = desk.server.config.app.state.container.service.app
    assert ledger.find(Document, Document.id_for(A, "G22,x,1")) is None  # nothing written


def test_cross_site_post_without_the_cookie_is_refused(desk: Desk, signed_in: Any) -> None:
    page = signed_in(B)  # the browser holds B's session cookie for 127.0.0.1
    evil = "http://evil.example"

    def evil_page(route: Any) -> None:
        action = route.request.url.removeprefix(evil)
        route.fulfill(content_type="text/html", body=(
            f'<!doctype html><form method="post" action="{desk.url}{action}" '
            'enctype="text/plain"><input name=\'{"payloadType":"x","a\' value=\'"}\'>'
            "</form>"))

    page.route(f"{evil}/**", evil_page)
    for target in ("/desk/api/commands", "/desk/api/signout"):
        page.goto(f"{evil}{target}")
        with page.expect_navigation():
            page.evaluate("document.forms[0].submit()")
        if target == "/desk/api/commands":  # answered as if no session: the cookie stayed home
            assert page.locator("body").inner_text().count("unauthenticated") == 1
    # the sign-out posted from the other site ended nothing either
    page.goto(f"{desk.url}/desk/inbox")
    assert page.url == f"{desk.url}/desk/inbox"


def test_a_revoked_key_ends_its_sessions(desk: Desk) -> None:
    with client(desk) as http:
        signer = load_signer(desk.key(B))
        assert http.post("/desk/api/session", json=signed(challenge(http, B), B,
                                                          signer)).status_code == 200
        assert http.get("/desk/inbox").status_code == 200
        revoked = desk.cli("agency", "revoke-key", B, signer.keyid, "--reason", "lost",
                           "--key", str(desk.data / "keys" / "registrar.key"), server=True)
        assert revoked.exit_code == 0, revoked.output
        assert http.get("/desk/inbox").status_code == 303
        assert http.get("/desk/api/stream").status_code == 401


def test_an_upload_without_a_session_or_with_a_wrong_digest_is_refused(desk: Desk) -> None:
    content = b"bao cao"
    digest = hashlib.sha256(content).hexdigest()
    octets = {"Content-Type": "application/octet-stream"}
    with client(desk) as http:
        anonymous = http.put(f"/desk/api/attachments/{digest}", content=content, headers=octets)
        assert anonymous.status_code == 401
        body = signed(challenge(http, B), B, load_signer(desk.key(B)))
        assert http.post("/desk/api/session", json=body).status_code == 200
        wrong = http.put(f"/desk/api/attachments/{'0' * 64}", content=content, headers=octets)
        assert wrong.status_code == 422
        assert wrong.json()["type"].endswith("digest-mismatch")
        stored = http.put(f"/desk/api/attachments/{digest}", content=content, headers=octets)
        assert stored.status_code == 201
    blobs = desk.server.config.app.state.container.service.folder.blobs
    with pytest.raises(NotFoundError):  # the mismatched bytes were not kept
        blobs.verified_path("0" * 64)
