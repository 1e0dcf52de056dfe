"""edXML over the HTTP API: an import with --server signs each command with the
agency's key file and uploads the message; a document's parties read it, and a
delivery's status, as edXML; anyone else gets 404."""

from __future__ import annotations

from pathlib import Path
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
from tests.api.http_support import api_for
from tests.conftest import sqlite_settings
from tests.contract.test_edxml_import import ALL, G22, H41, ROUND_TRIPS, sample
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
