"""What a C2SP tlog-witness decides about an ``add-checkpoint`` request.

Pure functions on the witness's state for one log (the latest checkpoint it
cosigned for the origin, or none) and the request; no HTTP, no store. The
decision is the spec's status code as data:

* 400: the body is malformed, or the old size is above the checkpoint's size;
* 404: no trusted log key has the checkpoint's origin as its name;
* 403: no signature by a trusted key for the origin, or one that names such a
  key (name and key hash) and does not verify;
* 409: the old size is not the size of the latest cosigned checkpoint (the
  answer carries that size);
* 422: a size-0 checkpoint without the empty tree's root, a proof with old size
  0, a consistency proof that does not verify, or the same size with another root;
* 200: cosign.

A refusal of a checkpoint the log validly signed may show the log misbehaving;
it then carries ``Evidence`` for the witness to keep: a ``fork`` (the same size
as the cosigned checkpoint with another root, which proves two views; or a later
size whose proof from the cosigned size fails, which shows a checkpoint no valid
proof was offered for) or a ``rollback`` (a checkpoint smaller than the cosigned
one: a stale retry can make one too, so it is a record, not a proof).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import InvalidInputError
from domain.evidence.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteKey,
    open_note,
    split_note,
)
from domain.evidence.cosignature import AddCheckpoint
from domain.evidence.merkle import EMPTY_ROOT, ProofError, verify_consistency

MAX_SIZE = 2**63 - 1  # a tree size the store keeps as a signed 64-bit integer
FORK = "fork"
ROLLBACK = "rollback"
_ALLOWED = re.compile(r"[\t\x20-\x7e\x80-\U0010ffff]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # signed-note: none below U+0020 but \n


class LogListError(InvalidInputError):
    """The witness's list of logs does not parse."""

    code = "invalid-log-list"


