"""The tlog-witness decision (domain.evidence.witness) without HTTP or a store: every
status code of c2sp.org/tlog-witness, and which refusals are kept as evidence."""

from __future__ import annotations

import base64
import hashlib

import pytest

from domain.evidence.checkpoint import Checkpoint, sign_note
from domain.evidence.cosignature import AddCheckpoint
from domain.evidence.merkle import EMPTY_ROOT
from domain.evidence.witness import (
    FORK,
    ROLLBACK,
    Accept,
    Cosigned,
    Decision,
    LogListError,
    Refused,
    TrustedLogs,
    cosignature_time,
    decide,
    log_line,
    origin_hash,
)
from tests.witness_support import ToyLog

ORIGIN = "ledger.test/log"


def trusting(*logs: ToyLog) -> TrustedLogs:
    return TrustedLogs.parse("".join(log_line(log.vkey) for log in logs))


def cosigned(log: ToyLog) -> Cosigned:
    note = log.checkpoint()
    return Cosigned(checkpoint=Checkpoint.parse(note.split("\n\n")[0] + "\n"), note=note)


def refused(decision: Decision, status: int) -> Refused:
    assert isinstance(decision, Refused), decision
    assert decision.status == status, decision.reason
    return decision


def test_first_checkpoint_from_old_size_zero_is_accepted() -> None:
    log = ToyLog(ORIGIN).grow(5)
    decision = decide(log.request(0), trusting(log), None)
    assert isinstance(decision, Accept)
    assert decision.submission.checkpoint.size == 5


def test_a_checkpoint_that_extends_the_cosigned_one_is_accepted() -> None:
    log = ToyLog(ORIGIN).grow(5)
    latest = cosigned(log)
    log.grow(6)
    assert isinstance(decide(log.request(5), trusting(log), latest), Accept)


def test_malformed_body_is_400() -> None:
    log = ToyLog(ORIGIN).grow(1)
    for body in (b"old 01\n\n" + log.checkpoint().encode(), b"garbage",
                 b"old 0\n\nnot a note\n", b"old 0\n\n" + b"\xff",
                 log.request(0).replace(b"\n\n", b"\r\n\n", 1),
                 log.request(0).replace(b"\n\n", b"\n\n\x00", 1)):
        refused(decide(body, trusting(log), None), 400)


def test_unknown_origin_is_404() -> None:
    log, other = ToyLog(ORIGIN).grow(1), ToyLog("other.test/log").grow(1)
    refused(decide(other.request(0), trusting(log), None), 404)


def test_checkpoint_signed_by_an_untrusted_key_of_the_same_origin_is_403() -> None:
    trusted, impostor = ToyLog(ORIGIN), ToyLog(ORIGIN).grow(2)
    assert "no signature by a trusted key" in refused(
        decide(impostor.request(0), trusting(trusted), None), 403).reason


def test_signature_line_of_a_trusted_key_that_does_not_verify_is_403() -> None:
    log = ToyLog(ORIGIN).grow(3)
    note = log.checkpoint()
    text, line = note.rsplit("\u2014 ", 1)
    name, sig = line.split(" ")
    blob = bytearray(base64.b64decode(sig))
    blob[10] ^= 1
    forged = f"{text}\u2014 {name} {base64.b64encode(bytes(blob)).decode()}\n"
    body = AddCheckpoint(old_size=0, proof=[], note=forged).encode()
    refused(decide(body, trusting(log), None), 403)


def test_signatures_by_unknown_keys_are_ignored() -> None:
    log, stranger = ToyLog(ORIGIN).grow(2), ToyLog("stranger.test/k")
    note = log.checkpoint()
    extra = sign_note(note.split("\n\n")[0] + "\n", stranger.key, stranger.signer)
    with_extra = note + extra.rsplit("\n\n", 1)[1]
    decision = decide(AddCheckpoint(old_size=0, proof=[], note=with_extra).encode(),
                      trusting(log), None)
    assert isinstance(decision, Accept)
    assert "stranger" not in decision.submission.verified_note()


def test_old_size_above_the_checkpoint_size_is_400() -> None:
    log = ToyLog(ORIGIN).grow(3)
    refused(decide(log.request(4, proof=[]), trusting(log), None), 400)


def test_old_size_other_than_the_cosigned_size_is_409_with_that_size() -> None:
    log = ToyLog(ORIGIN).grow(5)
    latest = cosigned(log)
    log.grow(3)
    conflict = refused(decide(log.request(0), trusting(log), latest), 409)
    assert conflict.latest_size == 5 and conflict.evidence is None
    assert refused(decide(log.request(4), trusting(log), None), 409).latest_size == 0


