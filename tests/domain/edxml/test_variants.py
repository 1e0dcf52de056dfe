"""Liberal in what is accepted: each variant the wild sends parses to the same
model as its clean original (tests/assets/edxml/variants, one rule per file)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pytest

from domain.exchange.edxml.model import (
    EDXML_NS,
    XMLDSIG_NS,
    DocumentMessage,
    RawElement,
    StatusMessage,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from domain.exchange.edxml.zipped import inspect_zip
from tests.domain.edxml.support import SAMPLES, VARIANTS, read

NEW = "document-new-with-attachment.edxml"

SAME_AS_ORIGINAL = [
    ("new-unprefixed", NEW),  # every element in the default namespace
    ("new-prefixed-attachment-encoded", NEW),  # AttachmentEncoded prefixed edXML:
    ("update-business-before-trace-header", "document-update-receiver-list.edxml"),
    ("new-header-reordered", NEW),  # DocumentId first in MessageHeader
    ("new-dates-day-first", NEW),  # dd/MM/yyyy dates and timestamp
    ("new-timestamp-with-zone", NEW),  # 2018-09-27T17:00:00Z is 2018/09/28 00:00:00 UTC+7
    ("new-lf-line-ends", NEW),
    ("new-with-bom", NEW),
    ("new-empty-response-for", NEW),  # <ResponseFor /> as the axis leaves it
    ("status-01-reordered-day-first", "status-01-arrived.edxml"),
    # 2015-09-20T11:08:36.250+07:00: ISO 8601, the fraction dropped
    ("status-01-timestamp-with-milliseconds", "status-01-arrived.edxml"),
]


def test_carriage_return_written_as_a_character_reference_is_a_line_end() -> None:
    escaped = parse_edxml(read(VARIANTS / "status-01-description-escaped-crlf.edxml"))
    plain = parse_edxml(read(VARIANTS / "status-01-description-two-lines.edxml"))
    assert isinstance(escaped, StatusMessage)
    assert escaped.description == "Văn thư - Phòng Văn thư - Lưu trữ:\nĐã đến"
    assert escaped == plain


@pytest.mark.parametrize(("variant", "original"), SAME_AS_ORIGINAL, ids=lambda v: v)
def test_variant_parses_to_the_same_model_as_its_clean_original(variant: str,
                                                                original: str) -> None:
    assert parse_edxml(read(VARIANTS / f"{variant}.edxml")) == \
        parse_edxml(read(SAMPLES / original))


def test_signature_in_the_xmldsig_namespace_is_kept_as_found() -> None:
    variant = parse_edxml(read(VARIANTS / "new-signature-xmldsig-namespace.edxml"))
    clean = parse_edxml(read(SAMPLES / NEW))
    assert isinstance(variant, DocumentMessage) and isinstance(clean, DocumentMessage)
    assert variant.signature is not None and clean.signature is not None
    assert variant.signature.xml.startswith(f'<Signature xmlns="{XMLDSIG_NS}">')
    assert clean.signature.xml.startswith(f'<Signature xmlns="{EDXML_NS}">')
    assert replace(variant, signature=None) == replace(clean, signature=None)
    assert parse_edxml(write_edxml(variant)) == variant


def test_signature_of_a_status_message_is_kept_as_found() -> None:
    # the SDK's status samples carry none; the wild signs status messages too
    variant = parse_edxml(read(VARIANTS / "status-01-with-signature.edxml"))
    clean = parse_edxml(read(SAMPLES / "status-01-arrived.edxml"))
    assert isinstance(variant, StatusMessage) and variant.signature is not None
    assert variant.signature.xml == (f'<Signature xmlns="{EDXML_NS}"><SignatureValue>AAAA'
                                     "</SignatureValue></Signature>")
    assert replace(variant, signature=None) == clean
    assert parse_edxml(write_edxml(variant)) == variant


def test_zipped_attachment_holding_a_whole_other_edxml() -> None:
    m = parse_edxml(read(VARIANTS / "new-zipped-edxml-attachment.edxml"))
    assert isinstance(m, DocumentMessage)
    (attachment,) = m.attachments
    assert attachment.is_zip and attachment.content is not None
    entries = inspect_zip(attachment.content)
    assert entries is not None
    assert [e.name for e in entries] == ["32da2890-1a55-4ccd-9ac9-cd0d98559e67.edxml"]
    with zipfile.ZipFile(io.BytesIO(attachment.content)) as archive:
        inner = archive.read(entries[0].name)
    assert entries[0].size == len(inner)
    assert parse_edxml(inner) == parse_edxml(read(SAMPLES / "status-01-arrived.edxml"))
    assert isinstance(parse_edxml(inner), StatusMessage)
    assert parse_edxml(write_edxml(m)) == m


def test_unknown_elements_are_kept_as_evidence_not_dropped() -> None:
    m = parse_edxml(read(VARIANTS / "new-unknown-elements.edxml"))
    assert isinstance(m, DocumentMessage) and m.other_info is not None
    assert m.other_info.extra == (RawElement(
        f'<edXML:ReferenceCodes xmlns:edXML="{EDXML_NS}"><edXML:ReferenceCode>A-1'
        "</edXML:ReferenceCode></edXML:ReferenceCodes>"),)
    assert m.extra == (RawElement(
        f'<edXML:ApplicationType xmlns:edXML="{EDXML_NS}">2</edXML:ApplicationType>'),)
    assert m.header_extra == (RawElement(
        f'<edXML:DigitalSignature xmlns:edXML="{EDXML_NS}"></edXML:DigitalSignature>'),)
    clean = parse_edxml(read(SAMPLES / NEW))
    assert isinstance(clean, DocumentMessage) and clean.other_info is not None
    assert replace(m, extra=(), header_extra=(),
                   other_info=replace(m.other_info, extra=())) == clean
    assert parse_edxml(write_edxml(m)) == m


def test_a_body_in_a_status_message_is_kept_as_evidence() -> None:
    status = read(SAMPLES / "status-01-arrived.edxml")
    body = (b"    <edXML:edXMLBody><edXML:edXMLManifest version=\"1.0\"/></edXML:edXMLBody>\r\n"
            b"  </edXML:edXMLEnvelope>")
    m = parse_edxml(status.replace(b"  </edXML:edXMLEnvelope>", body))
    assert isinstance(m, StatusMessage)
    assert m.header_extra == (RawElement(
        f'<edXML:edXMLBody xmlns:edXML="{EDXML_NS}"><edXML:edXMLManifest version="1.0">'
        "</edXML:edXMLManifest></edXML:edXMLBody>"),)
    assert parse_edxml(write_edxml(m)) == m
