"""What the connector's tests share: edXML messages as agencies' systems write them,
a ledger whose agencies' keys are in its data folder, and a local axis (served
over HTTP by the ``axis`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pytest

from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.edxml.model import (
    Business,
    BusinessDocType,
    Code,
    DocumentMessage,
    Organization,
    PromulgationInfo,
    SignerInfo,
    TraceHeader,
)
from domain.exchange.edxml.write import write_edxml
from infrastructure.keyfiles import write_key_pair
from infrastructure.ledger import DataFolder
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from tests.axis_server import Axis, AxisServer
from tests.factories import RECIPIENT, SENDER, World

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
STRANGER = "000.00.99.X01"  # on the axis, unknown to the ledger
OUTSIDE = "000.00.98.X02"  # on the axis only, in the tests that register STRANGER


def document(sender: str, to: list[str], number: int) -> bytes:
    """A document message as the SDK's sample writes it (default namespace, a first
    TraceHeader by the sender, CRLF line ends)."""
    recipients = "".join(f"<edXML:To><edXML:OrganId>{c}</edXML:OrganId></edXML:To>" for c in to)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        f'<edXML xmlns="{NS}">\r\n<edXML:edXMLEnvelope xmlns:edXML="{NS}">\r\n'
        "<edXML:edXMLHeader><edXML:MessageHeader>"
        f"<edXML:From><edXML:OrganId>{sender}</edXML:OrganId></edXML:From>{recipients}"
        f"<edXML:DocumentId>{sender},2026/11/27,{number}/VPCP-TTĐT</edXML:DocumentId>"
        f"<edXML:Code><edXML:CodeNumber>{number}</edXML:CodeNumber>"
        "<edXML:CodeNotation>VPCP-TTĐT</edXML:CodeNotation></edXML:Code>"
        "<edXML:Subject>Về việc thử trục liên thông</edXML:Subject>"
        "</edXML:MessageHeader>\r\n<!-- a comment the axis drops -->\r\n"
        f"<edXML:TraceHeaderList><edXML:TraceHeader><edXML:OrganId>{sender}</edXML:OrganId>"
        "<edXML:Timestamp>2026/11/27 08:00:00</edXML:Timestamp></edXML:TraceHeader>"
        f"<edXML:Bussiness><edXML:BussinessDocType>0</edXML:BussinessDocType></edXML:Bussiness>"
        "</edXML:TraceHeaderList></edXML:edXMLHeader></edXML:edXMLEnvelope>\r\n</edXML>\r\n"
    ).encode()


def full_document(sender: str, to: list[str], number: int) -> bytes:
    """A complete document message (everything the ledger's mapping needs), in the
    canonical form."""
    return write_edxml(DocumentMessage(
        sender=Organization(organ_id=sender, organ_name=f"Agency {sender}"),
        recipients=tuple(Organization(organ_id=code) for code in to),
        document_id=f"{sender},2026/11/27,{number}/BNG-VP",
        code=Code(number=str(number), notation="BNG-VP"),
        promulgation=PromulgationInfo(date=date(2026, 11, 27), place="Hà Nội"),
        subject="Về việc phối hợp trao đổi văn bản qua trục",
        signer=SignerInfo(position="Chánh Văn phòng", full_name="Phạm Văn E"),
        traces=(TraceHeader(organ_id=sender,
                            timestamp=datetime(2026, 11, 27, 8, 0, tzinfo=VIETNAM_TIME)),),
        business=Business(doc_type=BusinessDocType.NEW),
    ))


def status(sender: str, to: str, code: str) -> bytes:
    """A status message (no TraceHeaderList), routed to ``ResponseFor/OrganId``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<edXML xmlns="{NS}">'
        f'<edXML:edXMLEnvelope xmlns:edXML="{NS}"><edXML:edXMLHeader><edXML:MessageHeader>'
        f"<edXML:From><edXML:OrganId>{sender}</edXML:OrganId></edXML:From>"
        f"<edXML:ResponseFor><edXML:OrganId>{to}</edXML:OrganId>"
        "<edXML:Code>1/VPCP-TTĐT</edXML:Code>"
        f"<edXML:DocumentId>{to},2026/11/27,1/VPCP-TTĐT</edXML:DocumentId></edXML:ResponseFor>"
        f"<edXML:StatusCode>{code}</edXML:StatusCode>"
        "<edXML:Timestamp>2026/11/27 09:00:00</edXML:Timestamp>"
        "</edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope></edXML>"
    ).encode()


def local_axis() -> Axis:
    axis = Axis()
    for code in (SENDER, RECIPIENT, STRANGER, OUTSIDE):
        axis.add_agency(code, f"Agency {code}")
    axis.add_system("vxp.g22", "secret-g22", {SENDER})
    axis.add_system("vxp.h41", "secret-h41", {RECIPIENT})
    axis.add_system("vxp.other", "secret-other", {STRANGER, OUTSIDE})
    return axis


def ledger_with_keys(settings: Settings) -> World:
    """A ledger with the factories' agencies, their keys in the data folder (as
    ``agency register`` leaves them), so the connector signs as they do."""
    world = World.create(settings)
    folder = DataFolder(settings.data)
    for code, signer in world.keys.items():
        write_key_pair(signer, folder.agency_key(code))
    return world


@contextmanager
def served_ledger(settings: Settings) -> Iterator[LedgerService]:
    """The service over ``ledger_with_keys``, closed at the end."""
    service = bootstrap(settings, app=ledger_with_keys(settings).app)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def axis() -> Iterator[AxisServer]:
    """The local axis, served on 127.0.0.1 for the test."""
    server = AxisServer(local_axis()).start()
    yield server
    server.stop()


def put_outgoing(data: Path, agency: str, position: int, outgoing_id: str, service_type: str,
                 message: bytes) -> None:
    box = data / "axis-outbox" / agency
    box.mkdir(parents=True, exist_ok=True)
    (box / f"{position}-{outgoing_id}.{service_type}.edxml").write_bytes(message)
