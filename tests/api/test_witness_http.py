"""A witness as a real ``witness serve`` process, over HTTP (c2sp.org/tlog-witness):
every status code of the spec, cosignatures that verify, forks and rollbacks kept as
evidence, the spec's race between two submissions, and state kept across a crash.

One witness process serves the whole module; each test brings a log of its own
(trusted while the witness runs), so the tests do not share a log's state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.witness_app import create_witness_app
from domain.evidence.checkpoint import Checkpoint, open_checkpoint, sign_note
from domain.evidence.cosignature import AddCheckpoint, cosignatures
from domain.evidence.witness import origin_hash
from infrastructure.witness_folder import WitnessFolder
from tests.witness_support import (
    RunningWitness,
    ToyLog,
    docledger,
    free_port,
    running_witnesses,
)

TLOG_SIZE = "text/x.tlog.size"


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWitness]:
    root = tmp_path_factory.mktemp("witnesses")
    with running_witnesses(root, [], names=["witness.docledger.test/w1"]) as (w,):
        yield w


@pytest.fixture
def http(witness: RunningWitness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=witness.url, timeout=10) as client:
        yield client


def new_log(witness: RunningWitness, name: str, size: int = 0) -> ToyLog:
    log = ToyLog(f"{name}.log.test/ledger").grow(size)
    witness.add_log(log.vkey)
    return log


def add(http: httpx.Client, body: bytes) -> httpx.Response:
    return http.post("/add-checkpoint", content=body)


def test_cosignature_verifies_with_the_witness_vkey(
        witness: RunningWitness, http: httpx.Client) -> None:
    log = new_log(witness, "cosigned", 5)
    before = int(time.time())
    answer = add(http, log.request(0))
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("\u2014 witness.docledger.test/w1 ")
    assert answer.text.endswith("\n") and answer.text.count("\n") == 1
    times = cosignatures(log.checkpoint() + answer.text, [witness.key])
    assert before <= times[witness.name] <= int(time.time()) + 1

    log.grow(6)
    answer = add(http, log.request(5))
    assert answer.status_code == 200, answer.text
    served = http.get(f"/{origin_hash(log.key.name)}/checkpoint")
    assert served.status_code == 200
    assert open_checkpoint(served.text, log.key).size == 11
    assert witness.name in cosignatures(served.text, [witness.key])
    assert served.text == log.checkpoint() + answer.text


def test_every_refusal_has_the_spec_status(witness: RunningWitness, http: httpx.Client) -> None:
    log = new_log(witness, "statuses", 4)
    stranger, impostor = ToyLog("unknown.test/log").grow(2), ToyLog(log.key.name).grow(4)
    assert add(http, stranger.request(0)).status_code == 404
    assert add(http, impostor.request(0)).status_code == 403
    assert add(http, log.request(5, proof=[])).status_code == 400
    assert add(http, b"old 1\n").status_code == 400
    assert add(http, log.request(0, proof=[bytes(32)])).status_code == 422
    empty = sign_note(Checkpoint(origin=log.key.name, size=0, root=bytes(32)).body(),
                      log.key, log.signer)
    assert add(http, log.request(0, note=empty)).status_code == 422

    assert add(http, log.request(0)).status_code == 200
    log.grow(1)
    conflict = add(http, log.request(0))
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == TLOG_SIZE and conflict.text == "4\n"
    bad_proof = add(http, log.request(4, proof=[bytes(32)] * 3))
    assert bad_proof.status_code == 422 and bad_proof.headers["content-type"].startswith(
        "text/plain") and bad_proof.text.count("\n") == 1

    too_long = AddCheckpoint(old_size=4, proof=[bytes(32)] * 63, note=log.checkpoint())
    assert add(http, too_long.encode().replace(b"old 4\n", b"old 4\n" + b"A" * 20000)
               ).status_code == 413
    assert add(http, b"old 4\n" + b"AAAA\n" * 64 + b"\n" + log.checkpoint().encode()
               ).status_code == 400
    assert http.get(f"/{origin_hash('unknown.test/log')}/checkpoint").status_code == 404
    assert http.get("/not-a-hash/checkpoint").status_code == 404


def test_forked_checkpoint_is_refused_and_kept_as_evidence(
        witness: RunningWitness, http: httpx.Client) -> None:
    log = new_log(witness, "forked", 8)
    assert add(http, log.request(0)).status_code == 200
    cosigned = http.get(f"/{origin_hash(log.key.name)}/checkpoint").text
    same_size = ToyLog(log.key.name, log.signer).grow(8, "another history")
    later = ToyLog(log.key.name, log.signer).grow(13, "a third history")
    assert add(http, same_size.request(8)).status_code == 422
    assert add(http, later.request(8)).status_code == 422

    kept = http.get(f"/{origin_hash(log.key.name)}/evidence").json()
    assert [(e["kind"], e["offered_note"]) for e in kept] == [
        ("fork", same_size.checkpoint()), ("fork", later.checkpoint())]
    for evidence in kept:
        assert evidence["cosigned_note"] == cosigned
        assert evidence["origin"] == log.key.name and evidence["recorded_at"] > 0
        two = [open_checkpoint(evidence[n], log.key) for n in ("cosigned_note", "offered_note")]
        assert two[0].root != two[1].root  # both signed by the log: two views
    assert evidence["request"] == later.request(8).decode()
    assert all(e in http.get("/evidence").json() for e in kept)
    # the witness still vouches for the first view only
    assert http.get(f"/{origin_hash(log.key.name)}/checkpoint").text == cosigned


def test_rollback_attempt_is_refused_and_kept(witness: RunningWitness,
                                              http: httpx.Client) -> None:
    log = new_log(witness, "rolled-back", 3)
    old_note = log.checkpoint()
    assert add(http, log.request(0)).status_code == 200
    log.grow(3)
    assert add(http, log.request(3)).status_code == 200
    assert add(http, log.request(0, note=old_note)).status_code == 409
    assert add(http, AddCheckpoint(old_size=6, proof=[], note=old_note).encode()
               ).status_code == 400
    kept = http.get(f"/{origin_hash(log.key.name)}/evidence").json()
    # kept once: the same two notes offered again (a replay, say) add nothing
    assert [(e["kind"], e["offered_note"]) for e in kept] == [("rollback", old_note)]
    assert open_checkpoint(kept[0]["cosigned_note"], log.key).size == 6


def test_concurrent_submissions_cannot_roll_the_witness_back(
        witness: RunningWitness, http: httpx.Client) -> None:
    """Two requests from the same old size, one to each of two processes on the same
    folder, sent together: exactly one is cosigned, the other gets 409, and the
    witness's size never goes down (c2sp.org/tlog-witness, the race it describes)."""
    log = new_log(witness, "raced", 2)
    twin = replace(witness, port=free_port(), process=None)
    twin.start()
    try:
        assert add(http, log.request(0)).status_code == 200
        for round_ in range(4):
            old = log.size
            candidates = [log.fork().grow(1, f"a{round_}"), log.fork().grow(2, f"b{round_}")]
            if round_ % 2:
                candidates.reverse()  # the larger one first, to the other process
            statuses = race([witness.url, twin.url], [c.request(old) for c in candidates])
            assert sorted(statuses) == [200, 409], statuses
            winner = candidates[statuses.index(200)]
            served = http.get(f"/{origin_hash(log.key.name)}/checkpoint").text
            assert open_checkpoint(served, log.key).size == winner.size
            log = winner
    finally:
        twin.stop()


