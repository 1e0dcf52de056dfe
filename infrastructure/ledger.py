"""Composition root: wires settings, keys, blobs and persistence into a ledger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from eventsourcing.persistence import Notification

from domain.application import DocLedger, utc_now
from domain.audit import AuditReport, audit_log
from domain.errors import DuplicateError, NotInitialisedError
from domain.keys import Ed25519Signer, PublicKey
from domain.signing import sign_command
from infrastructure.blobs import BlobStore
from infrastructure.keyfiles import load_public_key, load_signer, write_key_pair
from infrastructure.settings import Settings
from infrastructure.transparency import LedgerLog

PAGE = 1000


@dataclass(frozen=True)
class DataFolder:
    """The layout of a ledger's local data folder."""

    root: Path

    @property
    def ledger_key(self) -> Path:
        return self.root / "keys" / "ledger.key"

    @property
    def registrar_key(self) -> Path:
        return self.root / "keys" / "registrar.key"

    def agency_key(self, code: str) -> Path:
        return self.root / "keys" / "agencies" / f"{code}.key"

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
    return DocLedger(
        settings.eventsourcing_env(),
        ledger_signer=load_signer(folder.ledger_key),
        blobs=folder.blobs,
        clock=clock,
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
        sign_command(registrar_signer, "ledger.init", fields, agency="registrar", staff="init")
    )
    return app


def open_log(settings: Settings, app: DocLedger) -> LedgerLog:
    """The Merkle log over ``app``'s event store, signing with the ledger key."""
    return LedgerLog(
        app,
        load_signer(DataFolder(settings.data).ledger_key),
        checkpoint_every=settings.checkpoint_every,
        checkpoint_seconds=settings.checkpoint_seconds,
    )


def read_log(app: DocLedger, start: int = 1, page: int = PAGE) -> Iterator[Notification]:
    """Every stored event in notification order, read page by page."""
    while True:
        batch = app.recorder.select_notifications(start, page)
        yield from batch
        if len(batch) < page:
            return
        start = batch[-1].id + 1


def trust_anchors(settings: Settings) -> tuple[PublicKey, PublicKey]:
    """The registrar and ledger public keys kept in the data folder."""
    folder = DataFolder(settings.data)
    return load_public_key(folder.registrar_key), load_public_key(folder.ledger_key)


def run_audit(
    app: DocLedger,
    *,
    registrar_key: PublicKey,
    ledger_key: PublicKey,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    return audit_log(
        read_log(app),
        mapper=app.mapper,
        registrar_key=registrar_key,
        ledger_key=ledger_key,
        progress=progress,
    )
