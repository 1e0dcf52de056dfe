"""The command-line tool with --server: acting and reading through a live API process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from domain.evidence.checkpoint import NoteKey, open_checkpoint
from domain.evidence.merkle import verify_inclusion
from domain.evidence.receipt import open_receipt
from infrastructure.keyfiles import load_public_key
from infrastructure.ledger import DataFolder
from tests.api.conftest import Cli, LiveServer

SENDER, RECIPIENT = "000.00.00.G22", "000.00.00.H41"


@pytest.fixture
def backend_env() -> dict[str, str]:
    """The embedded default: the server and local commands share the SQLite file."""
    return {}


def test_cli_acts_and_reads_through_a_live_server(
        tmp_path: Path, cli: Cli, serve: Callable[[Path], LiveServer]) -> None:
    data = tmp_path / "D"
    assert cli("init", "--data", str(data)).returncode == 0
    for code in (SENDER, RECIPIENT):  # registering needs the registrar key: done locally
        assert cli("agency", "register", code, f"Agency {code}", "--data",
                   str(data)).returncode == 0
    keys = {code: str(DataFolder(data).agency_key(code)) for code in (SENDER, RECIPIENT)}
    server = serve(data)
    url = server.url

    attachment = tmp_path / "plan.pdf"
    attachment.write_bytes(b"%PDF-1.4\n% ke hoach\n%%EOF\n")
    sent = cli("send", "--server", url, "--key", keys[SENDER], "--as", SENDER,
               "--to", RECIPIENT, "--subject", "Về việc thử nghiệm từ xa", "--notation",
               "CV-VP", "--json", "--attach", str(attachment))
    assert sent.returncode == 0, sent.stderr
    doc = json.loads(sent.stdout)["document"]
    # the bytes reached the server's blob store before document.create
    assert any(p.is_file() for p in (data / "blobs").rglob("*"))

    accepted = cli("accept", doc, "--as", RECIPIENT, "--server", url, "--key",
                   keys[RECIPIENT], "--json")
    assert accepted.returncode == 0, accepted.stderr
    outcome = json.loads(accepted.stdout)
    assert outcome["result"]["incoming_number"] == 1
    receipt = open_receipt(outcome["receipt"], load_public_key(DataFolder(data).ledger_key))
    assert receipt["command_id"] == outcome["command_id"]

    again = cli("accept", doc, "--as", RECIPIENT, "--server", url, "--key", keys[RECIPIENT])
    assert again.returncode == 6 and "illegal-transition" in again.stderr
    forged = cli("accept", doc, "--as", RECIPIENT, "--server", url, "--key", keys[SENDER])
    assert forged.returncode == 3, forged.stderr
    keyless = cli("accept", doc, "--as", RECIPIENT, "--server", url)
    assert keyless.returncode == 2 and "--key" in keyless.stderr

    inbox = cli("inbox", RECIPIENT, "--server", url, "--key", keys[RECIPIENT], "--json")
    assert inbox.returncode == 0, inbox.stderr
    rows = json.loads(inbox.stdout)
    assert [(r["document_id"], r["state"]) for r in rows] == [(doc, "accepted")]
    table = cli("inbox", RECIPIENT, "--server", url, "--key", keys[RECIPIENT])
    assert "CV-VP" in table.stdout
    stranger = cli("inbox", RECIPIENT, "--server", url, "--key", keys[SENDER])
    assert stranger.returncode == 3  # signed with a key that is not the recipient's
    outbox = cli("outbox", SENDER, "--server", url, "--key", keys[SENDER], "--json")
    assert json.loads(outbox.stdout)[0]["recipients"][0]["status_code"] == "03"
    register = cli("register", RECIPIENT, "--server", url, "--key", keys[RECIPIENT],
                   "--csv", str(tmp_path / "reg.csv"))
    assert register.returncode == 0, register.stderr
    assert "Về việc thử nghiệm từ xa" in (tmp_path / "reg.csv").read_text()
    stats = cli("stats", RECIPIENT, "--from", "2000-01-01", "--to", "2099-12-31",
                "--server", url, "--key", keys[RECIPIENT], "--json")
    assert json.loads(stats.stdout)["accepted"] == 1, stats.stderr
    status = cli("status", doc, "--as", SENDER, "--server", url, "--key", keys[SENDER],
                 "--json")
    assert json.loads(status.stdout)["timeline"][-1]["status_code"] == "03"
    history = cli("history", doc, "--as", SENDER, "--server", url, "--key", keys[SENDER],
                  "--json")
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)[-1]["status"] == "03"

    vkey_text = cli("checkpoint", "--vkey", "--server", url)
    assert vkey_text.returncode == 0, vkey_text.stderr
    vkey = NoteKey.parse(vkey_text.stdout)
    proved = cli("prove-inclusion", "--leaf-hash", receipt["events"][0]["leaf_hash"],
                 "--server", url)
    assert proved.returncode == 0, proved.stderr
    proof = json.loads(proved.stdout)
    checkpoint = open_checkpoint(proof["checkpoint"], vkey)
    verify_inclusion(proof["leaf_index"], checkpoint.size, bytes.fromhex(proof["leaf_hash"]),
                     [bytes.fromhex(h) for h in proof["proof"]], checkpoint.root)
    latest = cli("checkpoint", "--server", url)
    assert open_checkpoint(latest.stdout, vkey).size >= checkpoint.size
    consistent = cli("prove-consistency", "1", "--server", url)
    assert consistent.returncode == 0 and json.loads(consistent.stdout)["old_size"] == 1

    bundle = tmp_path / "doc.json"
    fetched = cli("bundle", doc, "--as", RECIPIENT, "--server", url, "--key",
                  keys[RECIPIENT], "-o", str(bundle))
    assert fetched.returncode == 0, fetched.stderr
    verified = cli("verify-bundle", str(bundle), "--ledger-key", vkey.vkey())
    assert verified.returncode == 0, verified.stdout + verified.stderr

    local = cli("audit", "--server", url)
    assert local.returncode == 2 and "locally only" in local.stderr
    assert server.stop() == 0, server.output()
    audit = cli("audit", "--data", str(data))
    assert audit.returncode == 0, audit.stdout + audit.stderr
