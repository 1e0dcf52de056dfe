"""Gateway receipts in a document's audit bundle (docs/gateway.md, docs/bundle.md
step 9), on SQLite and PostgreSQL: the receipts of the messages about the document
are in it with their bytes, and each attack on one is refused at step 9."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.edxml_import import import_edxml
from api.session import LocalSession
from domain.errors import VerificationError
from domain.evidence.envelope import Envelope
from domain.evidence.keys import Ed25519Signer
from domain.evidence.statements import gateway_statement, sign_statement
from domain.exchange.edxml.model import DocumentMessage, Organization
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from domain.exchange.gateway import GatewayReceiptRecord, message_facts
from domain.verification.bundle import BundleError, verify_bundle
from domain.verification.gateway import check_receipt_bytes, open_receipt_event
from infrastructure.keyfiles import write_key_pair
from infrastructure.ledger import DataFolder, trust_anchors
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from tests.factories import ManualClock, World

SAMPLES = Path(__file__).parents[1] / "assets" / "edxml" / "samples"
G22, H41 = "000.00.00.G22", "000.00.00.H41"
DOC_ID = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
AXIS_TRACE = (b"<edXML:TraceHeader><edXML:OrganId>001.00.20.TT2</edXML:OrganId>"
              b"<edXML:Timestamp>2026/11/27 08:05:00</edXML:Timestamp></edXML:TraceHeader>")


def sent_message() -> bytes:
    """A document of G22 to H41, as G22's system writes it (one TraceHeader)."""
    m = parse_edxml((SAMPLES / "document-update-receiver-list.edxml").read_bytes())
    assert isinstance(m, DocumentMessage)
    return write_edxml(dataclasses.replace(
        m, business=None, document_id=DOC_ID, recipients=(Organization(organ_id=H41),)))


def delivered(sent: bytes) -> bytes:
    """The same as the axis delivers it: its TraceHeader appended after the last."""
    at = sent.rindex(b"</edXML:TraceHeader>") + len(b"</edXML:TraceHeader>")
    return sent[:at] + AXIS_TRACE + sent[at:]


class Exchange:
    """G22 imports its document (from its system's edXML) and pushes it through the
    axis; H41 is delivered it; the ledger receipted both, and an unrelated message."""

    def __init__(self, settings: Settings) -> None:
        self.world = World.create(settings, clock=ManualClock(), agencies=(G22, H41))
        folder = DataFolder(settings.data)
        for code, signer in self.world.keys.items():
            write_key_pair(signer, folder.agency_key(code))
        self.service: LedgerService = bootstrap(settings, app=self.world.app)
        self.session = LocalSession(self.service)
        self.sent = sent_message()
        self.document = UUID(import_edxml(self.session, self.sent, G22).document)
        self.delivered = delivered(self.sent)
        self.service.record_gateway_receipt("out", G22, "axis-7", "eDoc", self.sent)
        self.service.record_gateway_receipt("in", H41, "axis-7", "eDoc", self.delivered)
        self.service.record_gateway_receipt(
            "in", H41, "axis-8", "eDoc",
            (SAMPLES / "document-downloaded-from-vxp-2019.edxml").read_bytes())

    def bundle(self) -> dict[str, Any]:
        return self.session.bundle(None, self.document)

    @property
    def vkey(self) -> str:
        return self.service.log.note_key.vkey()


@pytest.fixture
def exchange(settings: Settings) -> Exchange:
    made = Exchange(settings)
    yield made  # type: ignore[misc]
    made.service.close()


def fails_at_step_9(bundle: dict[str, Any], vkey: str, match: str) -> None:
    with pytest.raises(BundleError, match=match) as caught:
        verify_bundle(bundle, vkey)
    assert caught.value.step == 9, str(caught.value)


def entry_of(bundle: dict[str, Any], sha256: str) -> dict[str, Any]:
    [found] = [g for g in bundle["gateway"] if statement_of(g)["sha256"] == sha256]
    return found


def statement_of(entry: dict[str, Any]) -> dict[str, Any]:
    state = json.loads(base64.b64decode(entry["state"]))
    return json.loads(base64.b64decode(state["envelope"]["payload"]))  # type: ignore[no-any-return]


def test_the_bundle_holds_the_receipts_about_its_document_with_their_bytes(
        exchange: Exchange) -> None:
    bundle = exchange.bundle()
    lines: list[str] = []
    summary = verify_bundle(bundle, exchange.vkey, lambda n, text: lines.append(f"{n} {text}"))
    assert summary.gateway_receipts == 2
    got = {(statement_of(g)["direction"], statement_of(g)["agency"]): base64.b64decode(g["data"])
           for g in bundle["gateway"]}
    assert got == {("out", G22): exchange.sent, ("in", H41): exchange.delivered}
    # what the axis added is on the record: the delivered message's trace has its hop
    assert [t["organ_id"] for t in statement_of(entry_of(bundle, sha(exchange.delivered)))[
        "trace"]] == [G22, "001.00.20.TT2"]
    assert any(line.startswith("9 2 gateway receipts verified") for line in lines)


