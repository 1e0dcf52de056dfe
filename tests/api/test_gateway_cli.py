"""``docledger gateway receipts / prove / verify`` (in-process: the sub-app itself) and
``GET /v1/gateway/receipts/{sha256}``: an agency proves, offline, what the axis
delivered to it and when."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli_gateway import gateway_app
from api.client import LedgerClient
from domain.errors import NotFoundError, VerificationError
from domain.verification.bundle import verify_bundle
from domain.verification.gateway import verify_gateway_proof
from infrastructure.ledger import DataFolder
from infrastructure.service import bootstrap
from tests.api.test_http_reads import api, auditor_client, register_auditor
from tests.conftest import sqlite_settings
from tests.contract.test_gateway_bundle import H41, Exchange, delivered, sent_message
from tests.factories import RECIPIENT, SENDER, World

runner = CliRunner()


@pytest.fixture
def ledger(tmp_path: Path) -> World:
    world = World.create(sqlite_settings(tmp_path))
    service = bootstrap(world.settings, app=world.app)
    service.record_gateway_receipt("in", RECIPIENT, "axis-1", "eDoc", delivered(sent_message()))
    service.record_gateway_receipt("out", SENDER, "axis-1", "eDoc", sent_message())
    return world


def vkey(world: World) -> str:
    return bootstrap(world.settings, app=world.app).log.note_key.vkey()


def test_an_agency_lists_proves_and_verifies_what_the_axis_delivered(
        ledger: World, tmp_path: Path) -> None:
    data = str(ledger.settings.data)
    listed = runner.invoke(gateway_app, ["receipts", "--as", RECIPIENT, "--data", data, "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    message = tmp_path / "delivered.edxml"
    message.write_bytes(delivered(sent_message()))
    assert (row["direction"], row["axis_id"], row["sha256"]) == (
        "in", "axis-1", hashlib.sha256(message.read_bytes()).hexdigest())

    proof = tmp_path / "proof.json"
    made = runner.invoke(gateway_app, ["prove", str(message), "--out", str(proof),
                                       "--data", data])
    assert made.exit_code == 0, made.output
    key = tmp_path / "ledger.vkey"
    key.write_text(vkey(ledger) + "\n")
    checked = runner.invoke(gateway_app, ["verify", str(proof), "--ledger-key", str(key)])
    assert checked.exit_code == 0, checked.output
    assert "the axis delivered" in checked.stdout and "001.00.20.TT2" in checked.stdout
    # altered bytes given beside the proof are not the receipt's
    other = tmp_path / "other.edxml"
    other.write_bytes(message.read_bytes().replace(b"TT2", b"TT9"))
    refused = runner.invoke(gateway_app, ["verify", str(proof), "--ledger-key", str(key),
                                          "--bytes", str(other)])
    assert isinstance(refused.exception, VerificationError)


def test_proving_bytes_the_ledger_never_receipted_is_not_found(ledger: World,
                                                               tmp_path: Path) -> None:
    message = tmp_path / "never.edxml"
    message.write_bytes(b"<edXML/>")
    made = runner.invoke(gateway_app, ["prove", str(message), "--data",
                                       str(ledger.settings.data)])
    assert isinstance(made.exception, NotFoundError)


def test_the_receipts_agency_and_an_auditor_get_a_proof_over_http(ledger: World) -> None:
    message = delivered(sent_message())
    auditor = register_auditor(ledger)
    with api(ledger) as http:
        path = f"/v1/gateway/receipts/{hashlib.sha256(message).hexdigest()}"
        recipient = LedgerClient("http://testserver", RECIPIENT, ledger.keys[RECIPIENT],
                                 http=http)  # type: ignore[arg-type]
        for client in (recipient, auditor_client(http, auditor)):
            answer = http.get(path, auth=client.auth)
            assert answer.status_code == 200, answer.text
            [statement] = verify_gateway_proof(answer.json(), vkey(ledger), message)
            assert statement["agency"] == RECIPIENT and statement["direction"] == "in"
    assert DataFolder(ledger.settings.data).blobs.path_for(statement["sha256"]).is_file()


def test_over_http_a_party_gets_the_bundled_messages_bytes_and_an_auditor_only_receipts(
        tmp_path: Path) -> None:
    exchange = Exchange(sqlite_settings(tmp_path))
    auditor = register_auditor(exchange.world)
    path = f"/v1/documents/{exchange.document}/bundle"
    with api(exchange.world) as http:
        recipient = LedgerClient("http://testserver", H41, exchange.world.keys[H41],
                                 http=http)  # type: ignore[arg-type]
        mine = http.get(path, auth=recipient.auth).json()
        audited = http.get(path, auth=auditor_client(http, auditor).auth).json()
    assert [("data" in g) for g in mine["gateway"]] == [True, True]
    assert [("data" in g) for g in audited["gateway"]] == [False, False]
    for bundle in (mine, audited):
        assert verify_bundle(bundle, exchange.vkey).gateway_receipts == 2
    exchange.service.close()
