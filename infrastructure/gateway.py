"""Gateway receipts: recording them, and finding them again (docs/gateway.md).

``record_receipt`` keeps the bytes in the blob store, then commits the receipt's
record (a ledger statement of its own, one leaf of the Merkle log). It is
idempotent by (direction, agency, axis id, SHA-256): the record's id is derived
from them, so a second call finds the first receipt and writes nothing; the
same message id with other bytes is another record, another receipt.

``GatewayIndex`` is a table derived from the log, never the only copy of
anything: it follows the event store (receipts' events only, by topic, from the
last position it read) before every read, so a receipt committed by a process
that died before anything else is still found.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import topics
from domain.errors import NotFoundError
from domain.evidence.envelope import Envelope
from domain.evidence.statements import gateway_statement, sign_statement
from domain.exchange.gateway import (
    GatewayReceiptRecord,
    check_receipt_request,
    message_facts,
)
from domain.ledger.application import DocLedger
from domain.stored_state import state_field
from domain.verification.gateway import PROOF_FORMAT
from infrastructure.blobs import BlobStore
from infrastructure.log_store import EventsTable
from infrastructure.schema_lock import hold_schema_lock

if TYPE_CHECKING:
    from infrastructure.transparency import LedgerLog

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS {p}gateway_receipts (notification_id {int} PRIMARY KEY, "
    "aggregate_id TEXT NOT NULL UNIQUE, direction TEXT NOT NULL, agency TEXT NOT NULL, "
    "axis_id TEXT NOT NULL, sha256 TEXT NOT NULL, document_id TEXT, at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS gateway_receipts_sha256 ON {p}gateway_receipts (sha256)",
    "CREATE INDEX IF NOT EXISTS gateway_receipts_agency ON {p}gateway_receipts (agency)",
    "CREATE INDEX IF NOT EXISTS gateway_receipts_document ON {p}gateway_receipts (document_id)",
    # how far the index has read the log (receipts are rare: without it every read
    # would scan the whole log after the last receipt)
    "CREATE TABLE IF NOT EXISTS {p}gateway_position (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "position {int} NOT NULL)",
]
SCAN = 20_000  # positions of the log read per transaction


@dataclass(frozen=True, kw_only=True)
class GatewayReceipt:
    """A gateway receipt as the ledger holds it: the signed statement and where
    its record is in the log."""

    aggregate_id: UUID
    notification_id: int | None  # None: committed, its position not read back
    envelope: dict[str, Any]  # the DSSE envelope of the ledger's statement
    statement: dict[str, Any]  # its payload, decoded
    repeated: bool = False  # recorded by an earlier call

    @property
    def sha256(self) -> str:
        return str(self.statement["sha256"])

    def as_dict(self) -> dict[str, Any]:
        return {"aggregate_id": str(self.aggregate_id), "notification_id": self.notification_id,
                "statement": self.statement, "envelope": self.envelope,
                "repeated": self.repeated}


def receipt_of(record: GatewayReceiptRecord, notification_id: int | None, *,
               repeated: bool) -> GatewayReceipt:
    envelope = record.statement_envelope
    statement = json.loads(Envelope.from_dict(envelope).payload)
    return GatewayReceipt(aggregate_id=record.id, notification_id=notification_id,
                          envelope=envelope, statement=statement, repeated=repeated)


def record_receipt(app: DocLedger, blobs: BlobStore, *, direction: str, agency: str,
                   axis_id: str, service_type: str, data: bytes) -> GatewayReceipt:
    """The receipt of ``data`` (see the module's docstring); writes nothing when
    one exists for the same four, or when the request is refused."""
    check_receipt_request(direction, agency, axis_id, service_type)
    sha256 = hashlib.sha256(data).hexdigest()
    record_id = GatewayReceiptRecord.id_for(direction, agency, axis_id, sha256)
    found = app.find(GatewayReceiptRecord, record_id)
    if found is not None:
        return receipt_of(found, None, repeated=True)
    blobs.put(data, sha256=sha256)  # first: a receipt never names bytes the store lacks
    at = app.received_time()
    statement = gateway_statement(direction=direction, agency=agency, axis_id=axis_id,
                                  service_type=service_type, sha256=sha256, size=len(data),
                                  facts=message_facts(data), at=at)
    envelope = sign_statement(statement, app.ledger_signer).to_dict()
    record = GatewayReceiptRecord.record(statement, envelope=envelope, at=at)
    position = app.record_statement(record)
    if position is None:  # a concurrent call recorded it first
        first = app.find(GatewayReceiptRecord, record_id)
        assert first is not None
        return receipt_of(first, None, repeated=True)
    return GatewayReceipt(aggregate_id=record.id, notification_id=position,
                          envelope=envelope, statement=statement)


@dataclass(frozen=True, kw_only=True)
class IndexedReceipt:
    notification_id: int
    aggregate_id: UUID
    direction: str
    agency: str
    axis_id: str
    sha256: str
    document_id: str | None  # the message's edXML DocumentId, as the receipt records it
    at: str


class GatewayIndex:
    """Receipts by SHA-256 and by agency, derived from the log (see the module)."""

    def __init__(self, table: EventsTable) -> None:
        self.table = table
        with table.datastore.transaction(commit=True) as c:
            if table.postgres:
                hold_schema_lock(c)
            for statement in SCHEMA:
                c.execute(table.sql(statement.format(
                    p="{p}", int="BIGINT" if table.postgres else "INTEGER")))

    @classmethod
    def beside(cls, app: DocLedger) -> GatewayIndex:
        return cls(EventsTable.of(app.recorder))

    def catch_up(self) -> None:
        """Index every receipt the log holds after the position read last, a window
        of positions per transaction. Commit order is position order (the event
        store's table lock on PostgreSQL, one writer on SQLite), so nothing below
        the highest committed position can appear later."""
        t = self.table
        while True:
            with t.datastore.transaction(commit=True) as c:
                c.execute(t.sql("SELECT position FROM {p}gateway_position WHERE one = 1"))
                row = c.fetchone()
                done = 0 if row is None else int(row["position"])
                c.execute(f"SELECT coalesce(max({t.position}), 0) AS top FROM {t.name}")
                top = int(c.fetchone()["top"])
                if top <= done:
                    return
                end = min(top, done + SCAN)
                c.execute(t.sql(f"SELECT {t.position} AS position, state FROM {t.name} "
                                f"WHERE {t.position} > %s AND {t.position} <= %s "
                                f"AND topic = %s ORDER BY {t.position}"),
                          (done, end, topics.GATEWAY_RECORDED))
                rows = [_row(int(r["position"]), bytes(r["state"])) for r in c.fetchall()]
                if rows:
                    c.executemany(t.sql(
                        "INSERT INTO {p}gateway_receipts (notification_id, aggregate_id, "
                        "direction, agency, axis_id, sha256, document_id, at) VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"), rows)
                c.execute(t.sql(
                    "INSERT INTO {p}gateway_position (one, position) VALUES (1, %s) "
                    "ON CONFLICT (one) DO UPDATE SET position = excluded.position "
                    "WHERE {p}gateway_position.position < excluded.position"), (end,))
            if end == top:
                return

    def by_sha256(self, sha256: str) -> list[IndexedReceipt]:
        return self._select("sha256 = %s", (sha256,))

    def by_agency(self, agency: str) -> list[IndexedReceipt]:
        return self._select("agency = %s", (agency,))

    def by_document_id(self, document_id: str) -> list[IndexedReceipt]:
        """Receipts of messages whose edXML DocumentId (a status message's: the one
        it responds for) is ``document_id``."""
        return self._select("document_id = %s", (document_id,))

    def of_hashes(self, hashes: Iterable[str]) -> list[IndexedReceipt]:
        found: list[IndexedReceipt] = []
        for sha256 in dict.fromkeys(hashes):
            found.extend(self.by_sha256(sha256))
        return sorted(found, key=lambda r: r.notification_id)

    def _select(self, where: str, values: tuple[object, ...]) -> list[IndexedReceipt]:
        self.catch_up()
        with self.table.datastore.transaction(commit=False) as c:
            c.execute(self.table.sql(
                "SELECT notification_id, aggregate_id, direction, agency, axis_id, sha256, "
                "document_id, at "
                f"FROM {{p}}gateway_receipts WHERE {where} ORDER BY notification_id"), values)
            return [IndexedReceipt(notification_id=int(r["notification_id"]),
                                   aggregate_id=UUID(r["aggregate_id"]),
                                   direction=r["direction"], agency=r["agency"],
                                   axis_id=r["axis_id"], sha256=r["sha256"],
                                   document_id=r["document_id"], at=r["at"])
                    for r in c.fetchall()]


def _row(position: int, state: bytes) -> tuple[object, ...]:
    envelope = state_field(state, "envelope")
    statement = json.loads(base64.b64decode(envelope["payload"]))
    record_id = GatewayReceiptRecord.id_for(statement["direction"], statement["agency"],
                                            statement["axis_id"], statement["sha256"])
    return (position, str(record_id), statement["direction"], statement["agency"],
            statement["axis_id"], statement["sha256"], statement["document_id"],
            statement["at"])


def prove(log: LedgerLog, index: GatewayIndex, sha256: str, *, agency: str | None = None,
          data: bytes | None = None, wait_for_witnesses: bool = True) -> dict[str, Any]:
    """A gateway proof (``domain.verification.gateway.verify_gateway_proof``) of the
    receipts of the bytes with ``sha256`` (those for ``agency`` only, if given),
    against the latest published checkpoint, signed now if the log grew. NotFoundError
    if there is none, or none the checkpoint covers yet."""
    log.issue_checkpoint(force=True)
    checkpoint = log.publish() if wait_for_witnesses else log.published_checkpoint()
    found = [r for r in index.by_sha256(sha256) if agency is None or r.agency == agency]
    if checkpoint is None or not found:
        raise NotFoundError(f"no gateway receipt of sha256 {sha256}"
                            + (f" for {agency}" if agency else ""))
    receipts = []
    for n in log.store.notifications_of([(str(r.aggregate_id), 1) for r in found]):
        leaf = log.store.leaf_index_of(notification_id=n.id)
        if leaf >= checkpoint.size:
            continue
        receipts.append({
            "leaf_index": leaf, "notification_id": n.id, "aggregate_id": str(n.originator_id),
            "version": n.originator_version, "topic": n.topic,
            "state": base64.b64encode(n.state).decode(),
            "proof": [h.hex() for h in log.inclusion_proof(leaf, checkpoint.size)]})
    if not receipts:
        raise NotFoundError(f"the receipts of sha256 {sha256} are not yet covered by a "
                            f"published checkpoint (size {checkpoint.size}): ask again once "
                            "the witnesses have cosigned a newer one")
    proof: dict[str, Any] = {"format": PROOF_FORMAT, "checkpoint": checkpoint.note,
                             "receipts": sorted(receipts, key=lambda r: r["leaf_index"])}
    if data is not None:
        proof["data"] = base64.b64encode(data).decode()
    return proof
