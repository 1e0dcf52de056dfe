"""The demo's edXML round: a ministry reached only through the national axis sends a
document to a commune; the commune's clerk accepts it; the statuses go back out as
edXML status messages (docs/axis.md).

No axis runs here: the message is handed to the connector's importer as the axis
would deliver it, and what the exporter lists is what ``docledger axis sync``
would push. The ministry is registered as reached through the axis, with the
gateway's key, as ``docledger axis register`` does.
"""

from __future__ import annotations

from datetime import date, datetime

from api.axis_seam import seam
from api.render import out
from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.document import Document
from domain.exchange.edxml.model import (
    Business,
    BusinessDocType,
    Code,
    DocumentMessage,
    DocumentType,
    Organization,
    PromulgationInfo,
    SignerInfo,
    StatusMessage,
    TraceHeader,
)
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from infrastructure.axis_gateway import register_external
from infrastructure.service import LedgerService

MINISTRY = "000.00.00.G24"
MINISTRY_NAME = "Bộ Nội vụ"


def axis_round(service: LedgerService, addressee: str, name: str, round_id: str) -> None:
    if register_external(service, MINISTRY, MINISTRY_NAME) is not None:
        out.print(f"registered {MINISTRY} {MINISTRY_NAME}: reached through the axis, with "
                  "the gateway's key")
    importer, exporter = seam(service, addressee)
    since = int(service.app.recorder.max_notification_id() or 0)
    message = ministry_document(addressee, round_id)
    result = importer.import_message(message, addressee)
    out.print(f"\n[bold]edXML in[/] ({len(message)} bytes, from the axis): {MINISTRY_NAME} → "
              f"{name}, recorded as {result.note}")
    parsed = parse_edxml(message)
    document = Document.id_for(MINISTRY, parsed.document_id)  # type: ignore[union-attr]
    outcome = service.act(addressee, "delivery.accept", {"document": str(document)})
    out.print(f"  {name}: 03 accepted and registered "
              f"(incoming no. {outcome.result.get('incoming_number')})")
    for outgoing in exporter.outgoing(addressee, since):
        sent = parse_edxml(outgoing.data)
        assert isinstance(sent, StatusMessage)
        out.print(f"[bold]edXML out[/] ({len(outgoing.data)} bytes, for the axis): status "
                  f"{sent.status_code} from {name} to {MINISTRY_NAME}")
    out.print(outgoing.data.decode().rstrip(), markup=False, highlight=False)


def ministry_document(addressee: str, round_id: str) -> bytes:
    """The ministry's official letter as its document system writes it."""
    today = date.today()
    return write_edxml(DocumentMessage(
        sender=Organization(organ_id=MINISTRY, organ_name=MINISTRY_NAME),
        recipients=(Organization(organ_id=addressee),),
        document_id=f"{MINISTRY},{today:%Y/%m/%d},{round_id}/BNV-VP",
        code=Code(number="1024", notation="BNV-VP"),
        promulgation=PromulgationInfo(date=today, place="Hà Nội"),
        document_type=DocumentType(type="2", type_name="Công văn"),
        subject="Về việc rà soát thủ tục hành chính cấp xã",
        signer=SignerInfo(competence="KT. BỘ TRƯỞNG", position="Thứ trưởng",
                          full_name="Trần Văn F"),
        traces=(TraceHeader(organ_id=MINISTRY,
                            timestamp=datetime.now(VIETNAM_TIME).replace(microsecond=0)),),
        business=Business(doc_type=BusinessDocType.NEW),
    ))
