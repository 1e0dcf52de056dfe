"""What an agency of the ledger has to send on the axis, as edXML (docs/axis.md,
"Exporting"): the connector's ``Exporter``.

Read from the event log after the connector's cursor, filtered by topic:

- the agency's acts on its own documents towards external recipients (agencies
  reached only through the axis): a send (``BussinessDocType`` 0, to the
  recipients of that send), an update or replacement (2, 3: to the recipients,
  and to those the update removes) and a recall (1, to those asked), each the
  message ``document_message`` writes for the act, as the document was then,
  its ``To`` narrowed to the external recipients;
- the status changes of its deliveries from external senders (01 arrived, 02
  refused, 03 accepted, 04 assigned, 05, 06, 15, 16), each the status message of
  that change.

Agencies on the ledger read it: nothing is pushed to them. Each message's
``position`` is the notification id of the first event of its act, its ``id``
is derived from the act (the command's id, or the delivery event), so the same
act is always the same message under the same idempotency key.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any
from uuid import UUID

from domain import topics
from domain.exchange.delivery import Delivery
from domain.exchange.document import Document
from domain.exchange.edxml.model import (
    BusinessDocType,
    DocumentMessage,
    Organization,
    Receiver,
    ReceiverType,
)
from domain.exchange.edxml.write import write_edxml
from domain.ledger.application import DocLedger
from domain.ledger.edxml_export import Content, document_message, status_message
from infrastructure.axis_gateway import Agencies
from infrastructure.axis_sync import Outgoing

PAGE = 500
DOCUMENT_ACTS = ("Sent", "Revised")
STATUS_EVENTS = ("Arrived", "Accepted", "Refused", "Assigned", "ProgressReported",
                 "Completed", "RecallAgreed", "RecallRefused")
TOPICS = tuple([topics.event(topics.DOCUMENT, name) for name in DOCUMENT_ACTS]
               + [topics.event(topics.DELIVERY, name)
                  for name in (*STATUS_EVENTS, "RecallRequested")])


class LedgerExporter:
    """An agency's outgoing edXML messages, from the ledger's event log."""

    def __init__(self, app: DocLedger, content: Content, agencies: Agencies) -> None:
        self.app = app
        self.content = content
        self.agencies = agencies

    def outgoing(self, as_agency: str, since: int) -> list[Outgoing]:
        self.agencies.refresh()
        found: dict[str, Outgoing] = {}
        start = since + 1
        while True:
            page = self.app.recorder.select_notifications(start, PAGE, topics=TOPICS)
            for n in page:
                message = self._message(self.app.mapper.to_domain_event(n), n.id, as_agency)
                if message is not None and message.id not in found:
                    found[message.id] = message
            if len(page) < PAGE:
                return sorted(found.values(), key=lambda m: m.position)
            start = page[-1].id + 1

    def _message(self, event: Any, position: int, agency: str) -> Outgoing | None:
        if isinstance(event, Document.Sent | Document.Revised):
            doc = self.app.find(Document, event.originator_id)
            if doc is None or doc.sender != agency:
                return None
            sent = event.recipients if isinstance(event, Document.Sent) else None
            return self._document(doc.id, event, position, sent)
        delivery = self.app.find(Delivery, event.originator_id)
        if delivery is None:
            return None
        if isinstance(event, Delivery.RecallRequested):
            if delivery.sender != agency or not self.agencies.is_external(delivery.recipient):
                return None
            return self._document(UUID(delivery.document), event, position, None)
        if delivery.recipient != agency or not self.agencies.is_external(delivery.sender):
            return None
        message = status_message(self.app, UUID(delivery.document), agency,
                                 until=event.timestamp)
        return Outgoing(id=f"status-{event.originator_id}-{event.originator_version}",
                        position=position, service_type="status", data=write_edxml(message))

    def _document(self, document: UUID, event: Any, position: int,
                  sent: list[str] | None) -> Outgoing | None:
        message = document_message(self.app, document, self.content, until=event.timestamp)
        if sent is not None and message.doc_type is BusinessDocType.NEW:
            # a send adds recipients: the message goes to these, not again to earlier ones
            to = [o for o in message.recipients if o.organ_id in sent]
        else:  # an update goes to the recipients, and to those it removes, to tell them
            to = list(message.recipients) + [
                Organization(organ_id=r.organ_id) for r in _receivers(message)
                if r.receiver_type is ReceiverType.REMOVED]
        external = tuple(o for o in to if self.agencies.is_external(o.organ_id))
        if not external:
            return None
        return Outgoing(id=f"edoc-{_command_id(event)}", position=position, service_type="eDoc",
                        data=write_edxml(replace(message, recipients=external)))


def _receivers(message: DocumentMessage) -> tuple[Receiver, ...]:
    info = message.business.document_info if message.business else None
    return info.receivers if info else ()


def _command_id(event: Any) -> str:
    """The id of the command that recorded ``event`` (one act: one message)."""
    payload = json.loads(base64.b64decode(event.envelope["payload"]))
    return str(payload["command_id"])
