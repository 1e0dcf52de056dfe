"""The golden ledgers: history written by an older version of the code
(tests/assets/golden*/, each made once by ``python -m tests.golden.make``) must still
audit, verify and project with the code as it is now, and still take new commands.

The committed files are never changed: each test works on a copy. A folder added
beside the first (a later format version) is tested the same way.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.evidence.checkpoint import NoteKey
from domain.verification.bundle import verify_bundle
from infrastructure.ledger import run_audit, trust_anchors
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from tests.api.conftest import environment
from tests.schema_support import refuse_v2  # noqa: F401 - a fixture

ASSETS = Path(__file__).parent / "assets"
GOLDENS = sorted(p for p in ASSETS.glob("golden*") if (p / "manifest.json").exists())
DISTRICT_WEST = "000.02.31.H29"  # an agency of the golden ledger holding a live delivery


@pytest.fixture(params=GOLDENS, ids=lambda p: p.name)
def data(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    copy = tmp_path / "golden"
    shutil.copytree(request.param, copy)
    for key in (copy / "keys").rglob("*.key"):
        key.chmod(0o600)  # git keeps no modes but the executable bit
    return copy


@pytest.fixture
def manifest(data: Path) -> dict[str, Any]:
    return dict(json.loads((data / "manifest.json").read_text()))


def test_there_is_a_golden_ledger() -> None:
    assert GOLDENS and GOLDENS[0].name == "golden"


def docledger(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args, "--data", str(data)],
                          capture_output=True, text=True, timeout=120,
                          env=environment({}))


def settings_of(data: Path) -> Settings:
    return Settings(data=data, backend="sqlite")


def test_golden_ledger_audits_with_its_figures_anchored_by_the_saved_checkpoint(
        data: Path, manifest: dict[str, Any]) -> None:
    audit = docledger(data, "audit", "--checkpoint", str(data / "checkpoint.note"), "--json")
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    assert (report["events"], report["commands"]) == (manifest["events"], manifest["commands"])
    assert report["anchored"] == manifest["checkpoint"]["size"]
    assert report["latest_checkpoint"] == manifest["checkpoint"]["size"]


def test_golden_checkpoint_is_the_one_the_manifest_names(
        data: Path, manifest: dict[str, Any]) -> None:
    note = (data / "checkpoint.note").read_text()
    assert (data / "keys" / "ledger.checkpoint").read_text() == note
    _, size, root = note.splitlines()[:3]
    assert int(size) == manifest["checkpoint"]["size"]
    assert base64.b64decode(root).hex() == manifest["checkpoint"]["root"]


def test_golden_bundle_verifies_with_the_ledger_key(data: Path, manifest: dict[str, Any]) -> None:
    bundle = json.loads((data / "bundle.json").read_text())
    origin = (data / "checkpoint.note").read_text().splitlines()[0]
    _, ledger = trust_anchors(settings_of(data))
    summary = verify_bundle(bundle, NoteKey.from_public_key(origin, ledger).vkey())
    assert str(summary.document) == manifest["bundle_document"]


def test_golden_edxml_commands_keep_their_source_and_its_signature_result() -> None:
    data = ASSETS / "golden-v2"  # the first format with schema-2 commands; read only
    assert json.loads((data / "manifest.json").read_text())["format"] == 2
    bundle = json.loads((data / "bundle.json").read_text())
    sources = []
    for event in bundle["events"]:
        state = json.loads(base64.b64decode(event["state"]))
        payload = json.loads(base64.b64decode(state["envelope"]["payload"]))
        source = (payload.get("fields") or {}).get("source")
        if source is not None:
            assert payload["schema_version"] == 2
            sources.append(source)
    assert {s["signature"]["status"] for s in sources} == {"valid", "invalid", "absent"}
    for source in sources:  # the messages as received are still the ledger's
        held = data / "blobs" / "sha256" / source["sha256"][:2] / source["sha256"][2:]
        assert held.stat().st_size == source["size"]


def test_golden_ledger_views_rebuild_and_check(data: Path) -> None:
    rebuilt = docledger(data, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    checked = docledger(data, "check-views", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["identical"] is True


def test_golden_ledger_takes_new_commands_and_still_audits(
        data: Path, manifest: dict[str, Any]) -> None:
    settings = settings_of(data)
    service = bootstrap(settings)
    # a delivery still open: the bundle's document's (format 1), or the one named
    document = UUID(manifest.get("live_document", manifest["bundle_document"]))
    outcome = service.act(manifest.get("live_recipient", DISTRICT_WEST), "delivery.progress",
                          {"document": str(document), "note": "Tiếp tục xử lý"})
    assert outcome.events and not outcome.repeated
    service.log.issue_checkpoint(force=True)
    registrar, ledger = trust_anchors(settings)
    report = run_audit(service.app, registrar_key=registrar, ledger_key=ledger,
                       trusted_checkpoints=[(data / "checkpoint.note").read_text()])
    service.app.close()
    assert report.commands == manifest["commands"] + 1
    assert report.events == manifest["events"] + 1 + len(outcome.events)
    assert report.anchored == manifest["checkpoint"]["size"]
    checked = docledger(data, "check-views", "--json")
    assert checked.returncode == 0, checked.stderr


def test_golden_ledger_replays_its_version_1_commands_with_a_version_2_registered(
        data: Path, manifest: dict[str, Any], refuse_v2: None) -> None:  # noqa: F811
    settings = settings_of(data)
    service = bootstrap(settings)
    registrar, ledger = trust_anchors(settings)
    report = run_audit(service.app, registrar_key=registrar, ledger_key=ledger, workers=1,
                       trusted_checkpoints=[(data / "checkpoint.note").read_text()])
    service.app.close()
    assert (report.events, report.commands) == (manifest["events"], manifest["commands"])
