"""Publishing without witnesses, on both backends: every signed checkpoint is
published as it is signed (and, on a ledger older than publishing, on first use);
the trusted-time hook; and a policy that is not this ledger's."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.routes.metrics import exposition
from domain.evidence.checkpoint import NoteKey
from domain.evidence.cosignature import CosignerKey
from domain.evidence.keys import Ed25519Signer
from domain.evidence.policy import PolicyError
from domain.verification.bundle import verify_bundle
from infrastructure.bundle import build_bundle
from infrastructure.ledger import check_witness_policy, open_log
from infrastructure.settings import Settings
from tests.conftest import PG
from tests.factories import World
from tests.tsa import local_tsa


def delete_published(world: World) -> None:
    """What a ledger made before publishing existed has: no published rows."""
    if world.settings.backend == "postgres":
        with psycopg.connect(**PG) as conn:
            conn.execute(f'DELETE FROM "{world.settings.pg_schema}".ledger_published')
        return
    with sqlite3.connect(world.settings.data / "ledger.sqlite") as conn:
        conn.execute("DELETE FROM ledger_published")
    conn.close()


def test_without_witnesses_every_signed_checkpoint_is_published_as_signed(
        world: World) -> None:
    log = open_log(world.settings, world.app)
    assert log.publisher.immediate
    first = log.issue_checkpoint(force=True)
    world.sent()
    second = log.issue_checkpoint(force=True)
    assert first is not None and second is not None
    published = log.store.published()
    assert [(p.size, p.note, p.published_at) for p in published] == [
        (c.size, c.note, c.issued_at) for c in (first, second)]
    assert log.published_checkpoint() == published[-1]
    assert published[-1].timestamp_token is None


def test_a_ledger_older_than_publishing_publishes_its_checkpoints_on_first_use(
        world: World) -> None:
    log = open_log(world.settings, world.app)
    signed = [log.issue_checkpoint(force=True)]
    world.sent()
    signed.append(log.issue_checkpoint(force=True))
    delete_published(world)
    assert log.store.latest_published() is None
    latest = open_log(world.settings, world.app).published_checkpoint()
    assert latest is not None and latest.note == signed[-1].note  # type: ignore[union-attr]
    assert [p.size for p in log.store.published()] == [c.size for c in signed]  # type: ignore[union-attr]


def test_a_trusted_time_token_is_stored_with_the_published_checkpoint_and_bundled(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    bodies: list[str] = []

    def stamp(body: str) -> bytes:
        bodies.append(body)
        return b"DER token over " + body.encode()

    log = open_log(world.settings, world.app, stamp=stamp)
    assert not log.publisher.immediate  # a stamp is asked for outside the command's path
    doc = world.sent()
    bundle = build_bundle(world.app, log, UUID(doc))
    published = log.store.latest_published()
    assert published is not None and published.timestamp_token == b"DER token over " + \
        bodies[0].encode()
    assert bodies[0] == bundle["checkpoint"].split("\n\n")[0] + "\n"  # the three lines
    assert bundle["checkpoint_timestamp"]

    def broken(body: str) -> bytes:
        raise OSError("the time-stamping authority does not answer")

    log = open_log(world.settings, world.app, stamp=broken)
    world.sent()
    log.issue_checkpoint(force=True)
    with caplog.at_level(logging.WARNING, logger="docledger.witnessing"):
        later = log.publish()
    assert later is not None and later.size > published.size
    assert later.timestamp_token is None
    assert "without a time-stamp token" in caplog.text


def test_a_ledger_given_a_tsa_publishes_time_stamped_checkpoints_that_verify_offline(
        world: World, tmp_path: Path) -> None:
    with local_tsa() as tsa:
        certs = tmp_path / "tsa.pem"
        certs.write_bytes(tsa.ca_pem)
        settings = world.settings.model_copy(update={"tsa_url": tsa.url, "tsa_certs": certs})
        log = open_log(settings, world.app)
        doc = world.sent()
        bundle = build_bundle(world.app, log, UUID(doc))
    steps: list[str] = []
    verify_bundle(bundle, log.note_key.vkey(), lambda n, text: steps.append(text),
                  tsa_certs=[tsa.ca_pem])
    assert any("existed no later than" in step for step in steps)


def test_a_witness_policy_of_another_ledger_is_refused_at_startup(
        world: World, tmp_path: pytest.TempPathFactory) -> None:
    other = NoteKey.from_public_key(world.app.root().origin, Ed25519Signer.generate().public_key)
    witness = CosignerKey.from_public_key("w.test/w", Ed25519Signer.generate().public_key)
    policy = tmp_path / "other.policy"  # type: ignore[operator]
    policy.write_text(f"log {other.vkey()}\nwitness w {witness.vkey()} http://127.0.0.1:9\n"
                      "quorum w\n")
    settings = world.settings.model_copy(update={"witness_policy": policy})
    with pytest.raises(PolicyError, match="is not this ledger's: its log line names"):
        open_log(settings, world.app)
    with pytest.raises(PolicyError, match="is not this ledger's"):
        check_witness_policy(settings)  # what 'docledger serve' asks before it listens
    policy.write_text(f"witness w {witness.vkey()}\nquorum w\n")  # no URL: cannot be asked
    with pytest.raises(PolicyError, match="witness w has no URL"):
        open_log(settings, world.app)


def test_settings_without_a_policy_publish_as_before() -> None:
    assert Settings().witness_policy is None and Settings().witness_timeout == 5


def test_without_witnesses_readyz_and_metrics_show_everything_signed_as_published(
        world: World) -> None:
    with TestClient(create_app(world.settings)) as http:
        assert http.get("/v1/log/checkpoint").status_code == 200  # signs the first
        ready = http.get("/readyz")
        assert ready.status_code == 200
        found = ready.json()["witnessing"]
        assert found["quorum"] == "none" and found["witnesses"] == {}
        assert found["signed_size"] == found["published_size"] > 0
        assert found["lag_seconds"] == 0.0
        lines = http.get("/metrics").text.splitlines()
        assert f"docledger_checkpoint_published_size {found['published_size']}" in lines
        assert "docledger_publication_lag_seconds 0.0" in lines
        listed = http.get("/v1/log/checkpoints").json()["checkpoints"]
        assert [c["size"] for c in listed] == [found["published_size"]]


def test_metrics_escape_a_witness_name_as_the_text_format_says() -> None:
    text = exposition({"signed_size": 3, "published_size": 2, "lag_seconds": 1.5,
                       "witnesses": {'a "b"\\c': {"last_success": None, "refusals": 4}},
                       "refused_history": []})
    assert 'docledger_witness_refusals_total{witness="a \\"b\\"\\\\c"} 4' in text.splitlines()
    assert "docledger_publication_lag_seconds 1.5" in text.splitlines()


def test_a_process_without_the_policy_cannot_publish_unwitnessed_checkpoints_on_a_witnessed_ledger(
        world: World) -> None:
    stamped = open_log(world.settings, world.app, stamp=lambda body: b"token")
    world.sent()
    assert stamped.issue_checkpoint(force=True) is not None
    witnessed = stamped.publish()
    assert witnessed is not None and witnessed.timestamp_token == b"token"
    assert [mode for mode, _ in stamped.store.deferred()] == ["time-stamp"]

    plain = open_log(world.settings, world.app)  # started without the policy
    assert plain.publisher.immediate
    world.sent()
    signed = plain.issue_checkpoint(force=True)
    assert signed is not None and signed.size > witnessed.size
    plain.store.publish_signed()  # the catch-up of a ledger older than publishing
    assert plain.published_checkpoint() == witnessed
    assert [p.size for p in plain.store.published()] == [witnessed.size]
    assert stamped.publish() is not None  # its own publisher still publishes it
    assert plain.published_checkpoint().size == signed.size  # type: ignore[union-attr]
