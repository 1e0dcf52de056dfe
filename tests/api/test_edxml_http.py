"""edXML over the HTTP API: an import with --server signs each command with the
agency's key file and uploads the message; a document's parties read it, and a
delivery's status, as edXML; anyone else gets 404."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.edxml_import import import_edxml
from api.remote import RemoteSession
from domain.errors import NotFoundError
from domain.exchange.edxml.model import DocumentMessage, StatusMessage
from domain.exchange.edxml.parse import parse_edxml
from infrastructure.edxml_export import export_edxml
from infrastructure.keyfiles import write_key_pair
from infrastructure.ledger import DataFolder
from tests.api.http_support import api_for, client_for
from tests.conftest import sqlite_settings
from tests.contract.test_edxml_import import ALL, G22, H41, ROUND_TRIPS, sample
from tests.edxml_signing import pki, sign
from tests.factories import ManualClock, World

OUTSIDER = "000.00.15.H51"


def test_import_with_server_and_parties_read_edxml(tmp_path: Path) -> None:
    world = World.create(sqlite_settings(tmp_path), clock=ManualClock(),
                         agencies=(G22, *ALL, OUTSIDER))
    keys = {}
    for code in (G22, H41, OUTSIDER):
        keys[code] = tmp_path / f"{code}.key"
        write_key_pair(world.keys[code], keys[code])
    with api_for(world) as http:
        def session(code: str) -> RemoteSession:
            return RemoteSession("http://testserver", keys[code], http=http)  # type: ignore[arg-type]

        sent = import_edxml(session(G22), ROUND_TRIPS["status-03-accepted.edxml"], G22,
                            key=keys[G22])
        doc = UUID(sent.document)
        assert [c["type"] for c in sent.commands] == [
            "document.create", "document.sign", "document.issue", "document.send"]
        accepted = import_edxml(session(H41), sample("status-03-accepted.edxml"), H41,
                                key=keys[H41])
        assert accepted.commands[0]["result"]["incoming_number"] == 1
        again = import_edxml(session(H41), sample("status-03-accepted.edxml"), H41,
                             key=keys[H41])
        assert again.commands[0]["recorded_before"] is True

        # the message as the sender handed it is readable by the document's parties
        h41 = client_for(http, world, H41)
        fetched = http.get(f"/v1/attachments/{sent.source_sha256}", auth=h41.auth)
        assert fetched.content == ROUND_TRIPS["status-03-accepted.edxml"]
        outsider = client_for(http, world, OUTSIDER)
        assert http.get(f"/v1/attachments/{accepted.source_sha256}",
                        auth=outsider.auth).status_code == 404
        blobs = DataFolder(world.settings.data).blobs
        as_read = session(H41).edxml(H41, doc, None)
        assert as_read == export_edxml(world.app, blobs, doc)
        assert isinstance(parse_edxml(as_read), DocumentMessage)
        status = parse_edxml(session(G22).edxml(G22, doc, H41))
        assert isinstance(status, StatusMessage) and status.status_code == "03"
        with pytest.raises(NotFoundError):
            session(OUTSIDER).edxml(OUTSIDER, doc, None)
        with pytest.raises(NotFoundError):
            session(OUTSIDER).edxml(OUTSIDER, doc, H41)


def test_post_edxml_answers_the_plan_the_agency_signs_and_records_nothing(
        tmp_path: Path) -> None:
    world = World.create(sqlite_settings(tmp_path), clock=ManualClock(),
                         agencies=(G22, *ALL))
    with api_for(world) as http:
        def post(code: str, body: bytes, content_type: str = "application/xml") -> Any:
            client = client_for(http, world, code)
            return http.post("/v1/edxml", content=body, auth=client.auth,
                             headers={"content-type": content_type})

        message = ROUND_TRIPS["status-03-accepted.edxml"]
        before = world.event_count()
        answer = post(G22, message)
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert world.event_count() == before  # nothing recorded
        blobs = DataFolder(world.settings.data).blobs
        assert blobs.verified_path(plan["source"]["sha256"]).read_bytes() == message
        sender = client_for(http, world, G22)
        for command in plan["commands"]:
            sender.command(command["type"], command["fields"], staff=command["staff"],
                           command_id=command["command_id"],
                           schema_version=command["schema_version"])
        assert [c["type"] for c in plan["commands"]] == [
            "document.create", "document.sign", "document.issue", "document.send"]
        assert plan["commands"][0]["fields"]["source"] == plan["source"]
        # the same commands the tool plans: importing the file now writes nothing
        key = tmp_path / "g22.key"
        write_key_pair(world.keys[G22], key)
        again = import_edxml(RemoteSession("http://testserver", key, http=http),  # type: ignore[arg-type]
                             message, G22, key=key)
        assert all(c["recorded_before"] for c in again.commands)

        assert post(H41, message).status_code == 403  # G22's message
        assert post(G22, message, "text/plain").status_code == 415
        bad = post(G22, b"<edXML><unclosed></edXML>")
        assert bad.status_code == 422 and "line" in bad.json()["detail"]
        unsigned = http.post("/v1/edxml", content=message,
                             headers={"content-type": "application/xml"})
        assert unsigned.status_code == 401


def test_post_edxml_answers_the_servers_signature_judgement_and_its_policy(
        tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path).model_copy(
        update={"edxml_signature": "refuse-invalid"})
    world = World.create(settings, clock=ManualClock(), agencies=(G22, *ALL))
    with api_for(world) as http:
        client = client_for(http, world, G22)

        def post(body: bytes) -> Any:
            return http.post("/v1/edxml", content=body, auth=client.auth,
                             headers={"content-type": "application/xml"})

        signed = sign(ROUND_TRIPS["status-03-accepted.edxml"], pki().rsa)
        answer = post(signed)
        assert answer.status_code == 200, answer.text
        signature = answer.json()["source"]["signature"]
        assert (signature["status"], signature["certificate"]["subject"]) == (
            "valid", "CN=Nguyễn Văn B (RSA),C=VN")
        assert all(c["fields"]["source"]["signature"] == signature
                   for c in answer.json()["commands"] if "source" in c["fields"])
        tampered = signed.replace(b"<edXML:Subject>", b"<edXML:Subject>X")
        blobs = DataFolder(world.settings.data).blobs
        refused = post(tampered)
        assert refused.status_code == 422
        assert refused.json()["type"].endswith("edxml-signature-refused")
        with pytest.raises(NotFoundError):  # nothing kept
            blobs.verified_path(hashlib.sha256(tampered).hexdigest())
