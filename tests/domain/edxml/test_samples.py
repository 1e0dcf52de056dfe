"""Every public edXML sample parses, writes canonically, and re-parses unchanged."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.edxml.model import (
    EDXML_NS,
    BusinessDocType,
    DocumentMessage,
    ReceiverType,
    StatusMessage,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from tests.domain.edxml.support import SAMPLES, read

ALL = sorted(SAMPLES.glob("*.edxml"))


def test_the_nine_public_samples_are_there() -> None:
    assert len(ALL) == 9


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_sample_parses_writes_and_reparses_to_the_same_model(path) -> None:
    message = parse_edxml(read(path))
    written = write_edxml(message)
    assert parse_edxml(written) == message
    assert write_edxml(parse_edxml(written)) == written  # the canonical form is a fixpoint


def test_new_document_keeps_what_the_header_says() -> None:
    m = parse_edxml(read(SAMPLES / "document-new-with-attachment.edxml"))
    assert isinstance(m, DocumentMessage)
    assert m.sender.organ_id == "000.00.00.A80"
    assert [r.organ_id for r in m.recipients] == ["28.22.H17"]  # a short form, as found
    assert m.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert (m.code.number, m.code.notation) == ("74fass22", "VPCP-TTĐT")
    assert m.promulgation.date == date(2019, 1, 16)
    assert m.due_date == date(2018, 9, 28)
    assert m.other_info is not None and m.other_info.page_amount == 22
    assert m.other_info.direction is False
    assert m.to_places == ("Cac bo va co quan ngang bo", "Uy ban nhan dan cac tinh, TP")
    assert m.traces[0].timestamp == datetime(2018, 9, 28, tzinfo=VIETNAM_TIME)
    assert m.doc_type is BusinessDocType.NEW
    # the Bussiness DocumentId holds 2014/02/30: free text, not a date, so kept
    assert m.business is not None and "2014/02/30" in (m.business.document_id or "")
    assert m.signature is not None and "<SignatureValue>GbVb8n9" in m.signature.xml
    (attachment,) = m.attachments
    assert (attachment.content_id, attachment.name) == ("cid:209", "1896_QD-TTg_m_294779.doc")
    # the corpus truncated the zip: its bytes are kept, opaque, and still a zip
    assert attachment.is_zip and attachment.size == 48


def test_update_keeps_receiver_list_changes() -> None:
    m = parse_edxml(read(SAMPLES / "document-update-receiver-list.edxml"))
    assert isinstance(m, DocumentMessage) and m.business is not None
    assert m.doc_type is BusinessDocType.UPDATE
    assert len(m.recipients) == 3
    info = m.business.document_info
    assert info is not None
    assert [(r.organ_id, r.receiver_type) for r in info.receivers] == [
        ("000.00.00.H41", ReceiverType.REMOVED), ("000.00.00.H14", ReceiverType.ADDED)]


def test_replacement_and_recall_name_their_targets() -> None:
    replace = parse_edxml(read(SAMPLES / "document-replacement.edxml"))
    assert isinstance(replace, DocumentMessage) and replace.business is not None
    assert replace.doc_type is BusinessDocType.REPLACE
    assert [r.organ_ids for r in replace.business.replacements] == [
        ("000.00.00.H41", "000.00.00.H14"), ("000.00.00.H41", "000.00.00.H14")]
    recall = parse_edxml(read(SAMPLES / "document-revocation.edxml"))
    assert isinstance(recall, DocumentMessage)
    assert recall.doc_type is BusinessDocType.RECALL
    (target,) = recall.response_for
    assert target.document_id == "000.00.04.G14,2012/08/06,267/VPCP-TTĐT"
    assert target.code == "267/VPCP-TTĐT"


def test_download_from_the_axis_keeps_both_hops_and_both_content_types() -> None:
    m = parse_edxml(read(SAMPLES / "document-downloaded-from-vxp-2019.edxml"))
    assert isinstance(m, DocumentMessage)
    assert m.business is None and m.doc_type is BusinessDocType.NEW
    assert m.response_for == ()  # <ResponseFor /> is no ResponseFor
    assert [t.organ_id for t in m.traces] == ["01.02.G22", "001.00.20.TT2"]
    assert m.traces[1].timestamp == datetime(2019, 5, 17, 18, 16, 33, tzinfo=VIETNAM_TIME)
    (attachment,) = m.attachments
    assert (attachment.declared_type, attachment.content_type) == (
        "application/pdf", "application/zip")
    assert attachment.is_zip
    # the Signature lost its xmldsig namespace in transit: kept as found
    assert m.signature is not None
    assert m.signature.xml.startswith(f'<Signature xmlns="{EDXML_NS}">')


@pytest.mark.parametrize(("name", "code", "sender", "addressee"), [
    ("status-01-arrived", "01", "000.00.00.H41", "000.00.00.G22"),
    ("status-02-rejected", "02", "000.00.00.H41", "000.00.00.G22"),
    ("status-03-accepted", "03", "000.00.00.H41", "000.00.00.G22"),
    ("status-13-recall-request", "13", "000.00.00.G22", "000.00.00.H41"),
])
def test_status_messages(name: str, code: str, sender: str, addressee: str) -> None:
    m = parse_edxml(read(SAMPLES / f"{name}.edxml"))
    assert isinstance(m, StatusMessage)
    assert (m.status_code, m.sender.organ_id, m.response_for.organ_id) == (
        code, sender, addressee)
    assert m.response_for.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert m.timestamp == datetime(2015, 9, 20, 11, 8, 36, tzinfo=VIETNAM_TIME)
    assert m.staff is not None and m.staff.department == "Phong hanh chinh"


def test_the_documented_canonical_example_is_what_the_writer_writes() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "edxml.md").read_text("utf-8")
    example = docs.split("```xml\n", 1)[1].split("```", 1)[0]
    written = write_edxml(parse_edxml(read(SAMPLES / "status-13-recall-request.edxml")))
    assert written == example.encode("utf-8")
