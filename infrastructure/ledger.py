"""A ledger from its settings: opening and initialising it with its keys, blobs and
persistence, its Merkle log, and the audit run; infrastructure/service.py wires them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from domain.errors import DuplicateError, NotInitialisedError
from domain.evidence.checkpoint import NoteKey
from domain.evidence.keys import Ed25519Signer, PublicKey
from domain.evidence.policy import PolicyError
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger, utc_now
from domain.verification.audit import AuditReport, audit_log
from domain.verification.audit_tree import open_checkpoints
from infrastructure.blobs import BlobStore
from infrastructure.cache_guard import CacheGuard
from infrastructure.heap import settled
from infrastructure.keyfiles import load_public_key, load_signer, write_key_pair
from infrastructure.log_store import LogStore
from infrastructure.parallel_audit import KEEP_AT_MOST, log_pages, run_parallel_audit
from infrastructure.pdf_attachments import PdfAttachmentReader
from infrastructure.pdf_stamp import PdfIncomingStamper
from infrastructure.pg_recorder import RECORDER_ENV
from infrastructure.remembered import RememberedCheckpoint
from infrastructure.replay_recorder import REPLAY
from infrastructure.settings import Settings
from infrastructure.source_check import SourceSignatures
from infrastructure.transparency import LedgerLog
from infrastructure.witnessing import Stamp, read_policy

PAGE = 1000


@dataclass(frozen=True)
class DataFolder:
    """The layout of a ledger's local data folder."""

    root: Path

    @property
    def ledger_key(self) -> Path:
        return self.root / "keys" / "ledger.key"

    @property
    def remembered_checkpoint(self) -> Path:
        """The latest checkpoint the ledger signed, kept outside its database."""
        return self.root / "keys" / "ledger.checkpoint"

    @property
    def registrar_key(self) -> Path:
        return self.root / "keys" / "registrar.key"

    def agency_key(self, code: str) -> Path:
        return self.root / "keys" / "agencies" / f"{code}.key"

    @property
    def gateway_key(self) -> Path:
        """The axis connector's key: the key of the agencies reached only through
        the axis (docs/axis.md, "Agencies reached through the axis")."""
        return self.root / "keys" / "axis-gateway.key"

    @property
    def blobs(self) -> BlobStore:
        return BlobStore(self.root / "blobs")


