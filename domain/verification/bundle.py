"""Offline verification of an audit bundle (docs/bundle.md).

An audit bundle is one JSON file holding everything needed to check one
document's history without the ledger's database: the stored events of the
document, of its deliveries, of every agency involved and of the genesis, the
command record of every command that wrote them, each with its leaf index and
RFC 9162 inclusion proof against one signed checkpoint.

This module is deliberately self-contained: stored event states are decoded
with plain ``json`` (domain/stored_state.py, not eventsourcing), and aggregate
ids are recomputed with ``uuid5`` (domain/exchange/ids.py), so an outside
auditor can reimplement every step from the documentation. Step 1, reading the
JSON into a typed bundle, is domain/verification/bundle_parse.py; the command
catalogue (domain/exchange/catalogue.py) says which command may write which
record. ``verify_bundle`` runs the numbered steps in order, reports each one
that passes, and raises ``BundleError`` naming the step and the event on the
first problem. A bundle may carry an RFC 3161 time-stamp of its checkpoint;
step 2 checks it against the TSA certificates the caller trusts
(domain/evidence/timestamp.py).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from cryptography.hazmat.primitives.serialization import Encoding

from domain import topics
from domain.errors import DocLedgerError, VerificationError
from domain.evidence.certificates import (
    REGISTRAR_BINDING,
    Anchor,
    certificate_from_b64,
    check_issuer,
    fingerprint,
    validate_agency_certificate,
)
from domain.evidence.checkpoint import Checkpoint, NoteKey, open_checkpoint
from domain.evidence.envelope import COMMAND_TYPE, STATEMENT_TYPE, Envelope
from domain.evidence.incoming_stamp import STATEMENT as STAMPED
from domain.evidence.key_validity import certificate_covers, key_valid_at
from domain.evidence.keys import PublicKey
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import verify_inclusion
from domain.evidence.pdf_report import STATEMENT as PDF_REPORT
from domain.evidence.pdf_report import report_lines
from domain.evidence.policy import Policy
from domain.evidence.revocation import certificate_ref, read_crl, read_ocsp
from domain.evidence.timestamp import (
    TimestampError,
    TimeVerdict,
    iso_utc,
    read_certificates,
    verify_timestamp,
)
from domain.exchange.catalogue import CATALOGUE, Role, record_topic_of, writing
from domain.exchange.ids import (
    REGISTRAR,
    REVOCATION_ID,
    ROOT_ID,
    TRUST_ID,
    agency_id,
    command_record_id,
    delivery_id,
    document_id,
)
from domain.exchange.revocations import KnownRevocation, revoked_before
from domain.stored_state import decode_state
from domain.verification.bundle_parse import (
    FORMAT,
    RECORD_ACCEPTED_TOPIC,
    BundleError,
    BundleEvent,
    GatewayEntry,
    parse_bundle,
)
from domain.verification.gateway import (
    about_document,
    check_receipt_bytes,
    command_source,
    open_receipt_event,
)

# Topics of the records a bundle may hold (their stable names: domain/topics.py).
ROOT_TOPIC = topics.ROOT + "."
AGENCY_TOPIC = topics.AGENCY + "."
TRUST_TOPIC = topics.TRUST + "."
REVOCATION_TOPIC = topics.REVOCATION + "."
DOCUMENT_TOPIC = topics.DOCUMENT + "."
DELIVERY_TOPIC = topics.DELIVERY + "."
RECORD_TOPIC = topics.COMMAND_RECORD + "."
GENESIS_TOPIC = topics.GENESIS

# Step 7 uses threads only where each gets at least this many distinct
# signatures: below that, starting them costs more than they save.
# What a malformed bundle makes a check raise (a value of the wrong type or shape where
# the format has an object): the step fails, naming it, instead of the tool failing.
MALFORMED = (DocLedgerError, ValueError, KeyError, TypeError, AttributeError)
PARALLEL_SIGNATURES = 16


@dataclass(frozen=True, kw_only=True)
class KeyPeriod:
    key: PublicKey
    effective_from: datetime
    added_by: str  # command id
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    # the validity period of the certificate vouching for the key, if one does
    not_before: datetime | None = None
    not_after: datetime | None = None
    ref: tuple[str, str] | None = None  # what revocation evidence names its certificate by

    def valid_for(self, at: datetime, command_id: str) -> bool:
        """Valid for an event of ``command_id`` at ``at``.

        A command's own key changes do not count for it: the ledger checks the
        key against the agency as it stood before the command.
        """
        if self.added_by == command_id:
            return False
        revoked_at = None if self.revoked_by == command_id else self.revoked_at
        return key_valid_at(at, effective_from=self.effective_from, revoked_at=revoked_at,
                            not_before=self.not_before, not_after=self.not_after)

    def why_not(self, at: datetime) -> str:
        if self.revoked_at is not None and at >= self.revoked_at:
            return f"revoked at {self.revoked_at.isoformat()}"
        if not certificate_covers(at, not_before=self.not_before, not_after=self.not_after):
            return (f"its certificate is valid from {_iso(self.not_before)} to "
                    f"{_iso(self.not_after)}")
        return f"effective from {self.effective_from.isoformat()}"


@dataclass(frozen=True, kw_only=True)
class BundleSummary:
    """What a verified bundle shows."""

    document: UUID
    reference: str
    sender: str
    statuses: dict[str, str]  # recipient -> last status code, or "removed"
    events: int
    checkpoint_size: int
    origin: str
    # the checkpoint's RFC 3161 time-stamp: verified, or present but not checked
    checkpoint_time: TimeVerdict | None = None
    timestamp_unchecked: bool = False
    # the ledger's PDF reports: name, sha256, verdict, signers, re-checked or not
    attachments: tuple[dict[str, Any], ...] = ()
    gateway_receipts: int = 0  # verified by step 9

    def as_dict(self) -> dict[str, Any]:
        timestamp = ({"checked": True, **self.checkpoint_time.as_dict()}
                     if self.checkpoint_time else
                     {"checked": False} if self.timestamp_unchecked else None)
        return {"document": str(self.document), "reference": self.reference,
                "sender": self.sender, "statuses": dict(self.statuses),
                "events": self.events, "checkpoint_size": self.checkpoint_size,
                "origin": self.origin, "checkpoint_timestamp": timestamp,
                "gateway_receipts": self.gateway_receipts,
                "attachments": [dict(a) for a in self.attachments]}


Report = Callable[[int, str], None]


class PdfRecheck(Protocol):
    """Validates a PDF's signatures again, offline, as of the time of the ledger's
    report on it (infrastructure/pdf_signatures.py); raises VerificationError if
    the result is not what the report says, else returns a line on what holds."""

    def __call__(self, report: Mapping[str, Any], data: bytes) -> str: ...


def verify_bundle(bundle: Any, vkey: str, report: Report | None = None, *,
                  tsa_certs: Sequence[bytes] = (), policy: Policy | None = None,
                  attachments: Mapping[str, bytes] | None = None,
                  pdf_recheck: PdfRecheck | None = None) -> BundleSummary:
    """Verify an audit bundle offline against the ledger's verifier key ``vkey``.

    ``tsa_certs`` (PEM or DER) are the time-stamping authorities' certificates the
    caller trusts: the checkpoint's time-stamp, if the bundle has one, must verify
    against them; without any, it is reported as present but not checked. Given a
    witness ``policy``, the checkpoint's cosignatures must meet its quorum.
    ``attachments`` (by SHA-256) are files of the document given beside the
    bundle: a PDF the ledger reported on is checked again with ``pdf_recheck``.
    """
    trusted = [der for data in tsa_certs for der in read_certificates(data)]
    verifier = _Verifier(bundle, vkey, report or (lambda n, text: None), trusted, policy)
    verifier.attachments = dict(attachments or {})
    verifier.pdf_recheck = pdf_recheck
    return verifier.run()


class _Verifier:
    def __init__(self, bundle: Any, vkey: str, report: Report,
                 tsa_certs: list[bytes], policy: Policy | None = None) -> None:
        self.bundle = bundle
        self.vkey = vkey
        self.policy = policy
        self.report = report
        self.tsa_certs = tsa_certs
        self.checkpoint_time: TimeVerdict | None = None
        self.events: list[BundleEvent] = []
        self.by_key: dict[tuple[UUID, int], BundleEvent] = {}
        self.streams: dict[UUID, list[BundleEvent]] = {}
        self.records: dict[str, BundleEvent] = {}  # command id -> its CommandRecord event
        self.statements: dict[str, dict[str, Any]] = {}  # command id -> ledger.accepted
        self.agencies: dict[str, dict[str, KeyPeriod]] = {}
        self.pdf_reports: list[dict[str, Any]] = []  # attachment.validated, verified
        self.attachments: dict[str, bytes] = {}
        self.pdf_recheck: PdfRecheck | None = None
        self.rechecked: set[str] = set()
        self.gateway_entries: list[GatewayEntry] = []
        self.receipts = 0
        self.step = 0

    def fail(self, message: str, event: BundleEvent | None = None) -> BundleError:
        return BundleError(self.step, f"{event.where}: {message}" if event else message)

    def run(self) -> BundleSummary:
        for step, check in enumerate((self.format, self.checkpoint, self.inclusion,
                                      self.completeness, self.genesis, self.key_histories,
                                      self.signatures, self.commands, self.gateway),
                                     start=1):
            self.step = step
            try:
                texts = check()
            except BundleError:
                raise
            except MALFORMED as exc:
                raise self.fail(f"{type(exc).__name__}: {exc}") from None
            for text in (texts,) if isinstance(texts, str) else texts:
                self.report(step, text)
        self.step = 10
        try:
            summary = self.summary()
        except MALFORMED as exc:
            raise self.fail(f"{type(exc).__name__}: {exc}") from None
        statuses = ", ".join(f"{code} {status}" for code, status in summary.statuses.items())
        self.report(10, f"document {summary.reference} from {summary.sender}: "
                       f"{statuses or 'not sent'}")
        self.step = 11
        try:
            pdf_lines = self.pdf_signatures()
        except MALFORMED as exc:
            raise self.fail(f"{type(exc).__name__}: {exc}") from None
        for text in pdf_lines:
            self.report(11, text)
        return replace(summary, attachments=tuple(
            {"name": p["attachment"]["name"], "sha256": p["attachment"]["sha256"],
             "at": p["at"], "verdict": p["verdict"],
             "signers": [(s.get("signer") or {}).get("subject") for s in p["signatures"]],
             "rechecked": p["attachment"]["sha256"] in self.rechecked}
            for p in self.pdf_reports))

    # ---- 11 --------------------------------------------------------------------------

    def pdf_signatures(self) -> list[str]:
        """Each PDF report the ledger signed; a PDF given beside the bundle is
        validated again as of the report's time (its certificates may have expired
        since), and must come out as the report says."""
        lines = []
        for p in self.pdf_reports:
            attachment = p["attachment"]
            what = f"{attachment['name']} (sha256 {attachment['sha256'][:16]}…)"
            data = self.attachments.get(attachment["sha256"])
            if data is None or self.pdf_recheck is None:
                told = "; ".join(report_lines(p))
                lines.append(f"{what}: the ledger's report at {p['at']}: {told}; not re-checked "
                             f"(the file was not given)")
                continue
            try:
                lines.append(f"{what}: {self.pdf_recheck(p, data)}")
            except DocLedgerError as exc:
                raise self.fail(f"the PDF {what} does not re-check as the ledger reported: "
                                f"{exc}") from None
            self.rechecked.add(attachment["sha256"])
        reported = {p["attachment"]["sha256"] for p in self.pdf_reports}
        lines += [f"a file given (sha256 {sha256[:16]}…) is no PDF the ledger reported on: "
                  f"not checked" for sha256 in self.attachments if sha256 not in reported]
        return lines

    # ---- 1 ---------------------------------------------------------------------------

    def format(self) -> str:
        parsed = parse_bundle(self.bundle)
        self.document, self.checkpoint_note = parsed.document, parsed.checkpoint
        self.timestamp_token = parsed.checkpoint_timestamp
        self.events = parsed.events
        self.gateway_entries = parsed.gateway
        self.by_key = {(e.aggregate_id, e.version): e for e in parsed.events}
        return f"{FORMAT}: {len(self.events)} events for document {self.document}"

    # ---- 2 ---------------------------------------------------------------------------

    def checkpoint(self) -> tuple[str, ...]:
        self.note_key = NoteKey.parse(self.vkey)
        self.tree: Checkpoint = open_checkpoint(self.checkpoint_note, self.note_key)
        witnessed = ""
        if self.policy is not None:  # QuorumError names the witnesses that cosigned and not
            verdict = self.policy.check(self.checkpoint_note, self.note_key)
            witnessed = (f"; witness quorum {verdict.quorum!r} met: cosigned by "
                         f"{verdict.cosigners()}")
        return (f"checkpoint of size {self.tree.size} signed by {self.note_key.name} "
                f"(key hash {self.note_key.key_hash.hex()}){witnessed}", *self.trusted_time())

    def trusted_time(self) -> tuple[str, ...]:
        """The checkpoint's time-stamp, if any: over its body, by a trusted TSA."""
        if self.timestamp_token is None:
            return ()
        if not self.tsa_certs:
            return (f"checkpoint of size {self.tree.size} carries an RFC 3161 time-stamp, "
                    f"not checked: no TSA certificate was given",)
        try:
            verdict = verify_timestamp(self.timestamp_token, self.tree.body(), self.tsa_certs)
        except TimestampError as exc:
            raise self.fail(f"the checkpoint's time-stamp does not verify: {exc}") from None
        self.checkpoint_time = verdict
        return (f"checkpoint of size {self.tree.size} existed no later than "
                f"{iso_utc(verdict.no_later_than)}, per TSA {verdict.tsa}",)

    # ---- 3 ---------------------------------------------------------------------------

    def inclusion(self) -> str:
        for e in self.events:
            if e.leaf_index >= self.tree.size:
                raise self.fail(f"leaf index is not below the checkpoint's size "
                                f"{self.tree.size}", e)
            leaf = event_leaf_hash(e.aggregate_id, e.version, e.topic, e.state)
            try:
                verify_inclusion(e.leaf_index, self.tree.size, leaf, e.proof, self.tree.root)
            except VerificationError as exc:
                raise self.fail(f"not in the checkpointed log: {exc}", e) from None
        return (f"{len(self.events)} inclusion proofs verified against checkpoint of size "
                f"{self.tree.size}")

    # ---- 4 ---------------------------------------------------------------------------

    def completeness(self) -> str:
        for e in self.events:
            try:
                e.data = decode_state(e.state)
                e.envelope = Envelope.from_dict(e.data["envelope"])
                payload = json.loads(e.envelope.payload.decode("utf-8"))
            except (DocLedgerError, ValueError) as exc:
                raise self.fail(f"undecodable state: {exc}", e) from None
            if not isinstance(payload, dict):
                raise self.fail("the envelope's payload is not a JSON object", e)
            e.payload = payload
            self.streams.setdefault(e.aggregate_id, []).append(e)
        for aggregate, stream in self.streams.items():
            stream.sort(key=lambda ev: ev.version)
            for expected, e in enumerate(stream, start=1):
                if e.version != expected:
                    raise self.fail(f"record {aggregate} lacks version {expected} "
                                    f"(the bundle has v{e.version} next)", e)
                if expected > 1 and e.leaf_index <= stream[expected - 2].leaf_index:
                    raise self.fail("leaf index is not after the previous version's", e)
            kind = stream[0].topic.split(".")[0:2]
            if any(ev.topic.split(".")[0:2] != kind for ev in stream):
                raise self.fail(f"record {aggregate} mixes event types of different records")
        # every command record lists its events; those of records in the bundle must be here
        for e in self.events:
            if e.topic != RECORD_ACCEPTED_TOPIC:
                continue
            for listed in e.payload.get("events", []):
                try:
                    aggregate, version = UUID(listed[0]), listed[1]
                except (TypeError, ValueError, IndexError):
                    raise self.fail("the command record lists a malformed event", e) from None
                if aggregate in self.streams and (aggregate, version) not in self.by_key:
                    raise self.fail(f"event {aggregate} v{version}, written by command "
                                    f"{e.payload.get('command_id')}, is missing from the bundle",
                                    e)
        doc_stream = self.streams.get(self.document)
        if not doc_stream or not doc_stream[0].topic.startswith(DOCUMENT_TOPIC):
            raise self.fail(f"the events of document {self.document} are missing")
        self.recipients = [code for e in doc_stream if e.topic == DOCUMENT_TOPIC + "Sent"
                           for code in e.data.get("recipients", [])]
        for code in self.recipients:
            if delivery_id(self.document, code) not in self.streams:
                raise self.fail(f"the document was sent to {code} but that delivery's "
                                f"events are missing")
        return (f"{len(self.streams)} records, each with versions 1..n without gaps and "
                f"leaf indexes in version order; {len(self.recipients)} deliveries present")

    # ---- 5 ---------------------------------------------------------------------------

    def genesis(self) -> str:
        genesis = self.by_key.get((ROOT_ID, 1))
        if genesis is None or genesis.topic != GENESIS_TOPIC:
            raise self.fail(f"the genesis event {ROOT_ID} v1 ({GENESIS_TOPIC}) is missing")
        if len(self.streams[ROOT_ID]) != 1:
            raise self.fail("the ledger root has more than one event", genesis)
        self.registrar_key = PublicKey.from_spec(genesis.data["registrar_key"])
        self.ledger_key = PublicKey.from_spec(genesis.data["ledger_key"])
        origin = genesis.data["origin"]
        expected = NoteKey.from_public_key(origin, self.ledger_key)
        if expected.raw != self.note_key.raw:
            raise self.fail("the genesis' ledger key is not the verifier key's key", genesis)
        if origin != self.note_key.name:
            raise self.fail(f"the genesis' origin {origin!r} is not the verifier key's name "
                            f"{self.note_key.name!r}", genesis)
        self.origin = origin
        return (f"genesis of {origin}: registrar key {self.registrar_key.keyid}, ledger key "
                f"{self.ledger_key.keyid} is the verifier key")

    # ---- 6 ---------------------------------------------------------------------------

    def trust_anchors(self) -> list[tuple[Anchor, datetime, datetime | None]]:
        """The trust anchors' history from the bundle: (anchor, added, removed)."""
        stream = self.streams.get(TRUST_ID, [])
        if stream and stream[0].topic != TRUST_TOPIC + "Opened":
            raise self.fail("the trust anchors' first event is not Opened", stream[0])
        for aggregate, other in self.streams.items():
            if other[0].topic.startswith(TRUST_TOPIC) and aggregate != TRUST_ID:
                raise self.fail("a trust anchors record that is not the ledger's", other[0])
        history: dict[str, tuple[Anchor, datetime, datetime | None]] = {}
        for e in stream[1:]:
            sha256 = e.data["sha256"]
            if e.topic == TRUST_TOPIC + "AnchorAdded" and sha256 not in history:
                cert = certificate_from_b64(e.data["certificate"], "trust anchor")
                anchor = Anchor(certificate=cert, sha256=sha256,
                                code_attribute=e.data["code_attribute"])
                if fingerprint(cert.public_bytes(Encoding.DER)) != sha256:
                    raise self.fail("the anchor's fingerprint is not its certificate's", e)
                history[sha256] = (anchor, e.timestamp, None)
            elif (e.topic == TRUST_TOPIC + "AnchorRemoved" and sha256 in history
                  and history[sha256][2] is None):
                history[sha256] = (history[sha256][0], history[sha256][1], e.timestamp)
            else:
                raise self.fail(f"unexpected trust anchors event {e.topic}", e)
        return list(history.values())

    def _certified(self, keys: dict[str, KeyPeriod], e: BundleEvent, code: str,
                   command_id: str) -> None:
        """A certificate-backed key: its certificate is validated again, offline, at
        the event's time against the anchors then in force, and must give exactly
        the key, anchor, binding and validity period the event records."""
        anchors = [anchor for anchor, added, removed in self.anchors
                   if key_valid_at(e.timestamp, effective_from=added, revoked_at=removed)]
        spec = e.data["key"]
        try:
            certified = validate_agency_certificate(
                certificate_from_b64(e.data["certificate"]),
                [certificate_from_b64(c, "chain") for c in e.data["chain"]],
                anchors=anchors, at=e.timestamp, code=code, algorithm=spec["algorithm"],
                registrar_binding=e.data["binding"] == REGISTRAR_BINDING)
        except DocLedgerError as exc:
            raise self.fail(f"its certificate does not hold: {exc}", e) from None
        if e.data["binding"] == REGISTRAR_BINDING and self._actor(e) != REGISTRAR:
            raise self.fail("a certificate bound to the agency by someone other than the "
                            "registrar", e)
        recorded = (spec, e.data["anchor"], e.data["binding"], e.data["not_before"],
                    e.data["not_after"])
        derived = (certified.key.to_spec(), certified.anchor, certified.binding,
                   certified.not_before.isoformat(), certified.not_after.isoformat())
        if recorded != derived:
            raise self.fail("the key the certificate vouches for is not the one recorded", e)
        self._add_key(keys, spec, e, command_id)
        period = keys[certified.key.keyid]
        keys[certified.key.keyid] = KeyPeriod(
            key=period.key, effective_from=period.effective_from, added_by=period.added_by,
            not_before=certified.not_before, not_after=certified.not_after,
            ref=certificate_ref(certificate_from_b64(e.data["certificate"])))

    def revocation_evidence(self) -> dict[tuple[str, str], list[KnownRevocation]]:
        """The revocation evidence the bundle carries, every piece checked again,
        offline, against its issuer and the anchors in force when it was recorded."""
        stream = self.streams.get(REVOCATION_ID, [])
        if stream and stream[0].topic != REVOCATION_TOPIC + "Opened":
            raise self.fail("the revocation evidence's first event is not Opened", stream[0])
        for aggregate, other in self.streams.items():
            if other[0].topic.startswith(REVOCATION_TOPIC) and aggregate != REVOCATION_ID:
                raise self.fail("a revocation evidence record that is not the ledger's",
                                other[0])
        known: dict[tuple[str, str], list[KnownRevocation]] = {}
        for e in stream[1:]:
            if e.topic != REVOCATION_TOPIC + "Recorded":
                raise self.fail(f"unexpected revocation evidence event {e.topic}", e)
            anchors = [anchor for anchor, added, removed in self.anchors
                       if key_valid_at(e.timestamp, effective_from=added, revoked_at=removed)]
            try:
                issuer = certificate_from_b64(e.data["issuer_certificate"], "issuer")
                check_issuer(issuer, anchors, e.timestamp)
                der = base64.b64decode(e.data["evidence"], validate=True)
                facts = (read_crl if e.data["kind"] == "crl" else read_ocsp)(der, issuer)
            except (DocLedgerError, ValueError) as exc:
                raise self.fail(f"its revocation evidence does not hold: {exc}", e) from None
            said = [[r.serial, r.at.isoformat(), r.reason] for r in facts.revoked]
            if (facts.kind, facts.issuer, said) != (e.data["kind"], e.data["issuer"],
                                                     e.data["revoked"]):
                raise self.fail("the revocations recorded are not what the evidence says", e)
            for r in facts.revoked:
                known.setdefault((facts.issuer, r.serial), []).append(
                    KnownRevocation(at=r.at, reason=r.reason, recorded_at=e.timestamp))
        return known

    def key_histories(self) -> str:
        described = []
        self.anchors = self.trust_anchors()
        self.revocations = self.revocation_evidence()
        for aggregate, stream in self.streams.items():
            if not stream[0].topic.startswith(AGENCY_TOPIC):
                continue
            first = stream[0]
            if first.topic != AGENCY_TOPIC + "Registered":
                raise self.fail("an agency's first event is not Registered", first)
            code = first.data["code"]
            if agency_id(code) != aggregate:
                raise self.fail(f"the record is not agency {code}'s", first)
            if code in self.agencies:
                raise self.fail(f"agency {code} appears twice", first)
            keys: dict[str, KeyPeriod] = {}
            for e in stream:
                command_id = self._command_of(e)
                if e.topic == AGENCY_TOPIC + "Registered" and e.version == 1:
                    for spec in e.data["keys"]:
                        self._add_key(keys, spec, e, command_id)
                elif e.topic == AGENCY_TOPIC + "KeyAdded":
                    self._add_key(keys, e.data["key"], e, command_id)
                elif e.topic == AGENCY_TOPIC + "CertificateAdded":
                    self._certified(keys, e, code, command_id)
                elif e.topic == AGENCY_TOPIC + "KeyRevoked":
                    period = keys.get(e.data["keyid"])
                    if period is None or period.revoked_at is not None:
                        raise self.fail(f"revokes key {e.data['keyid']}, which is not a "
                                        f"live key of {code}", e)
                    keys[e.data["keyid"]] = KeyPeriod(
                        key=period.key, effective_from=period.effective_from,
                        added_by=period.added_by, revoked_at=e.timestamp,
                        revoked_by=command_id, not_before=period.not_before,
                        not_after=period.not_after, ref=period.ref)
                else:
                    raise self.fail(f"unexpected agency event {e.topic}", e)
            self.agencies[code] = keys
            revoked = sum(1 for p in keys.values() if p.revoked_at is not None)
            described.append(f"{code} ({len(keys)} keys, {revoked} revoked)")
        sender = self.streams[self.document][0].data.get("sender")
        parties = [sender, *self.recipients]
        for code in parties:
            if code not in self.agencies:
                raise self.fail(f"the key history of agency {code} is missing")
        # a key history of anyone else is no evidence about this document, and a
        # bundle padded with one could show keys as the ledger's word on them
        for code in self.agencies:
            if code not in parties:
                raise self.fail(f"the key history of agency {code}, which is not a party "
                                f"to the document (sender or recipient), is in the bundle")
        return "key histories rebuilt: " + ", ".join(described)

    def _add_key(self, keys: dict[str, KeyPeriod], spec: Any, e: BundleEvent,
                 command_id: str) -> None:
        key = PublicKey.from_spec(spec)
        if key.keyid in keys:
            raise self.fail(f"adds key {key.keyid} a second time", e)
        keys[key.keyid] = KeyPeriod(key=key, effective_from=e.timestamp, added_by=command_id)

    def _command_of(self, e: BundleEvent) -> str:
        try:
            return e.command_id
        except ValueError as exc:
            raise self.fail(str(exc), e) from None

    # ---- 7 ---------------------------------------------------------------------------

    def signatures(self) -> str:
        """Choose each event's key in order, then verify every distinct signature
        once, on all cores (Ed25519 verification runs outside the GIL). The
        first event, in bundle order, whose key or signature fails is named."""
        counts = {"ledger": 0, "registrar": 0, "agency": 0}
        checks: list[tuple[BundleEvent, PublicKey]] = []
        refused: BundleError | None = None
        for e in self.events:
            assert e.envelope is not None
            try:
                if e.envelope.payload_type == STATEMENT_TYPE:
                    key, who = self.ledger_key, "ledger"
                elif e.envelope.payload_type == COMMAND_TYPE:
                    actor = self._actor(e)
                    key, who = ((self.registrar_key, "registrar") if actor == REGISTRAR
                                else (self._agency_key(e, actor), "agency"))
                else:
                    raise self.fail(f"unknown payload type {e.envelope.payload_type!r}", e)
            except BundleError as exc:
                refused = exc  # the events before it are still checked: theirs come first
                break
            checks.append((e, key))
            counts[who] += 1
        failures = verify_all([(e.envelope, key) for e, key in checks])  # type: ignore[misc]
        for (e, _), failure in zip(checks, failures, strict=True):
            if failure is not None:
                raise self.fail(str(failure), e)
        if refused is not None:
            raise refused
        return (f"{len(self.events)} signatures verified: {counts['ledger']} by the ledger, "
                f"{counts['registrar']} by the registrar, {counts['agency']} by agencies")

    def _actor(self, e: BundleEvent) -> str:
        actor = e.payload.get("actor")
        if not isinstance(actor, dict) or not isinstance(actor.get("agency"), str):
            raise self.fail("the command names no acting agency", e)
        return str(actor["agency"])

    def _agency_key(self, e: BundleEvent, actor: str) -> PublicKey:
        keys = self.agencies.get(actor)
        if keys is None:
            raise self.fail(f"signed by agency {actor}, whose key history is not in the "
                            f"bundle", e)
        command_id = self._command_of(e)
        assert e.envelope is not None
        for signature in e.envelope.signatures:
            period = keys.get(signature.keyid)
            if period is None:
                continue
            if not period.valid_for(e.timestamp, command_id):
                when = period.why_not(e.timestamp)
                raise self.fail(f"key {signature.keyid} of {actor} was not valid at "
                                f"{e.timestamp.isoformat()} ({when})", e)
            known = (None if period.ref is None else
                     revoked_before(self.revocations.get(period.ref, []), e.timestamp))
            if known is not None:
                raise self.fail(f"key {signature.keyid} of {actor}: its certificate was revoked "
                                f"at {known.at.isoformat()} ({known.reason}), by evidence "
                                f"recorded at {known.recorded_at.isoformat()}", e)
            return period.key
        keyids = ", ".join(s.keyid for s in e.envelope.signatures)
        raise self.fail(f"signed with {keyids}, not a key of agency {actor}", e)

    # ---- 8 ---------------------------------------------------------------------------

    def commands(self) -> str:
        for e in self.events:
            if e.topic != RECORD_ACCEPTED_TOPIC:
                continue
            statement = e.payload
            command_id = statement.get("command_id")
            if statement.get("type") != "ledger.accepted" or not isinstance(command_id, str):
                raise self.fail("the command record's statement is not ledger.accepted", e)
            if e.aggregate_id != command_record_id(command_id) or e.version != 1:
                raise self.fail(f"the record is not command {command_id}'s", e)
            if (e.data.get("command_id"), e.data.get("events")) != (
                    command_id, statement.get("events")):
                raise self.fail("the record's stored fields differ from its signed statement",
                                e)
            if _time(statement.get("received_at")) != e.timestamp:
                raise self.fail("the record's time is not its signed received_at", e)
            self.records[command_id] = e
            self.statements[command_id] = statement
        used: set[str] = set()
        for e in self.events:
            if e.topic == RECORD_ACCEPTED_TOPIC:
                continue
            command_id = self._command_of(e)
            if command_id not in self.statements:
                raise self.fail(f"the record of command {command_id} is not in the bundle", e)
            statement = self.statements[command_id]
            listed = [tuple(x) for x in statement.get("events", []) if isinstance(x, list)]
            if e.key not in listed:
                raise self.fail(f"command {command_id}'s record does not list "
                                f"[{e.aggregate_id}, {e.version}, {e.topic}]", e)
            if _time(statement.get("received_at")) != e.timestamp:
                raise self.fail(f"the event's time {e.timestamp.isoformat()} is not the "
                                f"received_at {statement.get('received_at')} the ledger signed "
                                f"for command {command_id}", e)
            assert e.envelope is not None
            if not e.is_statement and statement.get("payload_sha256") != \
                    e.envelope.payload_digest:
                raise self.fail(f"the envelope's payload is not the one command {command_id} "
                                f"was accepted with", e)
            self._belongs(e)
            used.add(command_id)
        unused = sorted(set(self.records) - used)
        if unused:
            raise self.fail(f"command record {unused[0]} explains no event of the bundle",
                            self.records[unused[0]])
        return (f"every event belongs to the signed command it carries: "
                f"{len(self.records)} command records, each listing its events")

    def _belongs(self, e: BundleEvent) -> None:
        """The command (or ledger statement) that wrote ``e`` is about ``e``'s record."""
        p = e.payload
        if e.topic.startswith(ROOT_TOPIC):
            if p.get("type") not in writing(topics.ROOT) or self._actor(e) != REGISTRAR:
                raise self.fail("the genesis was not written by the registrar's ledger.init", e)
            return
        if e.topic.startswith(REVOCATION_TOPIC):
            if p.get("type") not in writing(topics.REVOCATION) or self._actor(e) != REGISTRAR:
                raise self.fail("the revocation evidence was recorded by something other than "
                                "the registrar's revocation.record", e)
            return
        if e.topic.startswith(TRUST_TOPIC):
            if p.get("type") not in writing(topics.TRUST) or self._actor(e) != REGISTRAR:
                raise self.fail("the trust anchors were changed by something other than the "
                                "registrar's trust commands", e)
            return
        if e.topic.startswith(AGENCY_TOPIC):
            code = self.streams[e.aggregate_id][0].data["code"]
            kind = p.get("type")
            if kind not in writing(topics.AGENCY) or p.get("fields", {}).get("code") != code:
                raise self.fail(f"its command {kind} is not about agency {code}", e)
            may_act = (REGISTRAR, code) if CATALOGUE[kind].role is Role.KEY_HOLDER else (
                REGISTRAR,)
            if self._actor(e) not in may_act:
                raise self.fail(f"agency {self._actor(e)} may not change agency {code}", e)
            return
        if e.is_statement and p.get("type") == PDF_REPORT:
            self._report_belongs(e)
            return
        if e.is_statement:
            topic_of = {"delivery.arrived": "Arrived", STAMPED: "IncomingStamped"}
            if e.topic != DELIVERY_TOPIC + topic_of.get(str(p.get("type")), "?"):
                raise self.fail(f"unexpected ledger statement {p.get('type')!r}", e)
            if _time(p.get("at")) != e.timestamp or p.get("status") != e.data.get("status"):
                raise self.fail("the ledger statement's time or status is not the event's", e)
            if p.get("type") == STAMPED and (e.data.get("original"), e.data.get("copy")) != (
                    (p.get("original") or {}).get("sha256"), p.get("copy")):
                raise self.fail("the stamped copy is not the one its statement names", e)
            target, actor_role = p.get("document"), None
        else:
            kind = p.get("type")
            record = record_topic_of(e.topic)
            allowed = writing(record) if record in (topics.DOCUMENT, topics.DELIVERY) else (
                frozenset())
            if kind not in allowed:
                raise self.fail(f"a {kind!r} command cannot write {e.topic}", e)
            fields = p.get("fields", {})
            if kind == "document.create":
                target = str(document_id(self._actor(e), str(fields.get("document_id"))))
            else:
                target = fields.get("document")
            actor_role = CATALOGUE[kind].role
        if target != str(self.document):
            raise self.fail(f"its command targets document {target}, not {self.document}", e)
        doc_created = self.streams[self.document][0].data
        if e.topic.startswith(DOCUMENT_TOPIC):
            if e.aggregate_id != self.document:
                raise self.fail(f"a record of another document, not {self.document}", e)
            if self._actor(e) != doc_created["sender"]:
                raise self.fail(f"agency {self._actor(e)} is not the sender", e)
            return
        dispatched = self.streams[e.aggregate_id][0].data
        recipient = dispatched.get("recipient")
        if (dispatched.get("document") != str(self.document)
                or delivery_id(self.document, str(recipient)) != e.aggregate_id):
            raise self.fail(f"a delivery of another document, not {self.document}", e)
        if e.is_statement:
            if p.get("recipient") != recipient:
                raise self.fail(f"the ledger statement names {p.get('recipient')}, not the "
                                f"recipient {recipient}", e)
            return
        fields = p.get("fields", {})
        if p.get("type") == "document.send" and recipient not in fields.get("recipients", []):
            raise self.fail(f"the send command does not name recipient {recipient}", e)
        expected = doc_created["sender"] if actor_role is Role.SENDER else recipient
        if self._actor(e) != expected:
            raise self.fail(f"{p.get('type')} by {self._actor(e)}: only the {actor_role} "
                            f"{expected} may do it", e)

    def _report_belongs(self, e: BundleEvent) -> None:
        """A PDF report is an event of this document, at its command's time, about an
        attachment that command brought (its create or revise, by the sender)."""
        p = e.payload
        if e.topic != DOCUMENT_TOPIC + "AttachmentValidated" or e.aggregate_id != self.document:
            raise self.fail("a PDF report that is not an event of the document", e)
        if p.get("document") != str(self.document):
            raise self.fail(f"the PDF report names document {p.get('document')}", e)
        if _time(p.get("at")) != e.timestamp:
            raise self.fail("the PDF report's time is not the event's", e)
        attachment = p.get("attachment") or {}
        if (e.data.get("sha256"), e.data.get("verdict")) != (attachment.get("sha256"),
                                                               p.get("verdict")):
            raise self.fail("the event's digest or verdict is not its signed report's", e)
        cause = next((c for c in self.streams[self.document]
                      if not c.is_statement and c.payload.get("command_id") == p.get("cause")),
                     None)
        fields = cause.payload.get("fields", {}) if cause is not None else {}
        if not any(isinstance(a, dict) and a.get("sha256") == attachment.get("sha256")
                   for a in fields.get("attachments") or []):
            raise self.fail(f"the PDF report is about attachment {attachment.get('sha256')}, "
                            f"which its command {p.get('cause')} did not bring", e)
        self.pdf_reports.append(p)

    # ---- 9 ---------------------------------------------------------------------------

    def gateway(self) -> tuple[str, ...]:
        """Each gateway receipt: in the checkpointed log, the ledger's statement
        (domain/verification/gateway.py), about this document, and, with the
        message's bytes, exactly those bytes and what they say."""
        if not self.gateway_entries:
            return ("no gateway receipts in the bundle",)
        events_at = {e.leaf_index for e in self.events}
        created = self.streams[self.document][0].data
        sources = {s for e in self.events if (s := command_source(e.payload)) is not None}
        parties = {created["sender"], *self.recipients}
        with_bytes = 0
        for entry in self.gateway_entries:
            e = entry.event
            if e.leaf_index >= self.tree.size or e.leaf_index in events_at:
                raise self.fail("leaf index is not below the checkpoint's size or is an "
                                "event's", e)
            leaf = event_leaf_hash(e.aggregate_id, e.version, e.topic, e.state)
            try:
                verify_inclusion(e.leaf_index, self.tree.size, leaf, e.proof, self.tree.root)
            except VerificationError as exc:
                raise self.fail(f"receipt not in the checkpointed log: {exc}", e) from None
            try:
                statement = open_receipt_event(
                    aggregate_id=e.aggregate_id, version=e.version, topic=e.topic,
                    state=e.state, ledger_key=self.ledger_key)
                if entry.data is not None:
                    check_receipt_bytes(statement, entry.data)
                    with_bytes += 1
            except VerificationError as exc:
                raise self.fail(str(exc), e) from None
            if not about_document(statement, sources=sources,
                                  document_id=created["document_id"], parties=parties):
                raise self.fail(f"the receipt of {statement['sha256']} is not about document "
                                f"{self.document}", e)
        self.receipts = len(self.gateway_entries)
        return (f"{self.receipts} gateway receipts verified: signed by the ledger, in the "
                f"checkpointed log, about this document; {with_bytes} with the message's "
                f"bytes, whose digest, size and trace headers are the receipt's",)

    # ---- 10 --------------------------------------------------------------------------

    def summary(self) -> BundleSummary:
        doc_events = self.streams[self.document]
        created = doc_events[0].data
        numbers = [e.data["number"] for e in doc_events if e.topic == DOCUMENT_TOPIC + "Issued"]
        number = str(numbers[-1]) if numbers else "?"
        statuses: dict[str, str] = {}
        for code in self.recipients:
            stream = self.streams[delivery_id(self.document, code)]
            codes = [e.data["status"] for e in stream if "status" in e.data]
            # the sender's update took it off: no status code says so (docs/commands.md)
            removed = stream[-1].topic == DELIVERY_TOPIC + "Removed"
            statuses[code] = "removed" if removed else codes[-1] if codes else ""
        return BundleSummary(
            document=self.document,
            reference=f"{number}/{created['header']['code_notation']}",
            sender=created["sender"],
            statuses=statuses,
            events=len(self.events),
            checkpoint_size=self.tree.size,
            origin=self.origin,
            checkpoint_time=self.checkpoint_time,
            timestamp_unchecked=self.timestamp_token is not None and not self.tsa_certs,
            gateway_receipts=self.receipts,
        )


