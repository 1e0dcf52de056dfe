"""Witnessed publication with real witnesses: three ``docledger witness serve``
processes on loopback, a policy of two of them, one or two killed, and a ledger
whose data folder is restored from an older copy.

The witnesses are started once for the module; each test's ledger has an origin
of its own (a witness keeps one latest checkpoint per origin) and is added to
their lists of logs while they run.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.cli import app as cli_app
from api.cli_audit import audit, verify_consistency_cmd
from api.http.app import create_app
from api.session import LocalSession
from domain.errors import NotFoundError
from domain.evidence.checkpoint import NoteKey
from domain.evidence.cosignature import CosignerKey, cosignatures
from domain.evidence.keys import Ed25519Signer
from domain.evidence.policy import Policy, QuorumError
from domain.verification.bundle import verify_bundle
from domain.verification.bundle_parse import BundleError
from infrastructure.keyfiles import load_public_key, load_signer
from infrastructure.ledger import DataFolder
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from infrastructure.tiles import export_tiles
from tests.api.test_cli import docledger
from tests.factories import RECIPIENT, SENDER, World
from tests.waiting import wait_until
from tests.witness_support import RunningWitness, ToyLog, running_witnesses

NAMES = ("province", "axis", "inspectorate")


@pytest.fixture(scope="module")
def witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunningWitness]]:
    root = tmp_path_factory.mktemp("witnesses")
    with running_witnesses(root, [], names=[f"{n}.docledger.test/witness" for n in NAMES]) as w:
        yield w


@dataclass
class Witnessed:
    """A ledger with a witness policy over the module's witnesses."""

    world: World
    settings: Settings  # with the policy
    service: LedgerService
    policy: Policy
    policy_file: Path
    vkey: str

    def publish(self) -> int:
        """Sign a checkpoint of everything so far and offer it; the published size."""
        self.service.log.issue_checkpoint(force=True)
        published = self.service.log.publish()
        return 0 if published is None else published.size

    def act(self) -> dict[str, object]:
        """A command, accepted, with its receipt."""
        doc = self.world.draft()
        outcome = self.service.execute(self.world.signed(
            SENDER, "document.sign", {"document": doc, "signer": {"full_name": "Nguyễn Văn B"}}))
        return self.service.receipt(outcome)

    def reopen(self) -> None:
        self.service = bootstrap(self.settings)
        self.world.app = self.service.app

    def close(self) -> None:
        self.service.log.publisher.stop()
        self.service.close()


def policy_text(ledger_vkey: str, witnesses: list[RunningWitness], quorum: str = "2",
                keys: dict[str, str] | None = None) -> str:
    keys = keys or {}
    lines = [f"log {ledger_vkey}"]
    lines += [f"witness {name} {keys.get(name, w.vkey)} {w.url}"
              for name, w in zip(NAMES, witnesses, strict=True)]
    lines += [f"group agencies {quorum} {' '.join(NAMES)}", "quorum agencies"]
    return "\n".join(lines) + "\n"


def witnessed(tmp_path: Path, witnesses: list[RunningWitness], **policy: object) -> Witnessed:
    base = Settings(data=tmp_path / "data", backend="sqlite", checkpoint_seconds=0,
                    origin=f"docledger.test/{uuid.uuid4().hex[:12]}", witness_timeout=5)
    world = World.create(base)
    vkey = NoteKey.from_public_key(
        base.origin, load_public_key(DataFolder(base.data).ledger_key)).vkey()
    for w in witnesses:
        w.add_log(vkey)
    text = policy_text(vkey, witnesses, **policy)  # type: ignore[arg-type]
    policy_file = tmp_path / "witnesses.policy"
    policy_file.write_text(text)
    settings = base.model_copy(update={"witness_policy": policy_file})
    return Witnessed(world=world, settings=settings, service=bootstrap(settings, app=world.app),
                     policy=Policy.parse(text), policy_file=policy_file, vkey=vkey)


@pytest.fixture
def ledger(tmp_path: Path, witnesses: list[RunningWitness]) -> Iterator[Witnessed]:
    made = witnessed(tmp_path, witnesses)
    yield made
    made.close()
    for w in witnesses:
        w.start()  # a test that killed one leaves it running for the next


def leaf_of(receipt: dict[str, object]) -> str:
    payload = json.loads(base64.b64decode(receipt["payload"]))  # type: ignore[arg-type]
    return str(payload["events"][-1]["leaf_hash"])


# ---- (a) ----------------------------------------------------------------------------------


