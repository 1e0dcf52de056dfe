"""The browser's DSSE signer and command builder against the Python ones, on the
same vectors: the same payload bytes, signatures each side verifies."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.evidence.envelope import COMMAND_TYPE, Envelope, pae
from domain.evidence.keys import Ed25519Signer, public_key_of
from domain.exchange.commands import FIELDS, command_payload, latest_schema
from domain.exchange.signing import sign_command

STATIC = Path(__file__).parents[2] / "api" / "desk" / "static"
ORIGIN = "http://127.0.0.1:9"  # never connected to: the page's requests are answered here

PAYLOADS: list[dict[str, Any]] = [
    {"type": "delivery.accept", "command_id": "cmd-0123456789abcdef01234567",
     "issued_at": "2026-11-27T02:15:00.123000+00:00", "agency": "000.00.00.H41",
     "staff": "văn thư", "fields": {"document": "6f1c2d9e-3b4a-5c6d-8e7f-0a1b2c3d4e5f"},
     "schema_version": 2},
    {"type": "document.create", "command_id": "cmd-x.y_z:1", "issued_at":
     "2026-11-27T09:15:00+07:00", "agency": "000.00.00.G22", "staff": "Trần Thị Bích",
     "fields": {"document_id": "G22,2026/11/27,abc", "header": {
         "code_notation": "QĐ-UBND", "document_type": {"type": 1, "type_name": "Quyết định"},
         "subject": 'Về việc "x" \\ <script>alert(1)</script> \u202egpj.exe 😀 \u2028',
         "promulgation_place": "Huế", "promulgation_date": "2026-11-27",
         "signer": {"competence": "TM.", "position": "Chủ tịch", "full_name": "Lê Văn C"},
         "priority": 3, "steering_type": 0, "due_date": None, "to_places": []},
         "attachments": [{"name": "qd.pdf", "media_type": "application/pdf", "size": 0,
                          "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
                                    "7852b855"}]},
     "schema_version": 2},
    {"type": "agency.add_key", "command_id": "cmd-v1-no-version", "issued_at":
     "2026-11-27T02:15:00+00:00", "agency": "000.00.00.G22", "staff": "", "fields": {
         "code": "000.00.00.G22", "key": {"keyid": "00" * 16, "algorithm": "ed25519",
                                          "public_key": "AAAA"}}, "schema_version": None},
]


@pytest.fixture(scope="module")
def js(browser: Any) -> Iterator[Any]:
    """A page of the desk's origin whose modules are served from api/desk/static."""
    context = browser.new_context()
    page = context.new_page()

    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path.startswith("/desk/static/"):
            file = STATIC / path.removeprefix("/desk/static/")
            route.fulfill(path=str(file), content_type=mimetypes.guess_type(file.name)[0]
                          or "text/javascript")
        else:
            route.fulfill(body="<!doctype html><title>t</title>", content_type="text/html")

    page.route(f"{ORIGIN}/**", answer)
    page.goto(f"{ORIGIN}/")
    yield page
    context.close()


def run(page: Any, body: str, arg: Any = None) -> Any:
    """Evaluate ``body`` (an async function body with dsse, keystore, commands in scope)."""
    return page.evaluate(
        "async (arg) => { const dsse = await import('/desk/static/js/dsse.js');"
        " const keystore = await import('/desk/static/js/keystore.js');"
        " const commands = await import('/desk/static/js/commands.js');"
        f" {body} }}", arg)


def test_pae_matches_the_dsse_example(js: Any) -> None:
    got = run(js, "return Array.from(dsse.pae('http://example.com/HelloWorld',"
                  " new TextEncoder().encode('hello world')));")
    assert bytes(got) == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    assert bytes(got) == pae("http://example.com/HelloWorld", b"hello world")


@pytest.mark.parametrize("vector", PAYLOADS, ids=[p["type"] for p in PAYLOADS])
def test_the_browser_builds_the_payload_bytes_python_builds(js: Any,
                                                            vector: dict[str, Any]) -> None:
    got = run(js, "return Array.from(commands.commandPayload({type: arg.type, commandId:"
                  " arg.command_id, issuedAt: arg.issued_at, agency: arg.agency, staff:"
                  " arg.staff, fields: arg.fields, schemaVersion: arg.schema_version}));",
              vector)
    assert bytes(got) == command_payload(**vector)


def test_the_browser_signs_the_latest_schema_of_every_command_type(js: Any) -> None:
    table = run(js, "return arg.map((t) => commands.latestSchema(t));", sorted(FIELDS))
    assert dict(zip(sorted(FIELDS), table, strict=True)) == {t: latest_schema(t)
                                                             for t in sorted(FIELDS)}


def test_a_browser_signed_envelope_verifies_in_python(js: Any) -> None:
    signer = Ed25519Signer.generate()
    vector = PAYLOADS[1]
    got = run(js, """
        const key = await keystore.importPem(arg.pem);
        const payload = commands.commandPayload({type: arg.v.type, commandId: arg.v.command_id,
            issuedAt: arg.v.issued_at, agency: arg.v.agency, staff: arg.v.staff,
            fields: arg.v.fields, schemaVersion: arg.v.schema_version});
        const env = await dsse.signEnvelope(key.privateKey, key.keyid, dsse.COMMAND_TYPE,
                                            payload);
        return {env, keyid: key.keyid, extractable: key.privateKey.extractable};
        """, {"pem": signer.private_pem().decode(), "v": vector})
    assert got["keyid"] == signer.keyid  # the key id docs/commands.md defines
    assert got["extractable"] is False
    envelope = Envelope.from_json(json.dumps(got["env"]))
    assert envelope.payload == command_payload(**vector)
    public_key_of(signer._private).verify(  # noqa: SLF001 - the test's own key
        envelope.signatures[0].sig, pae(COMMAND_TYPE, envelope.payload))


def test_a_python_signed_envelope_verifies_in_the_browser(js: Any) -> None:
    signer = Ed25519Signer.generate()
    raw = sign_command(signer, "delivery.refuse", {"document": PAYLOADS[0]["fields"]["document"],
                                                   "reason": "Sai thẩm quyền ‮"},
                       agency="000.00.00.H41", staff="văn thư")
    check = """
        const key = await keystore.importPem(arg.pem);
        const ok = await dsse.verifyEnvelope(key.publicKey, key.keyid, arg.env);
        const bad = structuredClone(arg.env);
        const bytes = dsse.base64ToBytes(bad.payload);
        bytes[bytes.length - 3] ^= 1;
        bad.payload = dsse.bytesToBase64(bytes);
        return [ok, await dsse.verifyEnvelope(key.publicKey, key.keyid, bad)];
        """
    ok, tampered = run(js, check, {"pem": signer.private_pem().decode(),
                                   "env": json.loads(raw)})
    assert ok is True
    assert tampered is False
