"""``docledger search``: what the agency sent or received, found without diacritics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.test_revise_cli import run

SENDER, RECIPIENT, OTHER = "000.00.00.G22", "000.00.00.H41", "000.00.00.H42"


def test_search_finds_a_received_document_without_diacritics(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    data = str(tmp_path / "D")
    assert run(capsys, monkeypatch, "init", "--data", data)[0] == 0
    for code in (SENDER, RECIPIENT, OTHER):
        assert run(capsys, monkeypatch, "agency", "register", code, f"UBND {code}",
                   "--data", data)[0] == 0
    code, out, err = run(capsys, monkeypatch, "send", "--as", SENDER, "--to", RECIPIENT,
                         "--subject", "Quyết định về xã Đông Sơn", "--notation", "QĐ-UBND",
                         "--data", data)
    assert code == 0, err
    doc = out.strip()

    code, out, err = run(capsys, monkeypatch, "search", "--as", RECIPIENT, "quyet dinh dong son",
                         "--data", data, "--json")
    assert code == 0, err
    assert [r["document_id"] for r in json.loads(out)] == [doc]
    code, out, _ = run(capsys, monkeypatch, "search", "--as", OTHER, "dong son", "--data", data,
                       "--json")
    assert code == 0 and json.loads(out) == []
    code, out, err = run(capsys, monkeypatch, "search", "--as", RECIPIENT, "dong son",
                         "--data", data)
    assert code == 0 and "Đông Sơn" in out, err
    code, _, err = run(capsys, monkeypatch, "search", "--as", RECIPIENT, "x" * 201,
                       "--data", data)
    assert code != 0 and "at most 200 characters" in err