def test_published_checkpoints_carry_a_quorum_of_cosignatures_and_the_bundle_verifies(
        ledger: Witnessed, witnesses: list[RunningWitness]) -> None:
    doc = ledger.world.sent()
    size = ledger.publish()
    assert size == ledger.service.log.store.size()
    note = ledger.service.log.published_checkpoint().note  # type: ignore[union-attr]
    assert set(cosignatures(note, [w.key for w in witnesses])) == {w.name for w in witnesses}
    verdict = ledger.policy.check(note, NoteKey.parse(ledger.vkey))
    assert sorted(verdict.cosigned) == sorted(NAMES)

    bundle = LocalSession(ledger.service).bundle(None, uuid.UUID(doc))
    assert bundle["checkpoint"] == note
    steps: list[str] = []
    verify_bundle(bundle, ledger.vkey, lambda n, text: steps.append(text), policy=ledger.policy)
    assert "witness quorum 'agencies' met: cosigned by axis at " in steps[1]
    assert "inspectorate at " in steps[1] and "province at " in steps[1]


def test_monitor_with_a_policy_refuses_a_checkpoint_its_witnesses_did_not_cosign(
        ledger: Witnessed, witnesses: list[RunningWitness], tmp_path: Path) -> None:
    ledger.world.sent()
    ledger.publish()
    ledger.close()  # the monitor reads the data folder in a process of its own
    watched = docledger("monitor", "--agency", SENDER, "--data", str(ledger.settings.data),
                        "--policy", str(ledger.policy_file), "--json")
    assert watched.returncode in (0, 1), watched.stderr  # 1: the key registered is a finding
    verified = json.loads(watched.stdout)["verified"]
    assert any("witness quorum 'agencies' met" in line for line in verified)

    # a policy that trusts another key for the inspectorate and needs all three
    stranger = CosignerKey.from_public_key("inspectorate.docledger.test/witness",
                                           Ed25519Signer.generate().public_key).vkey()
    strict = tmp_path / "strict.policy"
    strict.write_text(policy_text(ledger.vkey, witnesses, quorum="all",
                                  keys={"inspectorate": stranger}))
    refused = docledger("monitor", "--agency", SENDER, "--data", str(ledger.settings.data),
                        "--policy", str(strict), "--json")
    assert refused.returncode == 2
    assert "missing inspectorate" in json.loads(refused.stdout)["log_misbehaving"]
    ledger.reopen()

    # the same two policies over the log's tiles, exported for a static server
    export_tiles(ledger.service, tmp_path / "tiles")
    def tiles_verify(policy: Path) -> Result:
        return CliRunner().invoke(cli_app, ["tiles", "verify", str(tmp_path / "tiles"),
                                            "--policy", str(policy)])
    assert "witness quorum 'agencies' met" in tiles_verify(ledger.policy_file).output
    assert isinstance(tiles_verify(strict).exception, QuorumError)  # the tool exits 3 on it


def test_the_server_publishes_what_another_process_signed(ledger: Witnessed) -> None:
    first = ledger.publish()
    with TestClient(create_app(ledger.settings)) as http:
        assert http.get("/readyz").json()["witnessing"]["published_size"] == first
        ledger.act()  # the command-line tool, say: it signs, and publishes nothing
        signed = ledger.service.log.store.latest_checkpoint()
        assert signed is not None
        assert ledger.service.log.store.latest_published().size < signed.size  # type: ignore[union-attr]
        assert wait_until(lambda: http.get("/readyz").json()["witnessing"]
                          ["published_size"] == signed.size, 10)


# ---- (b) ----------------------------------------------------------------------------------


