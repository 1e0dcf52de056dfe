"""The notarised gateway: the ledger's receipt for edXML bytes the axis carried.

A ``GatewayReceiptRecord`` is one record with one event, ``Recorded``, whose envelope
is the ledger-signed ``gateway.receipt`` statement (domain/evidence/statements.py)
and whose fields are nothing but that statement's time: everything it says is in
the signed bytes. Its id is derived from (direction, agency, the axis's id, the
bytes' SHA-256), so the same bytes for the same message are receipted once, and
other bytes under the same axis id get a receipt of their own (docs/gateway.md).

``message_facts`` reads what a receipt commits to from the bytes, with the
edXML parser: a verifier reads them again from the bytes and must find the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args
from uuid import UUID

from domain import topics
from domain.errors import InvalidInputError
from domain.exchange.ids import gateway_receipt_id
from domain.exchange.records import Record

if TYPE_CHECKING:
    from domain.exchange.edxml.elements import Element
    from domain.exchange.edxml.model import Message

Direction = Literal["in", "out"]
ServiceType = Literal["eDoc", "status"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
SERVICE_TYPES: tuple[str, ...] = get_args(ServiceType)
# The statement's keys that ``message_facts`` fills, in this order.
FACT_KEYS = ("readable", "trace", "document_id", "from", "to", "response_for")
MAX_FIELD_CHARS = 200  # agency codes and axis ids are short; bound what is signed


class GatewayReceiptRecord(Record):
    """The ledger's word that the axis carried these bytes (docs/gateway.md)."""

    TOPIC = topics.GATEWAY_RECEIPT

    class Created(Record.Created):  # never stored; the library asks for a topic
        TOPIC = topics.event(topics.GATEWAY_RECEIPT, "Created")

    @staticmethod
    def id_for(direction: str, agency: str, axis_id: str, sha256: str) -> UUID:
        return gateway_receipt_id(direction, agency, axis_id, sha256)

    class Recorded(Record.Created):
        TOPIC = topics.event(topics.GATEWAY_RECEIPT, "Recorded")

        def apply(self, receipt: Any) -> None:
            receipt.statement_envelope = self.envelope
            receipt.recorded_at = self.timestamp

    if TYPE_CHECKING:  # set by the event's apply(), not by __init__
        statement_envelope: dict[str, Any]
        recorded_at: datetime

    @classmethod
    def record(cls, statement: dict[str, Any], *, envelope: dict[str, Any],
               at: datetime) -> GatewayReceiptRecord:
        return cls._create(
            cls.Recorded,
            id=cls.id_for(statement["direction"], statement["agency"], statement["axis_id"],
                          statement["sha256"]),
            envelope=envelope,
            timestamp=at,
        )


def check_receipt_request(direction: str, agency: str, axis_id: str,
                          service_type: str) -> None:
    """Refuse what a receipt cannot name (InvalidInputError, nothing written)."""
    if direction not in DIRECTIONS:
        raise InvalidInputError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    if service_type not in SERVICE_TYPES:
        raise InvalidInputError(f"service type must be one of {SERVICE_TYPES}, "
                                f"not {service_type!r}")
    for name, value in (("agency", agency), ("axis id", axis_id)):
        if not value or len(value) > MAX_FIELD_CHARS or not value.isprintable():
            raise InvalidInputError(f"the {name} {value[:40]!r} is empty, over "
                                    f"{MAX_FIELD_CHARS} characters or not printable")


def message_facts(data: bytes) -> dict[str, Any]:
    """What the bytes say, as a receipt records it: ``readable`` (the edXML parser
    accepts them), the ``trace`` headers in order, each ``{"organ_id",
    "timestamp"}`` as the text found (trimmed; null if empty), and the message's
    ``document_id``, ``from``, ``to`` (a list) and, for a status message,
    ``response_for`` (``{"organ_id", "document_id"}``). Bytes the parser refuses
    are receipted too (the axis did deliver them): unreadable, no facts."""
    # imported here: the parser (lxml) and the model are start-up time every process
    # of the tool would pay, and only the gateway's receipts and checks read messages
    from domain.exchange.edxml.errors import EdxmlError
    from domain.exchange.edxml.parse import parse_edxml

    try:
        message = parse_edxml(data)
    except EdxmlError:
        return {"readable": False, "trace": [], "document_id": None, "from": None, "to": [],
                "response_for": None}
    return {"readable": True, "trace": _trace_texts(data), **_addressing(message)}


def _addressing(message: Message) -> dict[str, Any]:
    from domain.exchange.edxml.model import DocumentMessage

    if isinstance(message, DocumentMessage):
        return {"document_id": message.document_id, "from": message.sender.organ_id,
                "to": [o.organ_id for o in message.recipients], "response_for": None}
    about = message.response_for
    return {"document_id": about.document_id, "from": message.sender.organ_id,
            "to": [o.organ_id for o in message.recipients],
            "response_for": {"organ_id": about.organ_id, "document_id": about.document_id}}


def _trace_texts(data: bytes) -> list[dict[str, str | None]]:
    """The trace headers' text. Called only on bytes ``parse_edxml`` accepted (no
    DTD, no entity, within its bounds), read again with the same hardening: the
    model keeps the timestamps as times, a receipt keeps them as written."""
    from lxml import etree

    from domain.exchange.edxml.model import EDXML_NS

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, remove_comments=True, remove_pis=True)
    root = etree.fromstring(data, parser)
    found: list[dict[str, str | None]] = []
    path = ("edXMLEnvelope", "edXMLHeader", "TraceHeaderList")
    element: Element | None = root
    for name in path:
        element = None if element is None else element.find(f"{{{EDXML_NS}}}{name}")
    if element is None:
        return found
    for trace in element.findall(f"{{{EDXML_NS}}}TraceHeader"):
        found.append({"organ_id": _text(trace, "OrganId"),
                      "timestamp": _text(trace, "Timestamp")})
    return found


def _text(parent: Element, name: str) -> str | None:
    from domain.exchange.edxml.elements import text_of
    from domain.exchange.edxml.model import EDXML_NS

    child = parent.find(f"{{{EDXML_NS}}}{name}")
    return None if child is None else text_of(child)