def origin_hash(origin: str) -> str:
    """The monitoring path's name for a log: lowercase hex SHA-256 of its origin."""
    return hashlib.sha256(origin.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class TrustedLog:
    """One log key the witness cosigns for."""

    key: NoteKey  # its name is the log's origin
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class TrustedLogs:
    """The logs a witness cosigns for: ``log <vkey> [<url>]`` lines, as in
    c2sp.org/tlog-policy; ``#`` starts a comment line. An origin may have several
    keys (a key rollover); each key is listed once."""

    logs: tuple[TrustedLog, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedLogs:
        logs: list[TrustedLog] = []
        for number, line in enumerate(text.split("\n"), 1):
            if not _ALLOWED.fullmatch(line):
                raise LogListError(f"logs line {number}: control characters")
            words = line.replace("\t", " ").split()
            if not words or words[0].startswith("#"):
                continue
            if words[0] != "log" or len(words) not in (2, 3):
                raise LogListError(f"logs line {number}: 'log <vkey> [<url>]'")
            try:
                key = NoteKey.parse(words[1])
            except CheckpointError as exc:
                raise LogListError(f"logs line {number}: {exc}") from None
            if any(log.key.raw == key.raw for log in logs):
                raise LogListError(f"logs line {number}: the same log key is listed twice")
            logs.append(TrustedLog(key=key, url=words[2] if len(words) == 3 else None))
        return cls(logs=tuple(logs))

    def keys_for(self, origin: str) -> list[NoteKey]:
        return [log.key for log in self.logs if log.key.name == origin]

    def origins(self) -> set[str]:
        return {log.key.name for log in self.logs}


def log_line(vkey: str, url: str | None = None) -> str:
    """One line of the list of logs (checked: parsing it gives the key back)."""
    line = f"log {vkey}" + (f" {url}" if url else "") + "\n"
    TrustedLogs.parse(line)
    return line


@dataclass(frozen=True, kw_only=True)
class Cosigned:
    """The latest checkpoint the witness cosigned for one origin."""

    checkpoint: Checkpoint
    note: str  # the log's verified signature lines and the witness's cosignature
    timestamp: int = 0  # the time its cosignature gives, POSIX seconds


def cosignature_time(now: int, latest: Cosigned | None) -> int:
    """The time of a new cosignature: now, never 0, and never before the latest one's,
    so a clock stepped back cannot date a larger tree before a smaller one."""
    return max(1, now, latest.timestamp if latest is not None else 0)


@dataclass(frozen=True, kw_only=True)
class Submission:
    """A request whose checkpoint a trusted log key signed."""

    request: AddCheckpoint
    checkpoint: Checkpoint
    log_signatures: tuple[str, ...]  # the verified signature lines, each without \n

    def verified_note(self) -> str:
        """The checkpoint with only the log's signatures the witness verified."""
        return self.checkpoint_text() + "\n" + "".join(f"{s}\n" for s in self.log_signatures)

    def checkpoint_text(self) -> str:
        return split_note(self.request.note)[0]


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """A validly signed checkpoint at odds with the one the witness cosigned."""

    kind: str  # FORK or ROLLBACK
    origin: str
    reason: str
    cosigned_note: str
    offered_note: str


@dataclass(frozen=True, kw_only=True)
class Refused:
    """No cosignature: the spec's status code, why, and what to keep."""

    status: int  # the tlog-witness status code
    reason: str  # one line
    latest_size: int | None = None  # with 409: the size of the latest cosigned checkpoint
    evidence: Evidence | None = None


@dataclass(frozen=True, kw_only=True)
class Accept:
    """Cosign ``submission``'s checkpoint and make it the latest for its origin."""

    submission: Submission


Decision = Accept | Refused


def parse_request(body: bytes) -> AddCheckpoint | Refused:
    """The request body, or a 400 naming what is malformed."""
    try:
        request = AddCheckpoint.parse(body)
    except InvalidInputError as exc:
        return Refused(status=400, reason=str(exc))
    if request.old_size > MAX_SIZE:
        return Refused(status=400, reason=f"the old size is above {MAX_SIZE}")
    if _CONTROL.search(request.note):
        return Refused(status=400, reason="a signed note holds no control character but \\n")
    return request


def check_signature(request: AddCheckpoint, logs: TrustedLogs) -> Submission | Refused:
    """Which log the checkpoint is for, and that one of its trusted keys signed it.

    1. split the note and parse the checkpoint body (400 if malformed);
    2. the origin names a trusted log (404 otherwise);
    3. every signature line that names a trusted key of that origin (name and key
       hash) verifies, and there is at least one (403 otherwise); lines by other
       keys are ignored, as c2sp.org/signed-note says.
    """
    try:
        text, lines = split_note(request.note)
        checkpoint = Checkpoint.parse(text)
    except CheckpointError as exc:
        return Refused(status=400, reason=f"not a signed checkpoint: {exc}")
    if checkpoint.size > MAX_SIZE:
        return Refused(status=400, reason=f"the checkpoint size is above {MAX_SIZE}")
    keys = logs.keys_for(checkpoint.origin)
    if not keys:
        return Refused(status=404, reason=f"unknown log origin {checkpoint.origin!r}")
    verified: list[str] = []
    for key in keys:
        if not any(name == key.name and blob[:4] == key.key_hash for name, blob in lines):
            continue
        try:
            open_note(request.note, key)
        except CheckpointError as exc:
            return Refused(status=403, reason=str(exc))
        verified.extend(_lines_by(request.note, key))
    if not verified:
        return Refused(status=403,
                       reason=f"no signature by a trusted key for {checkpoint.origin!r}")
    return Submission(request=request, checkpoint=checkpoint, log_signatures=tuple(verified))


def _lines_by(note: str, key: NoteKey) -> Iterable[str]:
    _, lines = split_note(note)
    raw = note.rstrip("\n").split("\n")[-len(lines):]
    return (line for line, (name, blob) in zip(raw, lines, strict=True)
            if name == key.name and blob[:4] == key.key_hash)


def judge(submission: Submission, latest: Cosigned | None) -> Decision:
    """The spec's checks against the latest cosigned checkpoint, in its order.

    1. the old size is at most the checkpoint's size (400);
    2. the old size is the latest cosigned size, or 0 if none (409, with that size);
    3. a size-0 checkpoint has the empty tree's root (422);
    4. with old size 0 the proof is empty; otherwise it proves the checkpoint extends
       the latest cosigned one, and the same size means the same root (422).
    A refusal of this validly signed checkpoint that conflicts with the latest
    cosigned one carries the evidence (even a 409 or 400: the conflict is the log's).
    """
    request, checkpoint = submission.request, submission.checkpoint
    latest_size = latest.checkpoint.size if latest is not None else 0
    evidence = _conflict(submission, latest)
    if request.old_size > checkpoint.size:
        return Refused(status=400, evidence=evidence,
                       reason=f"old size {request.old_size} is above the checkpoint size "
                              f"{checkpoint.size}")
    if request.old_size != latest_size:
        return Refused(status=409, latest_size=latest_size, evidence=evidence,
                       reason=f"old size {request.old_size} is not the latest cosigned size "
                              f"{latest_size}")
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        return Refused(status=422, reason="a checkpoint of size 0 must have the empty root")
    if request.old_size == 0:
        if request.proof:
            return Refused(status=422, reason="a proof from old size 0 must be empty")
        return Accept(submission=submission)
    assert latest is not None  # old size == latest size > 0
    try:
        verify_consistency(latest.checkpoint.size, checkpoint.size, latest.checkpoint.root,
                           checkpoint.root, request.proof)
    except ProofError as exc:
        return Refused(status=422, reason=str(exc),
                       evidence=evidence or _evidence(FORK, submission, latest, str(exc)))
    return Accept(submission=submission)


def _conflict(submission: Submission, latest: Cosigned | None) -> Evidence | None:
    """Evidence that needs no proof: the same size with another root, or a smaller size."""
    if latest is None:
        return None
    new, old = submission.checkpoint, latest.checkpoint
    if new.size == old.size and new.root != old.root:
        return _evidence(FORK, submission, latest,
                         f"two roots for size {new.size}: the cosigned one and this one")
    if new.size < old.size:
        return _evidence(ROLLBACK, submission, latest,
                         f"size {new.size} is below the cosigned size {old.size}")
    return None


def _evidence(kind: str, submission: Submission, latest: Cosigned, reason: str) -> Evidence:
    return Evidence(kind=kind, origin=submission.checkpoint.origin, reason=reason,
                    cosigned_note=latest.note, offered_note=submission.request.note)


def decide(body: bytes, logs: TrustedLogs, latest: Cosigned | None) -> Decision:
    """All of the above in one call, for a caller that holds the state already."""
    request = parse_request(body)
    if isinstance(request, Refused):
        return request
    submission = check_signature(request, logs)
    if isinstance(submission, Refused):
        return submission
    if latest is not None and latest.checkpoint.origin != submission.checkpoint.origin:
        raise ValueError("the latest cosigned checkpoint is for another origin")
    return judge(submission, latest)
