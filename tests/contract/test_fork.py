"""Forking history: an operator rebuilds the store with another history and signs
it with the real ledger key. An auditor's saved checkpoint exposes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domain.errors import AuditFailure, VerificationError
from domain.evidence.checkpoint import NoteKey, open_checkpoint
from domain.evidence.consistency import check_consistency
from domain.evidence.merkle import ProofError
from domain.exchange.signing import sign_command
from infrastructure.keyfiles import load_public_key, load_signer
from infrastructure.ledger import DataFolder, open_ledger, open_log, run_audit, trust_anchors
from infrastructure.log_store import StoredCheckpoint
from infrastructure.settings import Settings
from tests.factories import OTHER, RECIPIENT, SENDER, ManualClock, World


def forged_world(original: Settings, target: Path) -> World:
    """A second store holding the real ledger and registrar keys, and other history.

    Only the keys are copied, not the checkpoint the ledger remembers beside them:
    a second ledger run with the same key is what outside witnesses must catch."""
    shutil.copytree(original.data / "keys", target / "keys",
                    ignore=shutil.ignore_patterns("ledger.checkpoint*"))
    settings = Settings(data=target)
    clock = ManualClock()
    app = open_ledger(settings, clock=clock)
    registrar = load_signer(DataFolder(target).registrar_key)
    app.execute(sign_command(registrar, "ledger.init", {
        "origin": original.origin,
        "registrar_key": registrar.public_key.to_spec(),
        "ledger_key": load_public_key(DataFolder(target).ledger_key).to_spec(),
        "max_clock_skew_seconds": original.max_clock_skew_seconds,
    }, agency="registrar", staff="init", issued_at=clock()))
    world = World(app=app, settings=settings, registrar=registrar)
    for code in (SENDER, RECIPIENT, OTHER):
        world.register(code)
    return world


@pytest.fixture
def saved_and_forged(world: World, tmp_path: Path) -> tuple[StoredCheckpoint, World]:
    doc = world.sent(recipients=(RECIPIENT, OTHER))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    saved = open_log(world.settings, world.app).issue_checkpoint(force=True)
    assert saved is not None
    forged = forged_world(world.settings, tmp_path / "forged")
    for _ in range(3):  # a longer, different history: the refusal never happened
        forged.sent(recipients=(OTHER,))
    return saved, forged


def test_forked_history_signed_with_real_key_fails_consistency(
    saved_and_forged: tuple[StoredCheckpoint, World],
) -> None:
    saved, forged = saved_and_forged
    log = open_log(forged.settings, forged.app)
    forged_checkpoint = log.issue_checkpoint(force=True)
    assert forged_checkpoint is not None and forged_checkpoint.size > saved.size
    vkey = log.note_key.vkey()
    # the forged checkpoint is genuinely signed by the ledger key …
    assert open_checkpoint(forged_checkpoint.note, NoteKey.parse(vkey)).size > saved.size
    proof = {"old_size": saved.size, "new_size": forged_checkpoint.size,
             "proof": [h.hex() for h in log.consistency_proof(saved.size,
                                                              forged_checkpoint.size)]}
    # … but it does not extend what the auditor saw
    with pytest.raises(ProofError):
        check_consistency(saved.note, forged_checkpoint.note, proof, vkey)


def test_forked_history_fails_audit_against_saved_checkpoint(
    saved_and_forged: tuple[StoredCheckpoint, World],
) -> None:
    saved, forged = saved_and_forged
    registrar_key, ledger_key = trust_anchors(forged.settings)
    run_audit(forged.app, registrar_key=registrar_key, ledger_key=ledger_key)  # self-consistent
    with pytest.raises(AuditFailure, match="not the one its signed checkpoint signs"):
        run_audit(forged.app, registrar_key=registrar_key, ledger_key=ledger_key,
                  trusted_checkpoints=[saved.note])


def test_ledger_refuses_to_sign_a_checkpoint_inconsistent_with_its_last(
    saved_and_forged: tuple[StoredCheckpoint, World],
) -> None:
    saved, forged = saved_and_forged
    log = open_log(forged.settings, forged.app)
    log.store.save_checkpoint(saved)  # the ledger's record says it signed the honest one
    with pytest.raises(VerificationError, match="refusing to sign"):
        log.issue_checkpoint(force=True)
    assert log.store.latest_checkpoint() == saved
