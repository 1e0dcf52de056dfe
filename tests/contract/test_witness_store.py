"""A witness in-process (infrastructure.witness_folder and witness_store): what it keeps,
what it serves, and what it does when its clock or its list of logs goes wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.evidence.cosignature import AddCheckpoint, CosignerKey, cosign, cosignatures
from domain.evidence.keys import Ed25519Signer
from domain.evidence.witness import Accept, Refused, check_signature, origin_hash, parse_request
from infrastructure.ledger import open_log
from infrastructure.witness_folder import Witness, WitnessFolder
from infrastructure.witness_store import WitnessStore
from tests.factories import World
from tests.witness_support import ToyLog


@pytest.fixture
def log() -> ToyLog:
    return ToyLog("store.log.test/ledger").grow(4)


@pytest.fixture
def witness(tmp_path: Path, log: ToyLog) -> Witness:
    folder = WitnessFolder(tmp_path / "W")
    folder.init("w.test/w1", [log.vkey])
    return Witness(folder)


def submit(witness: Witness, body: bytes, now: int) -> tuple[object, str | None]:
    request = parse_request(body)
    assert not isinstance(request, Refused)
    submission = check_signature(request, witness.logs())
    assert not isinstance(submission, Refused)
    return witness.store.submit(submission, body, witness.cosign, now)


def test_a_clock_stepped_back_never_dates_a_larger_tree_earlier(
        witness: Witness, log: ToyLog) -> None:
    first, lines = submit(witness, log.request(0), now=2_000_000_000)
    assert isinstance(first, Accept) and lines is not None
    log.grow(2)
    second, later = submit(witness, log.request(4), now=1_000_000_000)
    assert isinstance(second, Accept) and later is not None
    assert cosignatures(log.checkpoint() + later, [witness.key]) == {"w.test/w1": 2_000_000_000}


def test_forged_cosignature_lines_in_a_submission_are_not_served(
        witness: Witness, log: ToyLog) -> None:
    """A submitter adds a cosignature line that names another witness and does not
    verify: served on, it would make the witness's checkpoint malformed for every
    verifier that trusts that other witness."""
    other_signer = Ed25519Signer.generate()
    other = CosignerKey.from_public_key("other.test/w", other_signer.public_key)
    note = log.checkpoint()
    forged = cosign(note.split("\n\n")[0] + "\n", other, other_signer, 1)
    forged = forged[:-6] + ("A" if forged[-6] != "A" else "B") + forged[-5:]
    body = AddCheckpoint(old_size=0, proof=[], note=note + forged).encode()
    decision, lines = witness.add_checkpoint(body)
    assert isinstance(decision, Accept) and lines is not None
    latest = witness.store.latest(origin_hash(log.key.name))
    assert latest is not None and latest.note == note + lines
    assert "other.test/w" not in latest.note
    assert cosignatures(latest.note, [other]) == {}


def test_a_list_of_logs_edited_into_nonsense_leaves_the_last_good_one(
        witness: Witness, log: ToyLog, caplog: pytest.LogCaptureFixture) -> None:
    witness.folder.logs_file.write_text("log nonsense\n")
    assert witness.logs().keys_for(log.key.name) == [log.key]
    assert "previous list of logs stays in force" in caplog.text
    newer = ToyLog("newer.log.test/ledger")
    witness.folder.logs_file.write_text(f"log {newer.vkey}\n")
    assert witness.logs().origins() == {newer.key.name}


def test_evidence_is_kept_once_per_pair_of_notes(witness: Witness, log: ToyLog) -> None:
    assert isinstance(witness.add_checkpoint(log.request(0))[0], Accept)
    fork = ToyLog(log.key.name, log.signer).grow(4, "other")
    for _ in range(3):
        decision, _ = witness.add_checkpoint(fork.request(4))
        assert isinstance(decision, Refused) and decision.status == 422
    kept = WitnessStore(witness.folder.db_file).evidence(origin_hash(log.key.name))
    assert [(k.evidence.kind, k.evidence.offered_note) for k in kept] == [
        ("fork", fork.checkpoint())]
    assert kept[0].request == fork.request(4).decode()
    assert WitnessStore(witness.folder.db_file).evidence(origin_hash("other")) == []


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_ledgers_own_checkpoints_and_proofs_are_cosigned(world: World,
                                                             tmp_path: Path) -> None:
    """The ledger's signed checkpoints and its consistency proofs, as they are."""
    log = open_log(world.settings, world.app)
    log.checkpoint_every = 1
    first = log.issue_checkpoint()
    world.sent()
    second = log.issue_checkpoint()
    assert first is not None and second is not None and second.size > first.size
    folder = WitnessFolder(tmp_path / "W")
    folder.init("w.test/w1", [log.note_key.vkey()])
    witness = Witness(folder)
    for old, new in ((0, first), (first.size, second)):
        proof = log.consistency_proof(old, new.size) if old else []
        body = AddCheckpoint(old_size=old, proof=proof, note=new.note).encode()
        decision, lines = witness.add_checkpoint(body)
        assert isinstance(decision, Accept), decision
        assert lines is not None and cosignatures(new.note + lines, [witness.key])
