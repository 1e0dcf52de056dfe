"""One synchronisation of an agency's ledger with the axis (docs/axis.md).

1. fetch the agency directory into ``axis_directory``;
2. pull: list the received messages (documents, then status messages); for each,
   mark it ``processing`` on the axis, get its bytes, import them, have the ledger
   receipt them (the notarised gateway), acknowledge it ``done`` — or ``fail``
   with the reason, when the importer refuses it for good;
3. push: send what the exporter lists since the cursor, each under its stable id
   as the idempotency key, receipt what the axis took, and remember its id.

The connector knows edXML only as bytes: what a message means to the ledger is
the seam's business. ``Importer`` and ``Exporter`` are that seam; the ledger's
edXML mapping implements them. Every step is recorded in ``AxisState`` after it
happened, so a run killed anywhere is finished by the next (docs/axis.md says
why nothing is doubled or lost at each point).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, get_args

from infrastructure.axis_client import (
    AxisClient,
    AxisRefusedError,
    MessageTooLargeError,
    Received,
    ServiceType,
    TransportStatus,
)
from infrastructure.axis_state import (
    ACKNOWLEDGED,
    IMPORTED,
    IMPORTING,
    REFUSAL_SENT,
    REFUSED,
    SENDING,
    AxisState,
)

REASON_CHARS = 500  # of a refusal's reason told to the axis


class MessageRefused(Exception):
    """The importer will never accept this message (not merely: not now)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageDeferred(Exception):
    """The importer cannot take this message now, through no fault of the message
    (its sender is not registered yet, say): it stays unacknowledged, the axis
    offers it again, and the run goes on with the next."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """What the importer made of a message: ``repeated`` when it had imported the
    same message (by its identity) before and changed nothing now."""

    repeated: bool
    note: str = ""  # e.g. the ledger commands it recorded, for the progress line


class Importer(Protocol):
    def import_message(self, data: bytes, as_agency: str) -> ImportResult:
        """Record the message (edXML bytes as the axis delivered them) in the ledger,
        acting as ``as_agency``, once per message identity: the same message again
        returns ``repeated``. Raises ``MessageRefused`` for a message it will never
        accept, ``MessageDeferred`` for one it cannot take yet; any other exception
        means "not imported, try again later" and ends the run."""
        ...


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """A message the ledger has for the axis: a document or a status message."""

    id: str  # stable: the same message always has the same id (the idempotency key)
    position: int  # where it stands in the exporter's order
    service_type: ServiceType
    data: bytes


class Exporter(Protocol):
    def outgoing(self, as_agency: str, since: int) -> list[Outgoing]:
        """The messages ``as_agency`` has to send whose position is after ``since``,
        in position order."""
        ...


class Notary(Protocol):
    def record_gateway_receipt(self, direction: str, agency: str, axis_id: str,
                               service_type: str, data: bytes) -> object:
        """The ledger's receipt of bytes the axis delivered (``in``) or took
        (``out``); idempotent by (direction, agency, axis id, the bytes' digest).
        ``LedgerService`` is one (docs/gateway.md)."""
        ...


Hook = Callable[[str], None]  # called at each named point of a run (docs/axis.md)


@dataclass
class Summary:
    pulled: int = 0
    imported: int = 0
    acknowledged: int = 0
    refused: int = 0
    pushed: int = 0
    push_refused: int = 0
    skipped: int = 0
    directory: int = 0

    def counts(self) -> dict[str, int]:
        return {"pulled": self.pulled, "imported": self.imported,
                "acknowledged": self.acknowledged, "refused": self.refused,
                "pushed": self.pushed, "push_refused": self.push_refused,
                "skipped": self.skipped, "directory": self.directory}


def _nothing(point: str) -> None:
    return None


class AxisSync:
    """Synchronises one agency's ledger with the axis through one client."""

    def __init__(self, *, client: AxisClient, state: AxisState, importer: Importer,
                 exporter: Exporter, agency: str, hook: Hook = _nothing,
                 progress: Callable[[str], None] = _nothing,
                 notary: Notary | None = None) -> None:
        """``notary`` receipts every message pulled or pushed (the notarised gateway,
        docs/gateway.md); without one nothing is receipted."""
        self.client = client
        self.notary = notary
        self.state = state
        self.importer = importer
        self.exporter = exporter
        self.agency = agency
        self.hook = hook
        self.progress = progress

    def run(self) -> Summary:
        summary = Summary()
        summary.directory = self.state.replace_directory(self.client.get_agencies_list())
        self.pull(summary)
        self.push(summary)
        return summary

    # ---- pull --------------------------------------------------------------------

    def pull(self, summary: Summary) -> None:
        for service_type in get_args(ServiceType):
            for item in self.client.get_received_edoc_list(self.agency, service_type):
                summary.pulled += 1
                try:
                    self._take(item, summary)
                except AxisRefusedError as exc:
                    # this message only (gone, recalled …): what was recorded stands,
                    # and the next run takes it up from there if the axis lists it again
                    summary.skipped += 1
                    self.progress(f"skipped {item.doc_id}: {exc}")

    def _take(self, item: Received, summary: Summary) -> None:
        row = self.state.received(self.agency, item.doc_id)
        if row is not None and row.state in (IMPORTED, ACKNOWLEDGED):
            # imported by an earlier run, which stopped before the axis heard of it
            self._acknowledge(item, "done", summary)
            return
        if row is not None and row.state in (REFUSED, REFUSAL_SENT):
            self._refuse(item, row.error or "refused", summary)
            return
        if item.status != "processing":
            self.client.update_status(self.agency, item.doc_id, "processing")
        try:
            data = self.client.get_edoc(self.agency, item.doc_id)
        except MessageTooLargeError as exc:  # it will not get smaller: refused for good
            self._mark(item, REFUSED, error=str(exc))
            summary.refused += 1
            self.progress(f"refused {item.doc_id} from {item.sender}: {exc}")
            self._refuse(item, str(exc), summary)
            return
        self._import(item, data, summary)

    def _import(self, item: Received, data: bytes, summary: Summary) -> None:
        self._mark(item, IMPORTING, sha256=hashlib.sha256(data).hexdigest())
        self.hook("after-get")
        try:
            result = self.importer.import_message(data, self.agency)
        except MessageRefused as exc:
            # refused, but delivered all the same: receipted before the state says so
            self._notarise("in", item.doc_id, item.service_type, data)
            self._mark(item, REFUSED, error=exc.reason, data=data)
            summary.refused += 1
            self.progress(f"refused {item.doc_id} from {item.sender}: {exc.reason}")
            self.hook("after-refuse")
            self._refuse(item, exc.reason, summary)
            return
        except MessageDeferred as exc:  # not acknowledged: the axis offers it again
            summary.skipped += 1
            self.progress(f"deferred {item.doc_id} from {item.sender}: {exc.reason}")
            return
        self.hook("after-import")
        self._notarise("in", item.doc_id, item.service_type, data)
        self.hook("after-receipt")
        self._mark(item, IMPORTED)
        if not result.repeated:
            summary.imported += 1
        self.progress(f"imported {item.doc_id} from {item.sender}"
                      + (" (already in the ledger)" if result.repeated else "")
                      + (f": {result.note}" if result.note else ""))
        self.hook("before-ack")
        self._acknowledge(item, "done", summary)

    def _acknowledge(self, item: Received, status: TransportStatus, summary: Summary) -> None:
        self.client.update_status(self.agency, item.doc_id, status)
        self._mark(item, ACKNOWLEDGED)
        summary.acknowledged += 1

    def _refuse(self, item: Received, reason: str, summary: Summary) -> None:
        self.client.update_status(self.agency, item.doc_id, "fail", reason[:REASON_CHARS])
        self._mark(item, REFUSAL_SENT)

    def _mark(self, item: Received, state: str, *, sha256: str | None = None,
              error: str | None = None, data: bytes | None = None) -> None:
        self.state.mark_received(self.agency, item.doc_id, service_type=item.service_type,
                                 sender=item.sender, state=state, sha256=sha256, error=error,
                                 data=data)

    def _notarise(self, direction: str, axis_id: str, service_type: str, data: bytes) -> None:
        """The gateway receipt; idempotent, so a step re-run after a crash re-records
        nothing (the same id with other bytes is receipted too: docs/gateway.md)."""
        if self.notary is not None:
            self.notary.record_gateway_receipt(direction, self.agency, axis_id, service_type,
                                               data)

    # ---- push --------------------------------------------------------------------

    def push(self, summary: Summary) -> None:
        for message in self.exporter.outgoing(self.agency, self.state.cursor(self.agency)):
            known = self.state.sent(self.agency, message.id)
            # never tried, or tried without the axis's answer recorded (a message sent,
            # or refused for good, is done with)
            if known is None or known[0] == SENDING:
                self._send(message, summary)
            self.state.advance_cursor(self.agency, message.position)

    def _send(self, message: Outgoing, summary: Summary) -> None:
        self.state.mark_sending(self.agency, message.id, message.service_type)
        try:
            axis_id = self.client.send_edoc(self.agency, message.data, message.service_type,
                                            idempotency_key=message.id)
        except AxisRefusedError as exc:
            self.state.mark_send_refused(self.agency, message.id, str(exc))
            summary.push_refused += 1
            self.progress(f"the axis refused {message.id}: {exc}")
            return
        self.hook("after-send")
        self._notarise("out", axis_id, message.service_type, message.data)
        self.hook("after-send-receipt")
        self.state.mark_sent(self.agency, message.id, axis_id)
        summary.pushed += 1
        self.progress(f"pushed {message.id} as {axis_id}")
