"""The API served by a real uvicorn process (``docledger serve``), on SQLite and PostgreSQL:
a document sent and accepted over HTTP, the receipt and the checkpoint verified."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from api.client import LedgerClient
from api.demo import DEPARTMENT, DISTRICT_EAST
from domain.evidence.checkpoint import NoteKey, open_checkpoint
from domain.evidence.merkle import verify_inclusion
from domain.evidence.receipt import open_receipt
from infrastructure.keyfiles import load_public_key, load_signer
from infrastructure.ledger import DataFolder
from tests.api.conftest import Cli, LiveServer

HEADER = {
    "code_notation": "CV-SNV",
    "document_type": {"type": 1, "type_name": "Công văn"},
    "subject": "Về việc thử nghiệm máy chủ API",
    "promulgation_place": "Bình An",
    "promulgation_date": date.today().isoformat(),
    "signer": {"full_name": "Nguyễn Văn B", "position": "Phó Giám đốc"},
    "priority": 0,
    "due_date": None,
}


def client(server: LiveServer, code: str) -> LedgerClient:
    return LedgerClient(server.url, code, load_signer(DataFolder(server.data).agency_key(code)))


def test_send_accept_receipt_and_checkpoint_over_a_real_server(
        tmp_path: Path, cli: Cli, serve: Callable[[Path], LiveServer]) -> None:
    data = tmp_path / "D"
    demo = cli("demo", "--data", str(data))
    assert demo.returncode == 0, demo.stderr
    server = serve(data)
    sender, recipient = client(server, DEPARTMENT), client(server, DISTRICT_EAST)
    assert sender.get("/v1/whoami")["name"] == DEPARTMENT

    created = sender.command("document.create", {
        "document_id": f"{DEPARTMENT},{date.today():%Y/%m/%d},uvicorn-{tmp_path.name}",
        "header": HEADER, "attachments": []})
    doc = created["result"]["document"]
    sender.command("document.sign", {"document": doc, "signer": HEADER["signer"]})
    issued = sender.command("document.issue", {"document": doc})
    sender.command("document.send", {"document": doc, "recipients": [DISTRICT_EAST]})
    accepted = recipient.command("delivery.accept", {"document": doc})
    assert accepted["result"]["incoming_number"] >= 1 and "/" in issued["result"]["reference"]

    vkey = NoteKey.parse(sender.http.get("/v1/log/vkey").text)
    receipt = open_receipt(accepted["receipt"], load_public_key(DataFolder(data).ledger_key))
    assert receipt["command_id"] == accepted["command_id"]
    leaf = receipt["events"][0]["leaf_hash"]

    checkpoint = open_checkpoint(sender.http.get("/v1/log/checkpoint").text, vkey)
    assert checkpoint.origin == vkey.name
    proof = sender.http.get("/v1/log/inclusion",
                            params={"leaf_hash": leaf, "size": checkpoint.size}).json()
    verify_inclusion(proof["leaf_index"], checkpoint.size, bytes.fromhex(leaf),
                     [bytes.fromhex(h) for h in proof["proof"]], checkpoint.root)

    assert server.stop() == 0, server.output()
    assert "Application shutdown complete" in server.output()
    audit = cli("audit", "--data", str(data))  # everything the server wrote still holds
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_production_refuses_to_serve_demo_keys(tmp_path: Path, cli: Cli) -> None:
    data = tmp_path / "D"
    assert cli("demo", "--data", str(data)).returncode == 0
    assert (data / "keys" / "DEVELOPMENT").exists()
    refused = cli("serve", "--data", str(data), "--port", "1",
                  env={"DOCLEDGER_ENV": "production"})
    assert refused.returncode == 2
    assert "development keys" in refused.stderr
