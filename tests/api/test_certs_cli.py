"""``docledger trust`` and ``docledger agency add-cert`` in this process: a CA
trusted, an agency's certificate registered, the agency sending with the
certificate's key, and the refusals with their exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli_support import run_cli
from tests.pki import TestPKI, pem_bundle

SENDER, RECIPIENT = "000.00.00.G22", "000.00.00.H41"


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, monkeypatch, *args)


def write(path: Path, data: bytes, mode: int = 0o644) -> str:
    path.write_bytes(data)
    os.chmod(path, mode)
    return str(path)


def test_trust_add_cert_then_send_with_the_certificate_key(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, pki: TestPKI) -> None:
    data = str(tmp_path / "D")

    def ok(*args: str) -> str:
        code, out, err = run(capsys, monkeypatch, *args, "--data", data)
        assert code == 0, err
        return out

    ok("init")
    for agency in (SENDER, RECIPIENT):
        ok("agency", "register", agency, f"Agency {agency}")
    root = write(tmp_path / "root.pem", pki.root.pem)
    ok("trust", "add", root)
    anchors = json.loads(ok("trust", "list", "--json"))
    assert [a["subject"] for a in anchors] == [pki.root.cert.subject.rfc4514_string()]
    chain = write(tmp_path / "chain.pem", pem_bundle(pki.intermediate))
    expired = write(tmp_path / "expired.pem", pki.expired.pem)
    code, _, err = run(capsys, monkeypatch, "agency", "add-cert", SENDER, expired,
                       "--chain", chain, "--data", data)
    assert code == 2 and "certificate-not-valid" in err
    cert = write(tmp_path / "agency.pem", pki.rsa.pem)
    added = json.loads(ok("agency", "add-cert", SENDER, cert, "--chain", chain, "--json"))
    assert added["result"]["algorithm"] == "rsa-pkcs1-sha256"
    key = write(tmp_path / "agency.key", pki.rsa.key_pem, 0o600)
    sent = json.loads(ok("send", "--as", SENDER, "--to", RECIPIENT, "--subject", "Về việc thử",
                         "--notation", "UBND", "--key", key, "--json"))
    history = json.loads(ok("history", sent["document"], "--json"))
    assert {e["keyid"] for e in history if e["signed_by"] == SENDER} == {
        added["result"]["keyid"]}
    refreshed = json.loads(ok("revocation", "refresh", "--json"))
    assert refreshed["result"]["recorded"] == 2  # the intermediate's CRL, one OCSP answer
    ok("trust", "remove", root, "--reason", "CA retired")
    assert json.loads(ok("trust", "list", "--json"))[0]["removed_at"] is not None
    ok("audit")
