"""An auditor's workflow with the command-line tool, as real processes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.test_cli import docledger


def test_auditor_saves_checkpoint_then_checks_growth_receipts_and_audit(tmp_path: Path) -> None:
    data = str(tmp_path / "D")
    assert docledger("demo", "--data", data).returncode == 0
    vkey = docledger("checkpoint", "--vkey", "--data", data).stdout.strip()
    old = docledger("checkpoint", "--data", data).stdout
    assert old.split("\n")[0] == "docledger.local/ledger" and "\n\n\u2014 " in old
    (tmp_path / "old.note").write_text(old)

    # the ledger grows; a command's receipt names its leaves
    sent = docledger("send", "--as", "000.22.31.H29", "--to", "000.01.31.H29", "--subject",
                     "Về việc kiểm tra", "--notation", "CV-SNV", "--json", "--data", data)
    doc = json.loads(sent.stdout)["document"]
    accepted = docledger("accept", doc, "--as", "000.01.31.H29", "--json", "--data", data)
    receipt = json.loads(accepted.stdout)["receipt"]
    assert receipt["payloadType"] == "application/vnd.docledger.statement+json"
    again = docledger("receipt", json.loads(accepted.stdout)["command_id"], "--data", data)
    assert json.loads(again.stdout) == receipt

    new = docledger("checkpoint", "--issue", "--data", data).stdout
    (tmp_path / "new.note").write_text(new)
    old_size = int(old.split("\n")[1])
    proof = docledger("prove-consistency", str(old_size), "--data", data)
    (tmp_path / "proof.json").write_text(proof.stdout)
    ok = docledger("verify-consistency", str(tmp_path / "old.note"), str(tmp_path / "new.note"),
                   "--proof", str(tmp_path / "proof.json"), "--ledger-key", vkey)
    assert ok.returncode == 0, ok.stderr

    leaf = json.loads(docledger("prove-inclusion", "--notification", "3", "--data", data).stdout)
    assert leaf["tree_size"] == int(new.split("\n")[1]) and leaf["proof"]

    audit = docledger("audit", "--checkpoint", str(tmp_path / "old.note"), "--json",
                      "--data", data)
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["checkpoints"] >= 2


def test_verify_consistency_refuses_a_forged_checkpoint(tmp_path: Path) -> None:
    data = str(tmp_path / "D")
    assert docledger("demo", "--data", data).returncode == 0
    vkey = docledger("checkpoint", "--vkey", "--data", data).stdout.strip()
    note = docledger("checkpoint", "--data", data).stdout
    size = note.split("\n")[1]
    forged = note.replace(note.split("\n")[2], "A" * 43 + "=")
    (tmp_path / "real.note").write_text(note)
    (tmp_path / "forged.note").write_text(forged)
    (tmp_path / "proof.json").write_text(json.dumps(
        {"old_size": int(size), "new_size": int(size), "proof": []}))
    bad = docledger("verify-consistency", str(tmp_path / "real.note"),
                    str(tmp_path / "forged.note"), "--proof", str(tmp_path / "proof.json"),
                    "--ledger-key", vkey)
    assert bad.returncode == 3 and "does not verify" in bad.stderr
