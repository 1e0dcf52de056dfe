"""Building an audit bundle of one document from the ledger and its Merkle log.

The bundle (docs/bundle.md) holds, each with its leaf index and inclusion proof
against one signed checkpoint: the genesis, every event of the agencies
involved (sender and recipients), of the document and of each of its
deliveries, the trust anchors' and the revocation evidence's events when one of
those agencies holds a certificate-backed key (docs/trust.md), and the command
record of every command that wrote any of them.
``domain.verification.bundle.verify_bundle`` checks it offline.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import DigestMismatchError, NotFoundError
from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.exchange.agency import Agency
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.ids import REVOCATION_ID, ROOT_ID, TRUST_ID
from domain.ledger.application import DocLedger
from domain.ledger.command_log import CommandRecord
from domain.stored_state import state_field
from domain.verification.bundle_parse import FORMAT
from domain.verification.gateway import about_document, command_source
from infrastructure.blobs import BlobStore
from infrastructure.gateway import GatewayIndex

if TYPE_CHECKING:
    from infrastructure.transparency import LedgerLog


def select_events(app: DocLedger, document: UUID) -> list[tuple[str, int]]:
    """(aggregate id, version) of every event a bundle of ``document`` holds."""
    doc = app.find(Document, document)
    if doc is None:
        raise NotFoundError(f"document {document} does not exist")
    aggregates = [ROOT_ID, *(Agency.id_for(code) for code in dict.fromkeys(
        [doc.sender, *doc.recipients])), doc.id,
        *(Delivery.id_for(doc.id, code) for code in doc.recipients)]
    chosen: dict[tuple[str, int], None] = {}
    commands: dict[str, None] = {}
    certified = False  # a key an X.509 certificate vouches for is in the bundle
    for aggregate in aggregates:
        for event in app.events_of(aggregate):
            chosen[(str(event.originator_id), event.originator_version)] = None
            commands[_command_of(event.envelope)] = None
            certified = certified or isinstance(event, Agency.CertificateAdded)
    if certified:  # the anchors its certificate is validated against, offline, and the
        # revocation evidence its signatures are judged against
        for event in [*app.events_of(TRUST_ID), *app.events_of(REVOCATION_ID)]:
            chosen[(str(event.originator_id), event.originator_version)] = None
            commands[_command_of(event.envelope)] = None
    for command_id in commands:
        chosen[(str(CommandRecord.id_for(command_id)), 1)] = None
    return list(chosen)


def _command_of(envelope: dict[str, Any]) -> str:
    parsed = Envelope.from_dict(envelope)
    payload = json.loads(parsed.payload)
    if parsed.payload_type == STATEMENT_TYPE:
        return str(payload["cause"])  # delivery.arrived, written by the send command
    return str(payload["command_id"])


def build_bundle(app: DocLedger, log: LedgerLog, document: UUID, *,
                 wait_for_witnesses: bool = True, gateway: GatewayIndex | None = None,
                 blobs: BlobStore | None = None) -> dict[str, Any]:
    """The audit bundle of ``document`` against the latest published checkpoint,
    after signing one now and (``wait_for_witnesses``) offering it to the witnesses
    of the policy, if it has any, and waiting for their answers.

    Events the checkpoint does not cover (written after it, by commands running
    concurrently, or not yet cosigned by a quorum of witnesses) are left out, so
    the bundle shows the document as of the checkpoint.

    Given the ``gateway`` index, the bundle also holds the gateway receipts of the
    messages the document's evidence names (``gateway_receipts``), with their
    bytes where ``blobs`` holds them.
    """
    log.issue_checkpoint(force=True)
    checkpoint = log.publish() if wait_for_witnesses else log.published_checkpoint()
    if checkpoint is None:
        raise NotFoundError("the ledger has published no checkpoint yet")
    events: list[dict[str, Any]] = []  # the bundle's JSON, as docs/bundle.md lays it out
    for n in log.store.notifications_of(select_events(app, document)):
        try:
            index = log.store.leaf_index_of(notification_id=n.id)
        except NotFoundError:
            continue  # written after the checkpoint
        if index >= checkpoint.size:
            continue
        events.append({
            "leaf_index": index,
            "notification_id": n.id,
            "aggregate_id": str(n.originator_id),
            "version": n.originator_version,
            "topic": n.topic,
            "state": base64.b64encode(n.state).decode(),
            "proof": [h.hex() for h in log.inclusion_proof(index, checkpoint.size)],
        })
    if not any(e["aggregate_id"] == str(document) for e in events):
        raise NotFoundError(f"document {document} is not yet covered by a published "
                            f"checkpoint (size {checkpoint.size}): ask again once the "
                            "witnesses have cosigned a newer one")
    events.sort(key=lambda e: e["leaf_index"])
    bundle = {"format": FORMAT, "document": str(document), "checkpoint": checkpoint.note,
              "events": events}
    if gateway is not None:
        receipts = gateway_receipts(app, log, gateway, blobs, document, events, checkpoint.size)
        if receipts:
            bundle["gateway"] = receipts
    if checkpoint.timestamp_token is not None:
        bundle["checkpoint_timestamp"] = base64.b64encode(checkpoint.timestamp_token).decode()
    return bundle


def gateway_receipts(app: DocLedger, log: LedgerLog, gateway: GatewayIndex,
                     blobs: BlobStore | None, document: UUID, events: list[dict[str, Any]],
                     size: int) -> list[dict[str, Any]]:
    """The receipts about ``document`` (``about_document``) the checkpoint of ``size``
    covers, as bundle entries: the stored event, its proof, and the bytes if kept."""
    doc = app.find(Document, document)
    assert doc is not None
    sources = {s for e in events if (s := command_source(_payload(e["state"]))) is not None}
    parties = {doc.sender, *doc.recipients}
    found = {r.aggregate_id: r for r in [*gateway.of_hashes(sources),
                                         *gateway.by_document_id(doc.document_id)]}
    entries = []
    for n in log.store.notifications_of([(str(r.aggregate_id), 1) for r in found.values()]):
        statement = _statement(n.state)
        if not about_document(statement, sources=sources, document_id=doc.document_id,
                              parties=parties):
            continue
        try:
            index = log.store.leaf_index_of(notification_id=n.id)
        except NotFoundError:
            continue
        if index >= size:
            continue
        entry: dict[str, Any] = {
            "leaf_index": index, "notification_id": n.id,
            "aggregate_id": str(n.originator_id), "version": n.originator_version,
            "topic": n.topic, "state": base64.b64encode(n.state).decode(),
            "proof": [h.hex() for h in log.inclusion_proof(index, size)]}
        data = _bytes(blobs, statement["sha256"])
        if data is not None:
            entry["data"] = base64.b64encode(data).decode()
        entries.append(entry)
    return sorted(entries, key=lambda e: e["leaf_index"])


def _payload(state: str) -> dict[str, Any]:
    envelope = state_field(base64.b64decode(state), "envelope")
    payload = json.loads(Envelope.from_dict(envelope).payload)
    return payload if isinstance(payload, dict) else {}


def _statement(state: bytes) -> dict[str, Any]:
    statement = json.loads(Envelope.from_dict(state_field(state, "envelope")).payload)
    assert isinstance(statement, dict)
    return statement


def _bytes(blobs: BlobStore | None, sha256: str) -> bytes | None:
    if blobs is None:
        return None
    try:
        return blobs.verified_path(sha256).read_bytes()
    except (NotFoundError, DigestMismatchError):
        return None  # the receipt still proves the digest; the bytes are the blob store's
