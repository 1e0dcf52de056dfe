"""Importing an edXML message: the acting agency's signed commands, on any session.

The message's XML signature is judged first, on the bytes as received (the
ledger's trust anchors and policy: a message the policy refuses writes nothing);
then the bytes go to the blob store and each command that takes one names them
as its ``source`` (docs/commands.md, schema 2), with that judgement as
``source.signature``, so the ledger can later prove exactly what it was handed
and what its signature said. A command whose id the ledger
has recorded (the same message imported again, or the ledger's own export of it:
the ids are derived from what the commands say) is refused ``command-id-conflict``
with nothing written, and reported here as recorded before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.session import LedgerSession
from domain.errors import CommandIdConflictError, DocLedgerError
from domain.exchange.edxml.addressee import for_addressee
from domain.exchange.edxml.mapping import Plan, plan_import
from domain.exchange.edxml.parse import parse_edxml

SOURCE_NAME = "message.edxml"
SOURCE_TYPE = "application/xml"


@dataclass
class Imported:
    """What one message became: each planned command, done now or recorded before."""

    document: str
    source_sha256: str
    signature: dict[str, Any] = field(default_factory=dict)  # source.signature
    commands: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_edxml(session: LedgerSession, data: bytes, agency: str, *,
                 key: Path | None = None,
                 organ_ids: Mapping[str, str] | None = None,
                 addressee: str | None = None) -> Imported:
    """Parse ``data``, plan its commands as ``agency``, and give each one, signed.

    ``organ_ids`` names the agency each OrganId of the message that is not a
    13-character code stands for (``28.22.H17``: docs/edxml.md, "Agency codes").
    With ``addressee``, the copy the axis delivered to it: the acts towards it only
    (``for_addressee``)."""
    message = parse_edxml(data)
    if addressee is not None:
        message = for_addressee(message, addressee, organ_ids)
    plan: Plan = plan_import(message, agency, organ_ids=organ_ids)
    # judged on the bytes as received, before anything is kept: a message the
    # ledger's signature policy refuses leaves nothing behind
    signature = session.xml_signature(agency, data)
    sha256 = session.upload(agency, data)
    source = {"name": SOURCE_NAME, "media_type": SOURCE_TYPE, "size": len(data),
              "sha256": sha256, "signature": signature}
    for blob in plan.blobs:
        session.upload(agency, blob)
    done = Imported(document=str(plan.document), source_sha256=sha256, signature=signature,
                    note=plan.note)
    for planned in plan.commands:
        fields = {**planned.fields, "source": source} if planned.sourced else planned.fields
        row: dict[str, Any] = {"type": planned.type, "command_id": planned.command_id}
        try:
            outcome = session.act(agency, planned.type, fields, key=key, staff=planned.staff,
                                  command_id=planned.command_id)
        except DocLedgerError as exc:
            if not _recorded_before(exc):
                raise
            row["recorded_before"] = True
        else:
            row |= {"recorded_before": outcome.repeated, "result": outcome.result}
        done.commands.append(row)
    return done


def _recorded_before(exc: DocLedgerError) -> bool:
    """The command id is the ledger's already (locally the error itself; over HTTP
    the server's problem type carried as its code)."""
    return isinstance(exc, CommandIdConflictError) or exc.code == CommandIdConflictError.code