def race(urls: list[str], bodies: list[bytes]) -> list[int]:
    start = threading.Barrier(len(bodies))
    statuses = [0] * len(bodies)

    def send(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            client.get(f"{urls[i]}/healthz")  # connected before the barrier
            start.wait()
            statuses[i] = client.post(f"{urls[i]}/add-checkpoint", content=bodies[i]).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def test_docledger_witness_evidence_prints_what_the_witness_serves(
        witness: RunningWitness, http: httpx.Client) -> None:
    printed = docledger("witness", "evidence", "--json", "--data", str(witness.data))
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == http.get("/evidence").json()


def test_a_killed_witness_restarts_with_its_state(
        witness: RunningWitness, http: httpx.Client) -> None:
    log = new_log(witness, "durable", 7)
    answer = add(http, log.request(0))
    assert answer.status_code == 200
    witness.kill()  # SIGKILL right after the answer: it was persisted before
    witness.start()
    with httpx.Client(base_url=witness.url, timeout=10) as again:
        conflict = add(again, log.request(0))
        assert (conflict.status_code, conflict.text) == (409, "7\n")
        served = again.get(f"/{origin_hash(log.key.name)}/checkpoint").text
        assert served == log.checkpoint() + answer.text
        assert again.get("/evidence").json()  # the earlier tests' evidence is still there


def test_a_store_that_fails_is_a_503_and_cosigns_nothing(tmp_path: Path) -> None:
    log = ToyLog("failing.log.test/ledger").grow(2)
    folder = WitnessFolder(tmp_path / "W")
    folder.init("w.test/w1", [log.vkey])
    with TestClient(create_witness_app(folder)) as client:
        for path in tmp_path.joinpath("W").glob("witness.db*"):
            path.unlink()
        folder.db_file.mkdir()  # the store cannot be opened any more
        answer = client.post("/add-checkpoint", content=log.request(0))
    assert answer.status_code == 503
    assert answer.text == "the witness's store is unavailable; retry\n"
