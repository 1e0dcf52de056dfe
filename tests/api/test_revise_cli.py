"""``docledger revise`` in this process: an update that adds and removes recipients,
a replacement with new files, and a revision that changes nothing refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from uuid import UUID

import pytest

from domain.exchange.document import Document
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from tests.cli_support import run_cli

SENDER, KEPT, DROPPED, ADDED = ("000.00.00.G22", "000.00.00.H41", "000.00.00.H42",
                                "000.00.00.H43")


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, monkeypatch, *args)


@pytest.fixture
def sent(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         tmp_path: Path) -> tuple[Path, str]:
    data = str(tmp_path / "D")
    assert run(capsys, monkeypatch, "init", "--data", data)[0] == 0
    for code in (SENDER, KEPT, DROPPED, ADDED):
        assert run(capsys, monkeypatch, "agency", "register", code, f"Agency {code}",
                   "--data", data)[0] == 0
    code, out, err = run(capsys, monkeypatch, "send", "--as", SENDER, "--to", KEPT, "--to",
                         DROPPED, "--subject", "Về việc thử", "--notation", "UBND",
                         "--data", data)
    assert code == 0, err
    return Path(data), out.strip()


def recipients(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
               data: Path, doc: str) -> dict[str, str]:
    code, out, err = run(capsys, monkeypatch, "status", doc, "--data", str(data), "--json")
    assert code == 0, err
    last: dict[str, str] = {}
    for entry in json.loads(out)["timeline"]:  # in order: the latest step of each
        last[entry["recipient"]] = entry["event"]
    return last


def test_revise_adds_and_removes_recipients(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        sent: tuple[Path, str]) -> None:
    data, doc = sent
    code, out, err = run(capsys, monkeypatch, "revise", doc, "--as", SENDER, "--reason",
                         "Sửa nơi nhận", "--add-recipient", ADDED, "--remove-recipient",
                         DROPPED, "--data", str(data), "--json")
    assert code == 0, err
    result = json.loads(out)["result"]
    assert (result["added"], result["removed"]) == ([ADDED], [DROPPED])
    states = recipients(capsys, monkeypatch, data, doc)
    assert states[DROPPED] == "Removed" and states[ADDED] == "Arrived"
    assert states[KEPT] != "Removed"


def test_revise_replaces_the_files(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        sent: tuple[Path, str], tmp_path: Path) -> None:
    data, doc = sent
    new = tmp_path / "thay-the.pdf"
    new.write_bytes(b"%PDF-1.7 the replacement")
    code, _, err = run(capsys, monkeypatch, "revise", doc, "--as", SENDER, "--replace",
                       "--reason", "Thay thế", "--attach", str(new), "--data", str(data))
    assert code == 0, err
    service = bootstrap(Settings(data=data))
    try:
        document = service.app.lookup(Document, UUID(doc), to_change=False)
        assert document is not None and document.revision == 1
        assert [(a["name"], a["sha256"]) for a in document.attachments] == [
            ("thay-the.pdf", hashlib.sha256(new.read_bytes()).hexdigest())]
    finally:
        service.close()


def test_revise_that_changes_nothing_is_refused_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        sent: tuple[Path, str]) -> None:
    data, doc = sent
    code, _, before = run(capsys, monkeypatch, "history", doc, "--data", str(data), "--json")
    code, _, err = run(capsys, monkeypatch, "revise", doc, "--as", SENDER, "--reason", "Không",
                       "--data", str(data))
    assert code == 2 and "a revision changes the" in " ".join(err.split())
    _, _, after = run(capsys, monkeypatch, "history", doc, "--data", str(data), "--json")
    assert after == before


def test_revise_by_a_recipient_is_forbidden(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        sent: tuple[Path, str]) -> None:
    data, doc = sent
    code, _, err = run(capsys, monkeypatch, "revise", doc, "--as", KEPT, "--reason", "Giả mạo",
                       "--remove-recipient", DROPPED, "--data", str(data))
    assert code != 0 and "forbidden" in err
    assert recipients(capsys, monkeypatch, data, doc)[DROPPED] != "Removed"
