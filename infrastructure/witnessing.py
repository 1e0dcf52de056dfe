"""Publishing checkpoints: witnesses cosign them (C2SP tlog-witness), a policy says
how many must (C2SP tlog-policy).

A signed checkpoint is *published* — stored in ``ledger_published`` with the
witnesses' cosignature lines appended, where every public reader takes it from —
only once the cosignatures meet the policy's quorum; until then the previous
published one stands. Without a policy (or with ``quorum none`` and no
time-stamping) every signed checkpoint is published as it is signed, in the same
transaction.

The ``Publisher`` asks every witness of the policy at once (one thread each), over
one keep-alive HTTP client per witness (``WitnessClient``), which remembers the
size the witness last cosigned and, told otherwise (409), retries once with a
consistency proof from the size the witness gave. Answers that do not verify
are not counted and said so in the log. Each witness's last success and last
refusal are kept for ``/readyz`` and ``/metrics``; a refusal that shows the
witness saw another history (a fork: 422, or a size larger than the ledger's) is
an alarm, logged as an error naming the witness and its reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from domain.errors import ConcurrencyError, InvalidInputError
from domain.evidence.checkpoint import CheckpointError, NoteKey, split_note
from domain.evidence.cosignature import (
    add_signature_lines,
    cosignatures,
    parse_signature_lines,
)
from domain.evidence.policy import Policy, PolicyError, Witness
from domain.ledger.application import utc_now
from infrastructure.log_store import LogStore, PublishedCheckpoint, StoredCheckpoint
from infrastructure.witness_client import Proof, WitnessClient, WitnessRefused

log = logging.getLogger("docledger.witnessing")

# The background publisher looks this often (one small query) for a signed checkpoint
# not yet published — signed by another process, or still short of its quorum —
# besides being woken when this process signs one.
POLL_SECONDS = 3.0

Stamp = Callable[[str], bytes]  # checkpoint body -> DER RFC 3161 time-stamp token


# ---- the policy file -------------------------------------------------------------------


def read_policy(path: Path) -> Policy:
    """The tlog-policy file at ``path``, parsed; every witness must have a URL."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"the witness policy {path} cannot be read: "
                                f"{exc.strerror or exc}") from None
    try:
        policy = Policy.parse(text)
    except PolicyError as exc:
        raise PolicyError(f"the witness policy {path}: {exc}") from None
    if policy.requires_witnesses():
        for witness in policy.witnesses.values():
            if witness.url is None:
                raise PolicyError(f"the witness policy {path}: witness {witness.name} has no "
                                  "URL, so the ledger cannot ask it to cosign")
    return policy


def check_log_key(policy: Policy, key: NoteKey, source: str) -> None:
    """A policy naming logs must name this ledger's key (name and key)."""
    if policy.logs and not any(k.name == key.name and k.raw == key.raw for k, _ in policy.logs):
        named = ", ".join(k.vkey() for k, _ in policy.logs)
        raise PolicyError(f"the witness policy {source} is not this ledger's: its log line "
                          f"names {named}, this ledger's verifier key is {key.vkey()}")


# ---- what each witness last did, for /readyz and /metrics -------------------------------


@dataclass(frozen=True, kw_only=True)
class Refusal:
    status: int | None
    reason: str
    at: datetime
    alarm: bool

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "at": self.at.isoformat()}


@dataclass(kw_only=True)
class WitnessState:
    last_success: datetime | None = None
    cosigned_size: int | None = None
    last_refusal: Refusal | None = None
    refusals: int = 0
    alarm: Refusal | None = None  # the last fork or rollback it reported, until it cosigns

    def as_dict(self) -> dict[str, Any]:
        return {"last_success": None if self.last_success is None
                else self.last_success.isoformat(),
                "cosigned_size": self.cosigned_size,
                "last_refusal": None if self.last_refusal is None
                else self.last_refusal.as_dict(),
                "refusals": self.refusals}


# ---- publishing ------------------------------------------------------------------------