def _iso(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat()


def verify_all(checks: list[tuple[Envelope, PublicKey]],
               workers: int | None = None) -> list[VerificationError | None]:
    """Verify each envelope with its key; the error of each one that fails.

    Each distinct (envelope, key) pair is verified once: the events of one
    command carry the same envelope. Large sets are spread over a thread per
    core: the ``cryptography`` package verifies Ed25519 without holding the GIL.
    """
    distinct = list(dict.fromkeys(checks))
    results: dict[tuple[Envelope, PublicKey], VerificationError | None] = {}

    def check(pair: tuple[Envelope, PublicKey]) -> VerificationError | None:
        try:
            pair[0].verify_with(pair[1])
        except VerificationError as exc:
            return exc
        return None

    workers = min(workers or os.cpu_count() or 1, max(1, len(distinct) // PARALLEL_SIGNATURES))
    # One slice per thread: handing threads single signatures costs more in
    # switching than the verifications save.
    slices = [distinct[k::workers] for k in range(workers)]
    if workers == 1:
        outcomes = [[check(pair) for pair in slices[0]]]
    else:
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(lambda part: [check(pair) for pair in part], slices))
    for part, found in zip(slices, outcomes, strict=True):
        results.update(zip(part, found, strict=True))
    return [results[pair] for pair in checks]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
