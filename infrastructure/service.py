"""The composition root: ``bootstrap(settings)`` wires the ledger service once.

The service is what every entry point runs on (the command-line tool, the HTTP
API, the tests): the ledger application, group commit for concurrent callers,
the Merkle log that sequences and signs, and the views, followed in-process when
the settings say so. Keys and blobs come from the ledger's data folder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from domain.errors import ForkRefusedError, LogRollbackError, ReceiptPendingError
from domain.evidence.keys import Signer
from domain.exchange.ids import REGISTRAR
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger, Outcome
from infrastructure.gateway import GatewayIndex, GatewayReceipt, record_receipt
from infrastructure.group_commit import GroupCommitter
from infrastructure.keyfiles import load_command_signer, load_signer
from infrastructure.ledger import DataFolder, open_ledger, open_log
from infrastructure.settings import Settings
from infrastructure.store_faults import store_fault
from infrastructure.transparency import LedgerLog
from infrastructure.views.handlers import UnhandledEventError
from infrastructure.views.replica import Replica
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker

log = logging.getLogger("docledger.service")
T = TypeVar("T")
AFTER_COMMIT_RETRY_SECONDS = 2.0  # how long a step after a commit is retried in-process


class CatchUp:
    """Catching up with the log after a command, once for all concurrent callers:
    whoever holds the lock catches up everything committed so far; the callers
    queued behind it find their events already covered and return at once."""

    def __init__(self, run: Callable[[], int]) -> None:
        self._run = run  # catches up; returns the last position now covered
        self._lock = threading.Lock()
        self._covered = 0

    def past(self, position: int | None) -> None:
        """Make sure ``position`` is covered (None: catch up regardless)."""
        with self._lock:
            if position is not None and self._covered >= position:
                return
            self._covered = self._run()


def bootstrap(settings: Settings, *, app: DocLedger | None = None) -> LedgerService:
    """The ledger service for ``settings``: on ``app`` when one is open already
    (a ledger just initialised, a test's), else on the ledger in the data folder."""
    app = app or open_ledger(settings)
    log = open_log(settings, app)  # reads the genesis: a ledger without one stops here
    views = ViewStore(app)
    return LedgerService(
        settings=settings,
        folder=DataFolder(settings.data),
        app=app,
        log=log,
        views=views,
        view_worker=ViewWorker(app, views),
        replica=open_replica(settings, views),
        # concurrent callers (the API's threads) share transactions
        committer=GroupCommitter(app) if settings.group_commit else None,
    )


def open_replica(settings: Settings, views: ViewStore) -> Replica | None:
    """The streaming replica the views are read from, when the settings name one."""
    if settings.pg_replica is None or not views.postgres:
        return None
    return Replica(views, settings.pg_replica, user=settings.pg_user,
                   password=settings.pg_password.get_secret_value(), dbname=settings.pg_db,
                   max_lag=settings.replica_max_lag)


class LedgerService:
    """Executes signed commands on one ledger and keeps its Merkle log and views
    up with them; signs commands with the data folder's key files for the tools
    that act locally."""

    def __init__(self, *, settings: Settings, folder: DataFolder, app: DocLedger,
                 log: LedgerLog, views: ViewStore, view_worker: ViewWorker,
                 committer: GroupCommitter | None, replica: Replica | None = None) -> None:
        self.settings = settings
        self.folder = folder
        self.app = app
        self.log = log
        self.views = views
        self.view_worker = view_worker
        self.committer = committer
        self.replica = replica
        self._sequencer = CatchUp(self._sequence)
        self.closed = False
        self._projector = CatchUp(self._project)
        self._gateway: GatewayIndex | None = None

    def signer_for(self, agency: str, key: Path | None = None) -> Signer:
        """The key file given (Ed25519, or a certificate's RSA or ECDSA key), else the
        agency's key kept in the data folder."""
        if key is not None:
            return load_command_signer(key)
        if agency == REGISTRAR:
            return load_signer(self.folder.registrar_key)
        return load_signer(self.folder.agency_key(agency))

    def act(
        self,
        agency: str,
        type: str,
        fields: dict[str, Any],
        *,
        key: Path | None = None,
        staff: str = "văn thư",
        command_id: str | None = None,
    ) -> Outcome:
        """Sign ``type`` as ``agency`` (under ``command_id``, else a new one) and execute it."""
        raw = sign_command(self.signer_for(agency, key), type, fields, agency=agency, staff=staff,
                           command_id=command_id)
        return self.execute(raw)

    def execute(self, raw: bytes) -> Outcome:
        """Execute a signed command, then extend the Merkle log (and checkpoint if due).

        Once the command is committed, nothing that fails after it may read as if
        it were not: sequencing is retried briefly, and if it still fails
        ReceiptPendingError says the command is committed and the same bytes sent
        again will get the receipt.
        """
        outcome = self.committer.execute(raw) if self.committer else self.app.execute(raw)
        # a repeat's events may have been committed by another process: always look
        last = max(outcome.notification_ids, default=None) if not outcome.repeated else None
        self.after_commit(outcome, lambda: self._sequencer.past(last))
        if self.settings.follow_views_in_process:
            self._project_after_commit(last)
        return outcome

    def record_gateway_receipt(self, direction: str, agency: str, axis_id: str,
                               service_type: str, data: bytes) -> GatewayReceipt:
        """The ledger's signed receipt of edXML bytes the axis carried for ``agency``
        (``in``: delivered to it; ``out``: taken from it, ``axis_id`` the axis's
        answer), a leaf of the Merkle log (docs/gateway.md). Idempotent by
        (direction, agency, axis_id, the bytes' SHA-256): a second call returns the
        first receipt (``repeated``) and writes nothing; the same message id with
        other bytes gets a receipt of its own, since that is what the axis did."""
        receipt = record_receipt(self.app, self.folder.blobs, direction=direction,
                                 agency=agency, axis_id=axis_id, service_type=service_type,
                                 data=data)
        last = receipt.notification_id
        self.after_commit_of(f"gateway receipt {receipt.aggregate_id}",
                             lambda: self._sequencer.past(last),
                             again="ask for the same receipt again")
        if self.settings.follow_views_in_process:
            self._project_after_commit(last)
        return receipt

    def gateway_index(self) -> GatewayIndex:
        """Receipts by digest and agency, caught up with the log on every read."""
        if self._gateway is None:
            self._gateway = GatewayIndex.beside(self.app)
        return self._gateway

    def receipt(self, outcome: Outcome) -> dict[str, object]:
        """The ledger-signed receipt of a committed (or repeated) command."""
        return self.after_commit(outcome, lambda: self.log.receipt(outcome))

    def after_commit(self, outcome: Outcome, step: Callable[[], T]) -> T:
        """Run ``step`` for a committed command: retried for a moment (a store that
        blinked, a second sequencer on the same store), then ReceiptPendingError."""
        return self.after_commit_of(f"command {outcome.command_id}", step,
                                    command_id=outcome.command_id)

    def after_commit_of(self, what: str, step: Callable[[], T], *, command_id: str = "",
                        again: str = "send the same command again to get its receipt") -> T:
        """``after_commit`` for anything committed, named ``what``."""
        deadline, wait = time.monotonic() + AFTER_COMMIT_RETRY_SECONDS, 0.1
        while True:
            try:
                return step()
            except (ForkRefusedError, LogRollbackError):
                raise  # the ledger refuses to go on until its operator acts: no retry helps
            except Exception as exc:  # whatever failed, the command stays committed
                if time.monotonic() + wait > deadline:
                    log.warning("%s is committed; its receipt is pending: %s",
                                what, exc, exc_info=exc)
                    raise ReceiptPendingError(command_id, (
                        f"{what} is committed, but its receipt could not be made yet "
                        f"({store_fault(exc) or type(exc).__name__}); {again}")) from exc
            time.sleep(wait)
            wait *= 2

    def _project_after_commit(self, last: int | None) -> None:
        try:
            self._projector.past(last)
        except Exception as exc:
            if store_fault(exc) is None:
                raise
            # the views are derived: the next command or read catches them up
            log.warning("views not caught up after a commit: %s", store_fault(exc))

    def _sequence(self) -> int:
        self.log.issue_checkpoint()
        return self.log.covered

    def _project(self) -> int:
        self._catch_up_views()
        return self.views.position()

    def _catch_up_views(self) -> None:
        """Views following in-process stop at an event they cannot apply without
        failing the command that was just committed, or the read: the worker has
        recorded the failure, and readiness and check-views report it."""
        try:
            self.view_worker.catch_up()
        except UnhandledEventError:
            return

    def fresh_views(self, wait_for: int | None = None, timeout: float = 10.0) -> ViewStore:
        """The views, caught up in-process, or (with a separate worker) once they
        include notification ``wait_for``: read-your-writes after a command."""
        if self.settings.follow_views_in_process:
            self._catch_up_views()
        elif wait_for is not None:
            self.views.wait(wait_for, timeout)
        return self.views

    def read_views(self, wait_for: int | None = None, after_lsn: str | None = None,
                   timeout: float = 10.0) -> ViewStore:
        """The views a reader reads: the replica's when one is configured, keeps up
        and has replayed past ``wait_for`` (the views include that notification) and
        ``after_lsn`` (a command's ``commit_lsn``); else the primary's, once they
        include ``wait_for`` (TimeoutError if they do not within ``timeout``)."""
        views = self.fresh_views(wait_for, timeout)
        if self.replica is None:
            return views
        return self.replica.views_for(wait_for, after_lsn) or views

    def commit_lsn(self) -> str | None:
        """The primary's WAL position now (after a command committed): a reader that
        sends it back reads a replica only once it has replayed that far. None
        without a replica."""
        if self.replica is None:
            return None
        with self.views.transaction(commit=False) as c:
            c.execute("SELECT pg_current_wal_lsn()::text AS lsn")
            return str(c.fetchone()["lsn"])

    def close(self) -> None:
        """Close the store's connections (once; closing again does nothing)."""
        if self.closed:
            return
        self.closed = True
        if self.replica is not None:
            self.replica.close()
        self.app.close()
