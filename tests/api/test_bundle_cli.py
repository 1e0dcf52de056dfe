"""``docledger bundle`` and ``verify-bundle`` as real processes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.api.test_cli import docledger


def test_bundle_of_the_demo_document_verifies_offline_and_a_flipped_byte_fails(
        tmp_path: Path) -> None:
    data = tmp_path / "D"
    demo = docledger("demo", "--data", str(data))
    assert demo.returncode == 0, demo.stderr
    doc = demo.stdout.strip().splitlines()[-1].split("history ")[1].split()[0]
    out = tmp_path / "bundle.json"
    made = docledger("bundle", doc, "-o", str(out), "--data", str(data))
    assert made.returncode == 0, made.stderr
    vkey = docledger("checkpoint", "--vkey", "--data", str(data)).stdout.strip()
    (tmp_path / "ledger.vkey").write_text(vkey + "\n")

    ok = docledger("verify-bundle", str(out), "--ledger-key", str(tmp_path / "ledger.vkey"))
    assert ok.returncode == 0, ok.stderr
    lines = [line for line in ok.stdout.splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in lines] == [f"step {n}" for n in range(1, 12)]
    assert "inclusion proofs verified against checkpoint of size" in lines[2]
    # the demo's plan is a PDF signed with the department's certificate
    assert "ke-hoach-chuyen-doi-so.pdf" in lines[10] and "not re-checked" in lines[10]
    pdf = data / "demo-attachments" / "ke-hoach-chuyen-doi-so.pdf"
    again = docledger("verify-bundle", str(out), "--ledger-key", str(tmp_path / "ledger.vkey"),
                      "--attachment", str(pdf))
    assert again.returncode == 0, again.stderr
    assert "1 signature(s) re-checked as of" in again.stdout
    assert "valid, coverage entire-file" in again.stdout
    as_json = json.loads(docledger("verify-bundle", str(out), "--ledger-key", vkey,
                                   "--json").stdout)
    assert as_json["ok"] and as_json["summary"]["document"] == doc

    bundle = json.loads(out.read_text())
    state = bytearray(base64.b64decode(bundle["events"][-1]["state"]))
    state[10] ^= 0x01
    bundle["events"][-1]["state"] = base64.b64encode(bytes(state)).decode()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle))
    failed = docledger("verify-bundle", str(bad), "--ledger-key", vkey)
    assert failed.returncode == 3
    assert "invalid-bundle" in failed.stderr and "step 3 (inclusion) failed" in failed.stderr
    assert "step 2:" in failed.stdout and "step 3:" not in failed.stdout


def test_verify_bundle_checks_the_checkpoint_time_stamp_against_the_tsa_certificates(
        tmp_path: Path) -> None:
    from domain.evidence.checkpoint import NoteKey, open_checkpoint
    from tests.domain.test_bundle_verify import Ledger
    from tests.tsa import LocalTSA

    ledger, tsa, impostor = Ledger(), LocalTSA(), LocalTSA("Test TSA", keys="impostor")
    bundle = ledger.bundle()
    body = open_checkpoint(bundle["checkpoint"], NoteKey.parse(ledger.vkey)).body()
    stamped = tmp_path / "stamped.json"
    stamped.write_text(json.dumps({**bundle, "checkpoint_timestamp": base64.b64encode(
        tsa.token(body)).decode()}))
    trusted = tmp_path / "tsa.pem"  # a PEM bundle: another TSA's root, then this one's
    trusted.write_bytes(impostor.ca_pem + tsa.ca_pem)

    ok = docledger("verify-bundle", str(stamped), "--ledger-key", ledger.vkey,
                   "--tsa-cert", str(trusted), "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    time = report["summary"]["checkpoint_timestamp"]
    assert time["checked"] and time["tsa"] == "CN=Test TSA,O=Test TSA Operator,C=VN"
    assert {"step": 2, "text": f"checkpoint of size {report['summary']['checkpoint_size']} "
            f"existed no later than {time['no_later_than']}, per TSA {time['tsa']}"} \
        in report["steps"]

    text = docledger("verify-bundle", str(stamped), "--ledger-key", ledger.vkey,
                     "--tsa-cert", str(trusted)).stdout
    assert f"step 2: checkpoint of size {report['summary']['checkpoint_size']} existed no " \
        f"later than {time['no_later_than']}, per TSA {time['tsa']}" in text
    assert f"which existed no later than {time['no_later_than']}, per TSA" in text
    assert text.rstrip().endswith(f"per TSA {time['tsa']}")

    untrusted = tmp_path / "impostor.pem"
    untrusted.write_bytes(impostor.ca_pem)
    failed = docledger("verify-bundle", str(stamped), "--ledger-key", ledger.vkey,
                       "--tsa-cert", str(untrusted))
    assert failed.returncode == 3, failed.stderr
    assert "step 2 (checkpoint) failed: the checkpoint's time-stamp does not verify" in \
        failed.stderr and "does not chain to a trusted certificate" in failed.stderr
    assert "Traceback" not in failed.stderr
