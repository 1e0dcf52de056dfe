"""The connector's default seam: the ledger's edXML importer and exporter
(docs/axis.md, "The seam").

A message delivered to a member agency X was sent by an agency Y:

- Y external (its key is the gateway's, ``infrastructure/axis_gateway.py``): the
  copy delivered to X is imported as Y's commands signed with the gateway's key
  (``import_edxml(…, Y, key=<gateway key>, addressee=X)``): a document lands in
  X's inbox as Y's send, a status becomes Y's delivery event, each command's
  ``source`` the bytes as received. The command ids come from what the commands
  say, so importing the same message again is a repeat.
- Y a member (keys of its own): its acts are its own signature's business. A
  message whose commands the ledger holds already is a repeat; any other is
  refused for good, with the reason.
- Y not on the ledger: deferred (left unacknowledged) until the registrar
  registers it as external, so nothing is lost.

A message the parser or the ledger refuses is ``MessageRefused`` with the
error's code and text. The exporter is ``infrastructure/axis_export.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from api.edxml_import import import_edxml
from api.session import LocalSession
from domain.errors import (
    ConcurrencyError,
    DocLedgerError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    VerificationError,
)
from domain.exchange.edxml.mapping import Codes, plan_import
from domain.exchange.edxml.model import Message
from domain.exchange.edxml.parse import parse_edxml
from infrastructure.axis_export import LedgerExporter
from infrastructure.axis_gateway import Agencies
from infrastructure.axis_sync import (
    Exporter,
    Importer,
    ImportResult,
    MessageDeferred,
    MessageRefused,
)
from infrastructure.edxml_export import content_of
from infrastructure.service import LedgerService

T = TypeVar("T")


def seam(service: LedgerService, agency: str) -> tuple[Importer, Exporter]:
    """The ledger's importer and exporter for the member ``agency``."""
    agencies = Agencies(service.app, service.folder)
    if agencies.kind(agency) != "member":
        raise InvalidInputError(
            f"{agency} is not a member agency of the ledger (registered with keys of its "
            "own): the connector acts for a member")
    return (LedgerImporter(service, agencies),
            LedgerExporter(service.app, content_of(service.folder.blobs), agencies))


class LedgerImporter:
    """Records each message the axis delivers as its sender's commands (see above)."""

    def __init__(self, service: LedgerService, agencies: Agencies) -> None:
        self.service = service
        self.agencies = agencies
        # OrganIds of the wild that are not 13-character codes (docs/edxml.md)
        self.organ_ids = service.settings.edxml_organ_ids

    def import_message(self, data: bytes, as_agency: str) -> ImportResult:
        self.agencies.refresh()
        message = _refusing(lambda: parse_edxml(data))
        sender = _refusing(lambda: Codes(self.organ_ids).ledger(message.sender.organ_id,
                                                                 "From/OrganId"))
        kind = self.agencies.kind(sender)
        if kind is None:
            raise MessageDeferred(
                f"the sender {sender} is not an agency of the ledger: the registrar registers "
                f"it as reached through the axis ('docledger axis register {sender}'), and "
                "the next run imports the message")
        if kind == "member":
            return self._members(message, sender)
        return self._external(data, sender, as_agency)

    def _external(self, data: bytes, sender: str, as_agency: str) -> ImportResult:
        try:
            done = import_edxml(LocalSession(self.service), data, sender,
                                key=self.service.folder.gateway_key, organ_ids=self.organ_ids,
                                addressee=as_agency)
        except StoreUnavailableError:
            raise  # the run stops; the next one takes the message up again
        except (ConcurrencyError, VerificationError) as exc:
            # not the message's fault (a concurrent command, the gateway's key revoked)
            raise MessageDeferred(f"{exc.code}: {exc}") from None
        except DocLedgerError as exc:
            raise MessageRefused(f"{exc.code}: {exc}") from None
        if not done.commands:
            return ImportResult(repeated=True, note=done.note)
        return ImportResult(
            repeated=all(row["recorded_before"] for row in done.commands),
            note=f"{sender}'s " + ", ".join(row["type"] for row in done.commands)
            + " (the gateway's key)")

    def _members(self, message: Message, sender: str) -> ImportResult:
        plan = _refusing(lambda: plan_import(message, sender, organ_ids=self.organ_ids))
        missing = [c for c in plan.commands if not self._recorded(c.command_id)]
        if not missing:
            return ImportResult(repeated=True, note=plan.note or f"recorded by {sender} itself")
        raise MessageRefused(
            f"{sender} is an agency of the ledger with keys of its own: its acts are recorded "
            f"when it signs them (docledger edxml import --as {sender}), not on the axis's "
            f"word; {len(missing)} of the message's {len(plan.commands)} commands are not "
            "on the ledger")

    def _recorded(self, command_id: str) -> bool:
        try:
            self.service.app.outcome_of(command_id)
        except NotFoundError:
            return False
        return True


def _refusing(step: Callable[[], T]) -> T:
    """``step``, whose refusal of the message (bad input, an act the ledger refuses)
    is a refusal for good."""
    try:
        return step()
    except DocLedgerError as exc:
        raise MessageRefused(f"{exc.code}: {exc}") from None