def test_size_zero_checkpoint_must_have_the_empty_root() -> None:
    log = ToyLog(ORIGIN)
    assert isinstance(decide(log.request(0), trusting(log), None), Accept)
    assert log.tree.root() == EMPTY_ROOT
    body = Checkpoint(origin=ORIGIN, size=0, root=bytes(32)).body()
    note = sign_note(body, log.key, log.signer)
    refused(decide(log.request(0, note=note), trusting(log), None), 422)


def test_proof_with_old_size_zero_is_422() -> None:
    log = ToyLog(ORIGIN).grow(4)
    refused(decide(log.request(0, proof=[bytes(32)]), trusting(log), None), 422)


def test_same_size_and_root_is_cosigned_again() -> None:
    log = ToyLog(ORIGIN).grow(4)
    assert isinstance(decide(log.request(4), trusting(log), cosigned(log)), Accept)


def test_same_size_with_another_root_is_422_and_a_fork() -> None:
    log = ToyLog(ORIGIN).grow(4)
    latest = cosigned(log)
    fork = log.fork().grow(1, "other")
    log.grow(1)
    log_latest = cosigned(log)
    decision = refused(decide(fork.request(5, proof=[]), trusting(log), log_latest), 422)
    assert decision.evidence is not None and decision.evidence.kind == FORK
    assert decision.evidence.cosigned_note == log_latest.note
    assert decision.evidence.offered_note == fork.checkpoint()
    # the same fork offered from another old size is a 409, and still kept
    conflict = refused(decide(fork.request(4), trusting(log), log_latest), 409)
    assert conflict.evidence is not None and conflict.evidence.kind == FORK
    assert isinstance(decide(log.request(4), trusting(log), latest), Accept)


def test_later_checkpoint_whose_proof_fails_is_422_and_a_fork() -> None:
    log = ToyLog(ORIGIN).grow(5)
    latest = cosigned(log)
    extension = log.fork().grow(3, "new")
    rewritten = ToyLog(ORIGIN, log.signer).grow(5, "rewritten").grow(3)
    # a proof the rewritten tree makes from its own size 5
    decision = refused(decide(rewritten.request(5), trusting(log), latest), 422)
    assert decision.evidence is not None and decision.evidence.kind == FORK
    assert decision.evidence.offered_note == rewritten.checkpoint()
    assert isinstance(decide(extension.request(5), trusting(log), latest), Accept)


def test_smaller_validly_signed_checkpoint_is_kept_as_a_rollback() -> None:
    log = ToyLog(ORIGIN).grow(3)
    old_note = log.checkpoint()
    log.grow(4)
    latest = cosigned(log)
    stale = refused(decide(log.request(0, note=old_note), trusting(log), latest), 409)
    assert stale.evidence is not None and stale.evidence.kind == ROLLBACK
    back = refused(decide(AddCheckpoint(old_size=7, proof=[], note=old_note).encode(),
                          trusting(log), latest), 400)
    assert back.evidence is not None and back.evidence.kind == ROLLBACK


def test_unsigned_refusals_are_not_evidence() -> None:
    log, impostor = ToyLog(ORIGIN).grow(5), ToyLog(ORIGIN).grow(5, "x")
    assert refused(decide(impostor.request(5), trusting(log), cosigned(log)),
                   403).evidence is None


@pytest.mark.parametrize("text", [
    "log not-a-key\n",
    "witness a b\n",
    "log {vkey} http://a http://b\n",
    "log {vkey}\nlog {vkey}\n",
    "log {vkey}\x07\n",
])
def test_malformed_list_of_logs_is_refused(text: str) -> None:
    with pytest.raises(LogListError):
        TrustedLogs.parse(text.format(vkey=ToyLog(ORIGIN).vkey))


def test_list_of_logs_takes_comments_urls_and_two_keys_per_origin() -> None:
    a, b = ToyLog(ORIGIN), ToyLog(ORIGIN)
    logs = TrustedLogs.parse(f"# logs\n\nlog {a.vkey} https://a.test\n\tlog\t{b.vkey}\n")
    assert [log.url for log in logs.logs] == ["https://a.test", None]
    assert logs.keys_for(ORIGIN) == [a.key, b.key] and logs.origins() == {ORIGIN}


def test_origin_hash_is_lowercase_hex_sha256() -> None:
    expected = hashlib.sha256(b"example.com/behind-the-sofa").hexdigest()
    assert origin_hash("example.com/behind-the-sofa") == expected == expected.lower()


def test_cosignature_time_is_never_zero_nor_before_the_latest() -> None:
    log = ToyLog(ORIGIN).grow(1)
    latest = Cosigned(checkpoint=cosigned(log).checkpoint, note="", timestamp=500)
    assert cosignature_time(0, None) == 1
    assert cosignature_time(400, latest) == 500 and cosignature_time(600, latest) == 600
