"""edXML in and out of the ledger: each sample imports as the acting agency's signed
commands, exports, and the export imports to the same ledger state; a message
imported again writes nothing; the bytes as received are kept in the blob store."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.edxml_import import import_edxml
from api.sending import send_document
from api.session import LocalSession
from domain.errors import DocLedgerError, DuplicateError, ForbiddenError, InvalidCommandError
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.edxml.errors import EdxmlInvalidValueError
from domain.exchange.edxml.mapping import plan_import
from domain.exchange.edxml.model import (
    BusinessDocumentInfo,
    DocumentMessage,
    Organization,
    StatusMessage,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from infrastructure.keyfiles import write_key_pair
from infrastructure.ledger import DataFolder
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from infrastructure.views import queries
from tests.conftest import sqlite_settings
from tests.contract.test_attacks import audit
from tests.factories import ManualClock, World, header
from tests.views_support import caught_up

SAMPLES = Path(__file__).parents[1] / "assets" / "edxml" / "samples"
G22, H41, H14, G17 = "000.00.00.G22", "000.00.00.H41", "000.00.00.H14", "000.00.00.G17"
DOC_7816 = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
DOC_7806 = "000.00.00.G22,2014/01/30,7806/VPCP-TTĐT"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def base(document_id: str, *recipients: str) -> bytes:
    """The document the update, replacement, recall and status samples act on, sent
    first (the update sample as a new document, to these recipients)."""
    m = parse_edxml(sample("document-update-receiver-list.edxml"))
    assert isinstance(m, DocumentMessage)
    return write_edxml(dataclasses.replace(
        m, business=None, document_id=document_id,
        recipients=tuple(Organization(organ_id=code) for code in recipients)))


ALL = (H41, H14, G17)
A80, H51 = "000.00.00.A80", "000.00.15.H51"  # the senders of the other two samples
# the agency the new-document sample's short OrganId names, as its importer states it
SHORT = {"28.22.H17": "000.28.22.H17"}
# sample -> the message it needs sent first
ROUND_TRIPS = {
    "document-update-receiver-list.edxml": base(DOC_7816, H41, G17),
    "document-replacement.edxml": base(DOC_7806, *ALL),
    "document-revocation.edxml": base(DOC_7816, *ALL),
    "status-01-arrived.edxml": base(DOC_7816, *ALL),
    "status-02-rejected.edxml": base(DOC_7816, *ALL),
    "status-03-accepted.edxml": base(DOC_7816, *ALL),
    "status-13-recall-request.edxml": base(DOC_7816, *ALL),
}
# every sample, each with what it needs first (None: nothing)
EVERY_SAMPLE: dict[str, bytes | None] = {
    "document-new-with-attachment.edxml": None,
    "document-downloaded-from-vxp-2019.edxml": None, **ROUND_TRIPS}


class Ledger:
    """A ledger on SQLite whose agencies' keys are in its data folder, and its session."""

    def __init__(self, tmp: Path, settings: Settings | None = None) -> None:
        settings = settings or sqlite_settings(tmp)
        self.world = World.create(settings, clock=ManualClock(),
                                  agencies=(G22, *ALL, A80, H51, SHORT["28.22.H17"]))
        folder = DataFolder(settings.data)
        for code, signer in self.world.keys.items():
            write_key_pair(signer, folder.agency_key(code))
        self.folder = folder
        self.session = LocalSession(bootstrap(settings, app=self.world.app))

    def load(self, data: bytes) -> dict[str, Any]:
        message = parse_edxml(data)
        return import_edxml(self.session, data, message.sender.organ_id,
                            organ_ids=SHORT).as_dict()

    def state(self, document: UUID) -> dict[str, Any]:
        """The document and its deliveries as the ledger holds them, and the kinds of
        event each passed (times, envelopes and command ids aside)."""
        app = self.world.app
        doc = app.find(Document, document)
        assert doc is not None
        state: dict[str, Any] = {
            "document": (doc.document_id, doc.header, doc.attachments, doc.state,
                         doc.recipients, doc.revision),
            "events": [type(e).__name__ for e in app.events_of(doc.id)]}
        for code in doc.recipients:
            d = app.find(Delivery, Delivery.id_for(doc.id, code))
            assert d is not None
            state[code] = (d.state, d.revision, d.incoming_number, [
                (type(e).__name__, getattr(e, "reason", None), getattr(e, "note", None))
                for e in app.events_of(d.id)])
        return state

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def ledgers(tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    pair = Ledger(tmp_path / "a"), Ledger(tmp_path / "b")
    yield pair
    for ledger in pair:
        ledger.close()


def exported(ledger: Ledger, message: DocumentMessage | StatusMessage,
             document: UUID) -> bytes:
    if isinstance(message, DocumentMessage):
        return ledger.session.edxml(None, document, None)
    r = message.response_for.organ_id
    return ledger.session.edxml(None, document, r if message.status_code == "13"
                                else message.sender.organ_id)


def test_every_sample_is_round_tripped() -> None:
    assert sorted(EVERY_SAMPLE) == sorted(p.name for p in SAMPLES.glob("*.edxml"))


@pytest.mark.parametrize("name", sorted(EVERY_SAMPLE))
def test_sample_imports_exports_and_imports_to_the_same_state(
        name: str, ledgers: tuple[Ledger, Ledger]) -> None:
    a, b = ledgers
    data = sample(name)
    before = EVERY_SAMPLE[name]
    if before is not None:
        a.load(before)
    first = a.load(data)
    document = UUID(first["document"])
    state = a.state(document)
    events = a.world.event_count()
    # the bytes as received are in the blob store, named as the commands' source
    assert a.folder.blobs.verified_path(first["source_sha256"]).read_bytes() == data

    out = exported(a, parse_edxml(data), document)
    assert [c["recorded_before"] for c in a.load(out)["commands"]] == [
        True for _ in first["commands"]]
    assert [c["recorded_before"] for c in a.load(data)["commands"]] == [
        True for _ in first["commands"]]
    assert a.world.event_count() == events  # nothing doubled

    if before is not None:
        b.load(before)
    b.load(out)
    assert b.state(document) == state
    # the same message but for the act's time, which is each ledger's own
    assert untimed(exported(b, parse_edxml(data), document)) == untimed(out)


def untimed(message: bytes) -> bytes:
    return re.sub(rb"<edXML:Timestamp>[^<]*</edXML:Timestamp>", b"", message)


def test_update_sample_removes_and_adds_its_receivers(ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    a.load(ROUND_TRIPS["document-update-receiver-list.edxml"])
    result = a.load(sample("document-update-receiver-list.edxml"))
    state = a.state(UUID(result["document"]))
    assert state[H41][0] == "removed" and state[H14][0] == "arrived"
    assert state[G17][:2] == ("arrived", 1)


def test_short_organ_id_nobody_named_is_refused_naming_the_element(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    before = a.world.event_count()
    with pytest.raises(EdxmlInvalidValueError, match="To/OrganId.*28.22.H17.*--organ-id"):
        import_edxml(a.session, sample("document-new-with-attachment.edxml"), A80)
    assert a.world.event_count() == before


def test_short_organ_id_is_recorded_as_the_agency_it_names(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    done = a.load(sample("document-new-with-attachment.edxml"))
    state = a.state(UUID(done["document"]))
    assert state["document"][4] == [SHORT["28.22.H17"]]


def test_message_sent_to_its_own_sender_is_recorded_issued_not_sent(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    done = a.load(sample("document-downloaded-from-vxp-2019.edxml"))
    assert [c["type"] for c in done["commands"]] == [
        "document.create", "document.sign", "document.issue"]
    assert "own sender" in done["note"]
    state = a.state(UUID(done["document"]))
    assert state["document"][3:5] == ("issued", [])
    out = parse_edxml(a.session.edxml(None, UUID(done["document"]), None))
    assert isinstance(out, DocumentMessage)
    assert [o.organ_id for o in out.recipients] == [H51]  # as it was addressed


def test_export_keeps_the_number_the_document_was_issued_with(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    for name in ("document-new-with-attachment.edxml",
                 "document-downloaded-from-vxp-2019.edxml"):
        m = parse_edxml(sample(name))
        done = a.load(sample(name))
        out = parse_edxml(a.session.edxml(None, UUID(done["document"]), None))
        assert out.code == m.code  # type: ignore[union-attr] # not the ledger's number


def test_a_message_is_recorded_only_by_the_agency_that_sends_it(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    before = a.world.event_count()
    with pytest.raises(ForbiddenError, match="From/OrganId 000.00.00.G22"):
        import_edxml(a.session, ROUND_TRIPS["document-revocation.edxml"], H41)
    assert a.world.event_count() == before


@pytest.mark.parametrize("code", ["07", "12", "14"])
def test_status_code_without_a_command_is_refused_naming_it(
        code: str, ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    a.load(ROUND_TRIPS["status-03-accepted.edxml"])
    m = parse_edxml(sample("status-03-accepted.edxml"))
    before = a.world.event_count()
    with pytest.raises(DocLedgerError, match=f"status code {code} has no ledger command"):
        a.load(write_edxml(dataclasses.replace(m, status_code=code)))
    assert a.world.event_count() == before


def status(code: str, sender: str, addressee: str, text: str | None) -> bytes:
    """The status-03 sample with another code, sender, addressee and description (the
    SDK's 04, 05, 06, 15 and 16 samples differ from it only so)."""
    m = parse_edxml(sample("status-03-accepted.edxml"))
    assert isinstance(m, StatusMessage)
    return write_edxml(dataclasses.replace(
        m, status_code=code, sender=Organization(organ_id=sender), description=text,
        response_for=dataclasses.replace(m.response_for, organ_id=addressee)))


def test_every_status_code_round_trips_through_the_ledger(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, b = ledgers
    steps = [status("03", H41, G22, None), status("04", H41, G22, "Giao Phòng Tư pháp"),
             status("05", H41, G22, "Đang xử lý"), status("06", H41, G22, None),
             status("13", G22, H14, "Gửi nhầm"), status("16", H14, G22, "Đã vào sổ"),
             status("13", G22, G17, "Gửi nhầm nơi nhận"), status("15", G17, G22, None)]
    for ledger in (a, b):
        ledger.load(base(DOC_7816, *ALL))
    document = Document.id_for(G22, DOC_7816)
    for data in steps:
        m = parse_edxml(data)
        assert isinstance(m, StatusMessage)
        assert all(not c["recorded_before"] for c in a.load(data)["commands"])
        out = exported(a, m, document)
        back = parse_edxml(out)
        assert isinstance(back, StatusMessage)
        # 16 returns the delivery to where it was, and is itself the latest code
        assert (back.status_code, back.sender.organ_id) == (m.status_code, m.sender.organ_id)
        assert all(c["recorded_before"] for c in a.load(out)["commands"])
        b.load(out)
    assert b.state(document) == a.state(document)
    assert a.state(document)[G17][0] == "recalled" and a.state(document)[H14][0] == "arrived"


def test_a_document_sent_without_edxml_exports_and_a_mistyped_file_goes_by_digest(
        ledgers: tuple[Ledger, Ledger], tmp_path: Path) -> None:
    a, b = ledgers
    junk = tmp_path / "qd.pdf"  # not a PDF: the canonical form will not call it one
    junk.write_bytes(b"any bytes at all")
    sent = send_document(a.session, G22, [H41], header(), attachments=[junk])
    out = a.session.edxml(None, UUID(sent["document"]), None)
    m = parse_edxml(out)
    assert isinstance(m, DocumentMessage) and m.subject == header()["subject"]
    (file,) = m.attachments
    assert (file.content, file.declared_type, file.size) == (None, "application/pdf", 16)
    b.folder.blobs.put(junk.read_bytes())  # a digest names bytes the ledger must hold
    b.load(out)
    assert b.state(UUID(sent["document"]))["document"][1:5] == \
        a.state(UUID(sent["document"]))["document"][1:5]


def test_an_import_cut_short_is_finished_by_importing_again_and_a_changed_one_is_refused(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    data = ROUND_TRIPS["status-03-accepted.edxml"]
    plan = plan_import(parse_edxml(data), G22)
    first = plan.commands[0]  # as if the importer stopped after document.create
    for blob in plan.blobs:
        a.folder.blobs.put(blob)
    a.session.act(G22, first.type, first.fields, staff=first.staff,
                  command_id=first.command_id)
    done = a.load(data)["commands"]
    assert [c["recorded_before"] for c in done] == [True, False, False, False]
    # the same DocumentId saying something else is another act: refused, not skipped
    m = parse_edxml(data)
    changed = write_edxml(dataclasses.replace(m, subject="Một trích yếu khác"))
    before = a.world.event_count()
    with pytest.raises(DuplicateError, match="already exists"):
        a.load(changed)
    assert a.world.event_count() == before


def metadata_update(subject: str, notation: str | None = None) -> bytes:
    """The update sample changing only the metadata (DocumentInfo 1): no files, no
    receivers, another subject (and notation)."""
    m = parse_edxml(sample("document-update-receiver-list.edxml"))
    assert isinstance(m, DocumentMessage) and m.business is not None
    info = BusinessDocumentInfo(document_info="1")
    return write_edxml(dataclasses.replace(
        m, subject=subject, attachments=(),
        code=dataclasses.replace(m.code, notation=notation or m.code.notation),
        business=dataclasses.replace(m.business, document_info=info)))


def test_update_of_the_metadata_only_is_recorded_and_round_trips(
        ledgers: tuple[Ledger, Ledger]) -> None:
    a, b = ledgers
    for ledger in (a, b):
        ledger.load(ROUND_TRIPS["document-update-receiver-list.edxml"])
    done = a.load(metadata_update("Về việc khác"))
    document = UUID(done["document"])
    doc = a.world.app.find(Document, document)
    assert doc is not None and doc.header["subject"] == "Về việc khác"
    assert a.state(document)["events"][-2:] == ["Revised", "HeaderRevised"]
    assert queries.status(caught_up(a.world), str(document))["subject"] == (  # type: ignore[index]
        "Về việc khác")
    out = a.session.edxml(None, document, None)
    assert all(c["recorded_before"] for c in a.load(out)["commands"])
    b.load(out)
    assert b.state(document) == a.state(document)
    audit(a.world)  # replayed byte for byte


def test_update_changing_the_notation_is_refused(ledgers: tuple[Ledger, Ledger]) -> None:
    a, _ = ledgers
    a.load(ROUND_TRIPS["document-update-receiver-list.edxml"])
    before = a.world.event_count()
    with pytest.raises(InvalidCommandError, match="keeps the notation"):
        a.load(metadata_update("Về việc khác", notation="QĐ-KHAC"))
    assert a.world.event_count() == before