def open_ledger(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> DocLedger:
    """Open an initialised ledger."""
    folder = DataFolder(settings.data)
    if not folder.ledger_key.exists():
        raise NotInitialisedError(
            f"no ledger in {settings.data}: run 'docledger init --data {settings.data}'"
        )
    env = settings.eventsourcing_env()
    if settings.backend == "postgres":
        env |= RECORDER_ENV  # the events of a commit sent in binary
    return DocLedger(
        env,
        ledger_signer=load_signer(folder.ledger_key),
        blobs=folder.blobs,
        sources=SourceSignatures(folder.blobs, settings),
        clock=clock,
        cache_guard=CacheGuard,
        attachment_validator=PdfAttachmentReader(folder.blobs) if settings.pdf_signatures
        else None,
        incoming_stamper=PdfIncomingStamper(folder.blobs) if settings.pdf_stamp_incoming
        else None,
        pdf_policy=settings.pdf_policy(),
    )


def init_ledger(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> DocLedger:
    """Create the data folder, the ledger and registrar keys, and the genesis."""
    folder = DataFolder(settings.data)
    if folder.ledger_key.exists():
        raise DuplicateError(f"{settings.data} already holds a ledger")
    folder.root.mkdir(parents=True, exist_ok=True)
    ledger = write_key_pair(Ed25519Signer.generate(), folder.ledger_key)
    registrar = write_key_pair(Ed25519Signer.generate(), folder.registrar_key)
    app = open_ledger(settings, clock=clock)
    registrar_signer = load_signer(registrar)
    fields = {
        "origin": settings.origin,
        "registrar_key": registrar_signer.public_key.to_spec(),
        "ledger_key": load_public_key(ledger).to_spec(),
        "max_clock_skew_seconds": settings.max_clock_skew_seconds,
    }
    app.execute(
        sign_command(registrar_signer, "ledger.init", fields, agency="registrar", staff="init",
                     issued_at=clock())
    )
    return app


def open_log(settings: Settings, app: DocLedger, *, stamp: Stamp | None = None) -> LedgerLog:
    """The Merkle log over ``app``'s event store, signing with the ledger key and
    publishing by the witness policy the settings name; ``stamp`` (a checkpoint body
    to a DER RFC 3161 token; default: the TSA the settings name, if any)
    time-stamps each checkpoint it publishes."""
    folder = DataFolder(settings.data)
    policy_file = settings.witness_policy
    if stamp is None and settings.tsa_url:
        # imported here: its ASN.1 and certificate modules cost every process that
        # opens the log a noticeable start-up time, and most ledgers name no TSA
        from infrastructure.timestamping import timestamp_authority

        if (authority := timestamp_authority(settings)) is not None:
            stamp = authority.stamp  # DOCLEDGER_TSA_URL
    return LedgerLog(
        app,
        load_signer(folder.ledger_key),
        checkpoint_every=settings.checkpoint_every,
        checkpoint_seconds=settings.checkpoint_seconds,
        remembered=RememberedCheckpoint(folder.remembered_checkpoint),
        policy=None if policy_file is None else read_policy(policy_file),
        policy_source=str(policy_file),
        witness_timeout=settings.witness_timeout,
        stamp=stamp,
    )


def check_witness_policy(settings: Settings) -> None:
    """Refuse, before a server listens, a witness policy that cannot be read or
    names another ledger's key (the key's name is checked when the log opens)."""
    if settings.witness_policy is None:
        return
    policy = read_policy(settings.witness_policy)
    raw = NoteKey.from_public_key("ledger", load_public_key(
        DataFolder(settings.data).ledger_key)).raw
    if policy.logs and not any(key.raw == raw for key, _ in policy.logs):
        raise PolicyError(f"the witness policy {settings.witness_policy} is not this "
                          "ledger's: its log line names another key than the ledger key "
                          "in the data folder ('docledger checkpoint --vkey' prints it)")


def trust_anchors(settings: Settings) -> tuple[PublicKey, PublicKey]:
    """The registrar and ledger public keys kept in the data folder."""
    folder = DataFolder(settings.data)
    return load_public_key(folder.registrar_key), load_public_key(folder.ledger_key)


PARALLEL_FROM = 5_000  # events: below this, starting worker processes costs more than it saves


def run_audit(
    app: DocLedger,
    *,
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    trusted_checkpoints: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    ranges: int | None = None,
    keep_at_most: int = KEEP_AT_MOST,
) -> AuditReport:
    """Audit the whole store: replay, leaves, and every stored or trusted checkpoint.

    On every core: the log is cut into ``ranges`` ranges (default: one per
    worker process, ``workers`` defaulting to the machine's cores), each replayed
    by a worker process (``infrastructure.parallel_audit``) that holds at most
    about ``keep_at_most`` replayed events in memory. Logs under
    ``PARALLEL_FROM`` events may be audited in this process in one pass.
    """
    store = LogStore(app)
    trusted = list(trusted_checkpoints)
    notes = [c.note for c in store.checkpoints()] + trusted
    report = _audit(app, store, notes, registrar_key=registrar_key, ledger_key=ledger_key,
                    progress=progress, workers=workers, ranges=ranges,
                    keep_at_most=keep_at_most)
    # the audit passed, so every trusted checkpoint was checked against the history
    anchored = max((c.size for c in open_checkpoints(trusted, ledger_key)), default=None)
    return replace(report, anchored=anchored)


def remembered_notes(settings: Settings) -> list[str]:
    """The checkpoint the ledger remembers outside its database, if any, as a
    trusted checkpoint for the audit."""
    note = RememberedCheckpoint(DataFolder(settings.data).remembered_checkpoint).read()
    return [] if note is None else [note]


def _audit(app: DocLedger, store: LogStore, notes: list[str], *, registrar_key: PublicKey,
           ledger_key: PublicKey, progress: Callable[[int], None] | None,
           workers: int | None, ranges: int | None, keep_at_most: int) -> AuditReport:
    total = app.recorder.max_notification_id() or 0
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if ranges is None:
        ranges = workers if total >= PARALLEL_FROM else 1
    with settled():  # the collector, for the replay here (infrastructure/heap.py)
        if ranges <= 1 and total < PARALLEL_FROM:
            return audit_log(log_pages(app), mapper=app.mapper, registrar_key=registrar_key,
                             ledger_key=ledger_key, checkpoints=notes, adapters=REPLAY,
                             stored_leaves=_stored_leaves(store), progress=progress)
        return run_parallel_audit(
            env=dict(app.env), total=total, notifications=lambda: log_pages(app),
            stored_leaves=_stored_leaves(store), registrar_key=registrar_key,
            ledger_key=ledger_key, notes=notes, workers=workers, ranges=ranges,
            progress=progress, keep_at_most=keep_at_most)


def _stored_leaves(store: LogStore) -> Iterator[tuple[int, int, bytes]]:
    start = 0
    while True:
        batch = store.leaves(start, PAGE)
        yield from batch
        if len(batch) < PAGE:
            return
        start = batch[-1][0] + 1