def test_one_witness_down_publication_goes_on_two_down_commands_go_on_unpublished(
        ledger: Witnessed, witnesses: list[RunningWitness]) -> None:
    province, axis, _ = witnesses
    first = ledger.publish()
    province.kill()
    ledger.act()
    second = ledger.publish()
    assert second > first  # the axis and the inspectorate cosigned
    verdict = ledger.policy.check(ledger.service.log.published_checkpoint().note,  # type: ignore[union-attr]
                                  NoteKey.parse(ledger.vkey))
    assert verdict.missing == ["province"]

    axis.kill()
    receipt = ledger.act()  # accepted and receipted all the same
    assert ledger.publish() == second  # signed, but not published
    signed = ledger.service.log.store.latest_checkpoint()
    assert signed is not None and signed.size > second
    with pytest.raises(NotFoundError, match="not yet covered by a published checkpoint"):
        LocalSession(ledger.service).inclusion_proof(leaf_hash=leaf_of(receipt),
                                                     notification=None)

    with TestClient(create_app(ledger.settings)) as http:
        proof = http.get("/v1/log/inclusion", params={"leaf_hash": leaf_of(receipt)})
        assert proof.status_code == 404
        assert "not yet covered by a published checkpoint" in proof.json()["detail"]
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text  # lag alone: still ready
        # the server's own publisher asks in the background as soon as it starts
        assert wait_until(lambda: http.get("/readyz").json()["witnessing"]["witnesses"]
                          ["axis"]["refusals"] > 0, 10)
        found = http.get("/readyz").json()["witnessing"]
        assert (found["signed_size"], found["published_size"]) == (signed.size, second)
        assert found["lag_seconds"] > 0 and found["refused_history"] == []
        assert "unreachable" in found["witnesses"]["province"]["last_refusal"]["reason"]
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        lines = metrics.text.splitlines()
        assert f"docledger_checkpoint_signed_size {signed.size}" in lines
        assert f"docledger_checkpoint_published_size {second}" in lines
        assert any(line.startswith('docledger_witness_refusals_total{witness="axis"} ')
                   and not line.endswith(" 0") for line in lines)

        with ThreadPoolExecutor(2) as pool:  # back: the background publisher catches up
            list(pool.map(RunningWitness.start, (province, axis)))
        assert wait_until(lambda: http.get("/readyz").json()["witnessing"]
                          ["published_size"] == signed.size, 15)
        assert http.get("/v1/log/inclusion",
                        params={"leaf_hash": leaf_of(receipt)}).status_code == 200


# ---- (c) ----------------------------------------------------------------------------------


