"""The writer is strict and the parser reads it back: for every model value,
``parse_edxml(write_edxml(m)) == m``, and the output is the canonical form."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from domain.exchange.codes import EDXML_ORGAN_ID, VIETNAM_TIME
from domain.exchange.edxml.model import (
    EDXML_NS,
    XMLDSIG_NS,
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentMessage,
    DocumentType,
    Message,
    Organization,
    OtherInfo,
    PromulgationInfo,
    RawElement,
    Receiver,
    ReceiverType,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusMessage,
    TraceHeader,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml

# The characters that matter to XML and to trimming, rather than all of Unicode
# (drawing from all of it made the test slow): markup, white space the parser
# keeps inside text, NEL and NBSP (str.strip removes them), a C1 control, the last
# BMP character and one beyond, and Vietnamese letters.
_XML_CHAR = st.sampled_from(list("aZ09 \t\n<>&\"']/-:,.\x7f\x85\xa0\u2028\ufffd"
                                 "\U0001f4c4ĐđếữỹƯ"))
text = st.text(_XML_CHAR, min_size=1, max_size=8).map(str.strip).filter(bool)
maybe_text = st.none() | text
organ_id = st.from_regex(EDXML_ORGAN_ID, fullmatch=True)
days = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))
moments = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.just(VIETNAM_TIME)).map(lambda d: d.replace(microsecond=0))


@st.composite
def raw(draw: Any, local: str | None = None, namespace: str = EDXML_NS) -> RawElement:
    """An element the model does not know, as the parser keeps it (exclusive C14N)."""
    name = local or draw(st.from_regex(r"Extra[A-Z][a-z]{0,5}", fullmatch=True))
    prefix = draw(st.sampled_from(["edXML:", ""]))
    element = etree.Element(f"{{{namespace}}}{name}",
                            nsmap={prefix.rstrip(":") or None: namespace})
    element.text = draw(st.none() | text)
    return RawElement(etree.tostring(element, method="c14n", exclusive=True).decode())


extra = st.just(()) | st.lists(raw(), min_size=1, max_size=2).map(tuple)


def tuples(strategy: Any, **kw: Any) -> Any:
    return st.lists(strategy, **{"max_size": 2, **kw}).map(tuple)


organization = st.builds(Organization, organ_id=organ_id, organization_in_charge=maybe_text,
                         organ_name=maybe_text, organ_add=maybe_text, email=maybe_text,
                         telephone=maybe_text, fax=maybe_text, website=maybe_text,
                         extra=extra)
staff = st.builds(StaffInfo, department=maybe_text, staff=maybe_text, email=maybe_text,
                  mobile=maybe_text, extra=extra)
response_for = st.builds(ResponseFor, organ_id=st.none() | organ_id, code=maybe_text,
                         promulgation_date=st.none() | days, document_id=text, extra=extra)
trace = st.builds(TraceHeader, organ_id=maybe_text, timestamp=st.none() | moments,
                  extra=extra)
business = st.builds(
    Business, doc_type=st.sampled_from(BusinessDocType), document_id=maybe_text,
    reason=maybe_text, paper=maybe_text,
    document_info=st.none() | st.builds(
        BusinessDocumentInfo, document_info=maybe_text, document_receiver=maybe_text,
        receivers=tuples(st.builds(Receiver, organ_id=organ_id,
                                   receiver_type=st.sampled_from(ReceiverType),
                                   extra=extra)),
        extra=extra),
    replacements=tuples(st.builds(ReplacementInfo, document_id=text,
                                  organ_ids=tuples(organ_id), extra=extra)),
    staff=st.none() | staff, extra=extra)


@st.composite
def attachment(draw: Any, number: int) -> Attachment:
    content = draw(st.none() | st.binary(max_size=40) |
                   st.binary(max_size=20).map(lambda b: b"%PDF-" + b))
    name = draw(text)
    description = draw(maybe_text)
    fields: dict[str, Any] = {"declared_type": draw(st.none() | st.sampled_from(
        ["application/pdf", "application/msword"])), "description": description,
        "manifest_extra": draw(extra)}
    if content is None:
        if draw(st.booleans()):
            fields["sha256"] = draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
            fields["size"] = draw(st.integers(0, 2**40))
    else:
        pdf = content.startswith(b"%PDF-")
        fields["content_type"] = draw(st.sampled_from(
            [None, "text/plain", "application/octet-stream"]
            + (["application/pdf"] if pdf else [])))
        fields["extra"] = draw(extra)
        fields["manifest_name"] = draw(st.none() | text.filter(lambda t: t != name))
        if description is not None:
            fields["manifest_description"] = draw(
                st.none() | text.filter(lambda t: t != description))
        if not draw(st.booleans()):
            fields |= {"in_manifest": False, "declared_type": None, "manifest_extra": (),
                       "manifest_name": None, "manifest_description": None}
    return Attachment.of(content_id=f"cid:{number}", name=name, content=content, **fields)


@st.composite
def attachments(draw: Any) -> tuple[Attachment, ...]:
    drawn = [draw(attachment(n)) for n in range(draw(st.integers(0, 3)))]
    return tuple(sorted(drawn, key=lambda a: not a.in_manifest))


document = st.builds(
    DocumentMessage, sender=organization, recipients=tuples(organization, min_size=1),
    document_id=text, code=st.builds(Code, number=text, notation=text, extra=extra),
    promulgation=st.builds(PromulgationInfo, date=days, place=maybe_text, extra=extra),
    document_type=st.none() | st.builds(DocumentType, type=maybe_text,
                                        type_detail=maybe_text, type_name=maybe_text,
                                        extra=extra),
    subject=maybe_text, content=maybe_text,
    signer=st.none() | st.builds(SignerInfo, competence=maybe_text, position=maybe_text,
                                 full_name=maybe_text, extra=extra),
    due_date=st.none() | days,
    other_info=st.none() | st.builds(
        OtherInfo, priority=maybe_text, sphere_of_promulgation=maybe_text,
        typer_notation=maybe_text, promulgation_amount=st.none() | st.integers(0, 10**6),
        page_amount=st.none() | st.integers(0, 10**6), direction=st.none() | st.booleans(),
        appendixes=tuples(text), extra=extra),
    response_for=tuples(response_for), steering_type=maybe_text, to_places=tuples(text),
    traces=tuples(trace), business=st.none() | business,
    signature=st.none() | raw("Signature", XMLDSIG_NS) | raw("Signature", EDXML_NS),
    attachments=attachments(), extra=extra, header_extra=extra)

status = st.builds(
    StatusMessage, sender=organization,
    response_for=st.builds(ResponseFor, organ_id=organ_id, code=text,
                           promulgation_date=st.none() | days, document_id=text,
                           extra=extra),
    status_code=st.sampled_from([f"{n:02d}" for n in range(1, 17)]), timestamp=moments,
    staff=st.none() | staff, description=maybe_text, recipients=tuples(organization),
    traces=tuples(trace), extra=extra, header_extra=extra)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(document, status))
def test_every_model_value_round_trips(message: Message) -> None:
    written = write_edxml(message)
    assert parse_edxml(written) == message
    assert written.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<edXML ')
    assert b"\r" not in written and written.endswith(b"</edXML>\n")