def test_a_bundle_without_the_bytes_still_verifies_the_receipts(exchange: Exchange) -> None:
    bundle = exchange.bundle()
    for entry in bundle["gateway"]:
        del entry["data"]
    assert verify_bundle(bundle, exchange.vkey).gateway_receipts == 2


def test_altered_bytes_are_refused(exchange: Exchange) -> None:
    bundle = exchange.bundle()
    entry = entry_of(bundle, sha(exchange.delivered))
    entry["data"] = base64.b64encode(exchange.delivered.replace(b"TT2", b"TT9")).decode()
    fails_at_step_9(bundle, exchange.vkey, "are not the receipt's")


def test_dropped_trace_header_is_refused(exchange: Exchange) -> None:
    bundle = exchange.bundle()
    entry = entry_of(bundle, sha(exchange.delivered))
    entry["data"] = base64.b64encode(exchange.delivered.replace(AXIS_TRACE, b"")).decode()
    fails_at_step_9(bundle, exchange.vkey, "are not the receipt's")


def test_added_trace_header_is_refused(exchange: Exchange) -> None:
    bundle = exchange.bundle()
    entry = entry_of(bundle, sha(exchange.delivered))
    entry["data"] = base64.b64encode(delivered(exchange.delivered)).decode()
    fails_at_step_9(bundle, exchange.vkey, "are not the receipt's")


def test_a_receipt_whose_trace_is_not_its_bytes_is_refused(exchange: Exchange) -> None:
    # a receipt that (signed as it is) records a trace its bytes do not have: the
    # bytes read again must say exactly what the receipt records
    statement = statement_of(entry_of(exchange.bundle(), sha(exchange.delivered)))
    for trace in (statement["trace"][:1], [*statement["trace"], statement["trace"][0]]):
        with pytest.raises(VerificationError, match="trace"):
            check_receipt_bytes({**statement, "trace": trace}, exchange.delivered)


def test_receipt_re_signed_by_another_key_is_refused(exchange: Exchange) -> None:
    bundle = exchange.bundle()
    entry = entry_of(bundle, sha(exchange.sent))
    state = json.loads(base64.b64decode(entry["state"]))
    payload = Envelope.from_dict(state["envelope"]).payload
    state["envelope"] = sign_statement(json.loads(payload), Ed25519Signer.generate()).to_dict()
    forged = json.dumps(state, separators=(",", ":")).encode()
    entry["state"] = base64.b64encode(forged).decode()
    fails_at_step_9(bundle, exchange.vkey, "not in the checkpointed log")
    # and on its own, the statement is not the ledger's
    _, ledger_key = trust_anchors(exchange.service.settings)
    with pytest.raises(VerificationError, match="not signed by the ledger key"):
        open_receipt_event(aggregate_id=UUID(entry["aggregate_id"]), version=1,
                           topic=entry["topic"], state=forged, ledger_key=ledger_key)


def test_receipt_not_in_the_log_is_refused(exchange: Exchange) -> None:
    # signed by the ledger's own key, but never appended: no proof leads to the root
    app = exchange.service.app
    at = app.received_time()
    statement = gateway_statement(direction="in", agency=H41, axis_id="axis-99",
                                  service_type="eDoc", sha256=sha(exchange.delivered),
                                  size=len(exchange.delivered),
                                  facts=message_facts(exchange.delivered), at=at)
    record = GatewayReceiptRecord.record(
        statement, envelope=sign_statement(statement, app.ledger_signer).to_dict(), at=at)
    [event] = record.collect_events()
    stored = app.mapper.to_stored_event(event)
    bundle = exchange.bundle()
    honest = entry_of(bundle, sha(exchange.delivered))
    fake = {**copy.deepcopy(honest), "aggregate_id": str(record.id),
            "state": base64.b64encode(stored.state).decode()}
    bundle["gateway"] = [fake if g is honest else g for g in bundle["gateway"]]
    fails_at_step_9(bundle, exchange.vkey, "not in the checkpointed log")


def test_a_receipt_about_another_document_is_refused(exchange: Exchange) -> None:
    # the unrelated message's receipt, honestly in the log, padded into the bundle
    [receipt] = [r for r in exchange.service.gateway_index().by_agency(H41)
                 if r.axis_id == "axis-8"]
    log = exchange.service.log
    [n] = log.store.notifications_of([(str(receipt.aggregate_id), 1)])
    index = log.store.leaf_index_of(notification_id=n.id)
    bundle = exchange.bundle()
    size = int(bundle["checkpoint"].splitlines()[1])
    bundle["gateway"].append({
        "leaf_index": index, "notification_id": n.id, "aggregate_id": str(n.originator_id),
        "version": 1, "topic": n.topic, "state": base64.b64encode(n.state).decode(),
        "proof": [h.hex() for h in log.inclusion_proof(index, size)]})
    bundle["gateway"].sort(key=lambda g: g["leaf_index"])
    fails_at_step_9(bundle, exchange.vkey, "is not about document")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