class Publisher:
    """Publishes the ledger's signed checkpoints once the policy's quorum cosigned."""

    def __init__(self, store: LogStore, log_key: NoteKey, policy: Policy | None, *,
                 proof: Proof, timeout: float = 5.0, stamp: Stamp | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.log_key = log_key
        self.policy = policy if policy is not None and policy.requires_witnesses() else None
        self.quorum = "none" if policy is None else policy.quorum
        self.proof = proof
        self.timeout = timeout
        self.stamp = stamp
        self.clock = clock
        # nothing to wait for: published in the transaction that stores the signed one
        self.immediate = self.policy is None and stamp is None
        self.witnesses: list[Witness] = [] if self.policy is None else list(
            self.policy.witnesses.values())
        self.states = {w.name: WitnessState() for w in self.witnesses}
        self._clients: dict[str, WitnessClient] = {}
        self._lock = threading.Lock()  # one round at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._marked = False  # the store records that this ledger publishes deferred
        self._caught_up = False  # immediate: the checkpoints signed before, published

    # ---- one round -----------------------------------------------------------------

    def publish(self) -> PublishedCheckpoint | None:
        """Publish the latest signed checkpoint if it is newer than the latest
        published and the quorum cosigns it; return what was published, if anything."""
        if self.immediate:
            signed_size, published_size = self.store.sizes()
            if signed_size > published_size:
                self.store.publish_signed()
            return None
        self._mark_deferred()
        with self._lock:
            signed_cp = self.store.latest_checkpoint()
            latest = self.store.latest_published()
            if signed_cp is None or (latest is not None and latest.size >= signed_cp.size):
                return None
            note = self._cosigned(signed_cp, 0 if latest is None else latest.size)
            if self.policy is not None:
                verdict = self.policy.evaluate(note, self.log_key)
                if not verdict.satisfied:
                    log.warning("checkpoint not published: %s", verdict.describe())
                    return None
            published = PublishedCheckpoint(
                size=signed_cp.size, note=note, published_at=self.clock().isoformat(),
                timestamp_token=self._stamped(note))
            try:
                self.store.save_published(published)
            except ConcurrencyError:
                return None  # published meanwhile by another process
            return published

    def catch_up(self) -> None:
        """Once per process, without witnesses: publish what was signed before
        publishing existed (afterwards each checkpoint is published as it is signed)."""
        if self.immediate and not self._caught_up:
            self.publish()
            self._caught_up = True

    def _mark_deferred(self) -> None:
        if not self._marked:
            mode = "+".join(m for m, on in (("witnesses", self.policy is not None),
                                            ("time-stamp", self.stamp is not None)) if on)
            self.store.mark_deferred(mode, self.clock().isoformat())
            self._marked = True

    def _cosigned(self, signed: StoredCheckpoint, guess: int) -> str:
        """The signed note with the valid cosignature lines of every witness that
        answered, in the policy's order."""
        if not self.witnesses:
            return signed.note
        with ThreadPoolExecutor(len(self.witnesses), thread_name_prefix="witness") as pool:
            asked = [(w, pool.submit(self._client(w).add_checkpoint, signed.note, signed.size,
                                     guess, self.proof)) for w in self.witnesses]
            lines: list[str] = []
            for witness, answer in asked:
                try:
                    lines += self._valid_lines(witness, signed, answer.result())
                except WitnessRefused as refused:
                    if refused.ahead is not None and self.store.sizes()[0] >= refused.ahead:
                        # another process signed and published a larger one meanwhile
                        refused = WitnessRefused(None, f"it has cosigned a newer checkpoint "
                                                       f"(size {refused.ahead}) already")
                    self._refused(witness, refused)
        return signed.note + "".join(f"{line}\n" for line in lines)

    def _valid_lines(self, witness: Witness, signed: StoredCheckpoint, answer: str) -> list[str]:
        """The lines of ``answer`` that are cosignatures by the witness's key in the
        policy and verify; the others are not counted, and said so."""
        try:
            offered = parse_signature_lines(answer)
        except CheckpointError as exc:
            raise WitnessRefused(200, f"its answer is not signature lines: {exc}") from None
        kept = []
        for line in offered:
            try:
                found = cosignatures(add_signature_lines(signed.note, line + "\n"),
                                     [witness.key])
            except CheckpointError as exc:
                log.warning("witness %s: a cosignature that does not verify, not counted: %s",
                            witness.name, exc)
                continue
            if witness.key.name in found:
                kept.append(line)
            else:
                log.warning("witness %s: a signature line by a key not in the policy, not "
                            "counted: %.60s…", witness.name, line)
        if not kept:
            raise WitnessRefused(200, "its answer holds no valid cosignature by its key in "
                                      "the policy")
        state = self.states[witness.name]
        state.last_success, state.cosigned_size, state.alarm = self.clock(), signed.size, None
        return kept[:1]

    def _refused(self, witness: Witness, refused: WitnessRefused) -> None:
        state = self.states[witness.name]
        refusal = Refusal(status=refused.status, reason=refused.reason, at=self.clock(),
                          alarm=refused.alarm)
        state.last_refusal, state.refusals = refusal, state.refusals + 1
        if refused.alarm:
            # an error when it starts; while it goes on, each retry says so more quietly
            report = log.error if state.alarm is None else log.warning
            state.alarm = refusal
            report("witness %s refused the ledger's checkpoint: %s", witness.name,
                   refused.reason)
        else:
            log.warning("witness %s did not cosign: %s", witness.name, refused.reason)

    def _stamped(self, note: str) -> bytes | None:
        if self.stamp is None:
            return None
        try:
            return self.stamp(split_note(note)[0])
        except Exception as exc:  # published all the same; the token is an addition
            log.warning("checkpoint published without a time-stamp token: %s", exc)
            return None

    def _client(self, witness: Witness) -> WitnessClient:
        client = self._clients.get(witness.name)
        if client is None:
            client = self._clients[witness.name] = WitnessClient(witness, timeout=self.timeout)
        return client

    # ---- in the background (the API server) ------------------------------------------

    def start(self) -> None:
        """Publish in a thread of its own, woken when this process signs a checkpoint
        and looking every few seconds for one not yet published."""
        if self.immediate or self._thread is not None:
            return
        self._mark_deferred()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="docledger-publisher",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread (after the round under way, bounded by the timeout)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(2 * self.timeout + 1)
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                signed, published = self.store.sizes()
                if signed > published:
                    self.publish()
            except Exception as exc:  # a store fault: ask again later
                log.warning("publishing checkpoints failed, retrying: %s", exc)
            self._wake.wait(POLL_SECONDS)

    # ---- what readiness and metrics show ------------------------------------------------

    def report(self) -> dict[str, Any]:
        """Signed and published sizes, the lag, and each witness's last answers."""
        signed, published = self.store.sizes()
        latest = self.store.latest_published()
        now = self.clock()
        waiting = self.store.checkpoints_after(published, 1) if signed > published else []
        lag = 0.0 if not waiting else max(
            0.0, (now - datetime.fromisoformat(waiting[0].issued_at)).total_seconds())
        since = None if latest is None else max(
            0.0, (now - datetime.fromisoformat(latest.published_at)).total_seconds())
        alarms = [{"witness": name, **s.alarm.as_dict()} for name, s in self.states.items()
                  if s.alarm is not None]
        return {"quorum": self.quorum, "signed_size": signed, "published_size": published,
                "seconds_since_publication": since, "lag_seconds": lag,
                "witnesses": {name: s.as_dict() for name, s in self.states.items()},
                "refused_history": alarms}
