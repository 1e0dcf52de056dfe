"""One addressee's copy of an edXML message (docs/axis.md, "Importing").

The axis delivers a message to each addressee separately: a document to each
``To/OrganId``, a status message to ``ResponseFor/OrganId``. What one delivered
copy proves is the sender's act towards that addressee, so a copy is recorded as
the act towards it alone: a document's ``To`` and an update's ``ReceiverList`` are
narrowed to the addressee (the other agencies of the message may not be on the
ledger at all; they stay in the message's bytes, the evidence). A copy not
addressed to the agency it was delivered to is refused.

Pure: no ledger is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from domain.exchange.edxml.errors import EdxmlInvalidValueError
from domain.exchange.edxml.model import DocumentMessage, Message, StatusMessage


def for_addressee(message: Message, addressee: str,
                  organ_ids: Mapping[str, str] | None = None) -> Message:
    """``message`` as delivered to ``addressee``: its acts towards it only, else raise.
    ``organ_ids`` translates OrganIds that are not the ledger's codes (as for
    ``plan_import``)."""
    names = organ_ids or {}

    def mine(organ_id: str | None) -> bool:
        return organ_id is not None and names.get(organ_id, organ_id) == addressee

    if isinstance(message, StatusMessage):
        if not mine(message.response_for.organ_id):
            raise EdxmlInvalidValueError(
                f"the status message is addressed to {message.response_for.organ_id}, "
                f"not to {addressee}, which it was delivered to", element="ResponseFor/OrganId")
        return message
    return _document_for(message, addressee, mine)


def _document_for(message: DocumentMessage, addressee: str,
                  mine: Callable[[str | None], bool]) -> DocumentMessage:
    to = tuple(o for o in message.recipients if mine(o.organ_id))
    if not to:
        raise EdxmlInvalidValueError(
            f"the document message is addressed to "
            f"{', '.join(o.organ_id for o in message.recipients)}, not to {addressee}, "
            "which it was delivered to", element="To/OrganId")
    business = message.business
    info = business.document_info if business else None
    if business is not None and info is not None:
        receivers = tuple(r for r in info.receivers if mine(r.organ_id))
        business = replace(business, document_info=replace(info, receivers=receivers))
    return replace(message, recipients=to[:1], business=business)