def test_rolled_back_database_gets_no_new_checkpoint_published(
        ledger: Witnessed, witnesses: list[RunningWitness], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    data = ledger.settings.data
    backed_up = ledger.publish()
    ledger.close()
    shutil.copytree(data, tmp_path / "backup")  # the operator's copy, keys and all
    ledger.reopen()
    for _ in range(2):
        ledger.world.sent(recipients=(RECIPIENT,))
    published = ledger.publish()
    assert published > backed_up

    ledger.close()  # the operator restores the copy
    shutil.rmtree(data)
    shutil.copytree(tmp_path / "backup", data)
    ledger.reopen()
    assert ledger.service.log.published_checkpoint().size == backed_up  # type: ignore[union-attr]
    ledger.act()  # a new command: the ledger signs a checkpoint it cannot know is stale
    with caplog.at_level(logging.ERROR, logger="docledger.witnessing"):
        assert ledger.publish() == backed_up  # nothing new is published
    refused = ledger.service.log.publisher.report()["refused_history"]
    assert sorted(r["witness"] for r in refused) == sorted(NAMES)
    assert all(f"size {published}, larger than this one" in r["reason"] for r in refused)
    for name in NAMES:
        assert any(name in r.getMessage() and "refused the ledger's checkpoint" in
                   r.getMessage() for r in caplog.records)

    for _ in range(4):  # more commands: a history that forks from the one witnessed
        ledger.world.sent(recipients=(RECIPIENT,))
    ledger.service.log.issue_checkpoint(force=True)
    forked = ledger.service.log.store.latest_checkpoint()
    assert forked is not None and forked.size > published  # signed: it cannot know
    assert ledger.publish() == backed_up
    refused = ledger.service.log.publisher.report()["refused_history"]
    assert sorted(r["witness"] for r in refused) == sorted(NAMES)
    assert all(r["status"] == 422 for r in refused)  # the proof from what they cosigned fails

    for w in witnesses:  # each keeps both checkpoints: what it cosigned, what it was offered
        kept = [e for e in httpx.get(f"{w.url}/evidence").json()
                if e["origin"] == ledger.settings.origin]
        assert kept and kept[-1]["offered_note"].startswith(
            forked.note.split("\n\n")[0])

    ledger.close()
    with TestClient(create_app(ledger.settings)) as http:  # the operator looks
        assert wait_until(lambda: len(http.get("/readyz").json()["witnessing"]
                                      ["refused_history"]) == 3, 10)
        ready = http.get("/readyz").json()["witnessing"]
        assert ready["published_size"] == backed_up
        assert "422" in ready["refused_history"][0]["reason"]
    ledger.reopen()


def test_a_witness_shown_a_forked_checkpoint_refuses_the_ledgers_and_keeps_the_evidence(
        ledger: Witnessed, witnesses: list[RunningWitness],
        caplog: pytest.LogCaptureFixture) -> None:
    # someone with the ledger's key shows the province another history first
    signer = load_signer(DataFolder(ledger.settings.data).ledger_key)
    other = ToyLog(ledger.settings.origin, signer).grow(3, "another history")
    province = witnesses[0]
    assert httpx.post(f"{province.url}/add-checkpoint", content=other.request(0)).is_success
    with caplog.at_level(logging.ERROR, logger="docledger.witnessing"):
        size = ledger.publish()
    assert size > other.size  # the axis and the inspectorate cosigned the ledger's
    verdict = ledger.policy.check(ledger.service.log.published_checkpoint().note,  # type: ignore[union-attr]
                                  NoteKey.parse(ledger.vkey))
    assert verdict.missing == ["province"]
    refused = ledger.service.log.publisher.report()["refused_history"]
    assert [(r["witness"], r["status"]) for r in refused] == [("province", 422)]
    assert "witness province refused the ledger's checkpoint" in caplog.text
    kept = [e for e in httpx.get(f"{province.url}/evidence").json()
            if e["origin"] == ledger.settings.origin]
    assert kept[-1]["cosigned_note"].startswith(other.checkpoint().split("\n\n")[0])
    signed = ledger.service.log.store.latest_checkpoint()
    assert signed is not None and kept[-1]["offered_note"].startswith(
        signed.note.split("\n\n")[0])  # both histories, each signed with the ledger's key


# ---- (d) ----------------------------------------------------------------------------------


def test_checkpoint_without_quorum_fails_naming_the_missing_witnesses(
        ledger: Witnessed, witnesses: list[RunningWitness], tmp_path: Path) -> None:
    doc = ledger.world.sent()
    ledger.publish()
    bundle = LocalSession(ledger.service).bundle(None, uuid.UUID(doc))
    text, _, block = bundle["checkpoint"].partition("\n\n")
    ledger_line, province_line = block.splitlines()[:2]
    assert province_line.startswith("— province")
    bundle["checkpoint"] = f"{text}\n\n{ledger_line}\n{province_line}\n"  # one cosignature

    with pytest.raises(BundleError, match="cosigned by province; missing axis, inspectorate"):
        verify_bundle(bundle, ledger.vkey, policy=ledger.policy)
    path = tmp_path / "one.json"
    path.write_text(json.dumps(bundle))
    failed = docledger("verify-bundle", str(path), "--policy", str(ledger.policy_file))
    assert failed.returncode == 3
    assert "missing axis, inspectorate" in failed.stdout + failed.stderr

    # the same checkpoint, kept as a note, fails the other verifiers' --policy too
    old, new = tmp_path / "old.note", tmp_path / "new.note"
    first = ledger.service.log.store.published()[0]
    old.write_text(first.note)
    new.write_text(bundle["checkpoint"])
    proof = tmp_path / "proof.json"
    size = int(text.split("\n")[1])
    proof.write_text(json.dumps(LocalSession(ledger.service).consistency_proof(first.size, size)))
    with pytest.raises(QuorumError, match="cosigned by province; missing axis, inspectorate"):
        verify_consistency_cmd(old, new, proof, policy_file=ledger.policy_file)
    with pytest.raises(QuorumError, match="missing axis, inspectorate"):
        audit(data=ledger.settings.data, trusted=[new], policy_file=ledger.policy_file)
    new.write_text(ledger.service.log.store.latest_published().note)  # type: ignore[union-attr]
    verify_consistency_cmd(old, new, proof, policy_file=ledger.policy_file)
    audit(data=ledger.settings.data, trusted=[new], policy_file=ledger.policy_file,
          as_json=True)


# ---- (e) ----------------------------------------------------------------------------------


def test_a_cosignature_by_a_key_not_in_the_policy_is_not_counted(
        tmp_path: Path, witnesses: list[RunningWitness]) -> None:
    # the policy expects the inspectorate's cosignature under another key: its real
    # one (which it answers with) is not the policy's
    other = CosignerKey.from_public_key(witnesses[2].name, Ed25519Signer.generate().public_key)
    made = witnessed(tmp_path, witnesses, quorum="all", keys={"inspectorate": other.vkey()})
    try:
        made.world.sent()
        assert made.publish() == 0  # two of three valid: 'all' is not met
        state = made.service.log.publisher.report()["witnesses"]
        assert state["axis"]["last_success"] and state["province"]["last_success"]
        assert "no valid cosignature by its key in the policy" in \
            state["inspectorate"]["last_refusal"]["reason"]
    finally:
        made.close()
