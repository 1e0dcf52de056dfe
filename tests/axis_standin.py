"""A stand-in for the connector's seam until the edXML mapping is wired in.

The importer records each message in the real ledger: the edXML bytes as an
attachment (content-addressed in the data folder's blobs) of a draft document
that the receiving agency creates, signed with its key from the data folder. Its
command id comes from the bytes' digest, so the same message imported again is a
repeat. It refuses, for good, a message whose sender the ledger does not know.

The exporter reads the files ``DATA/axis-outbox/CODE/<position>-<id>.<eDoc|status>.edxml``
(an agency's outgoing messages, in position order).

``python -m api axis sync … --seam tests.axis_standin:seam``.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import cast

from domain.errors import NotFoundError
from domain.exchange.agency import Agency
from domain.exchange.ids import agency_id
from domain.exchange.signing import sign_command
from infrastructure.axis_client import ServiceType
from infrastructure.axis_sync import Exporter, Importer, ImportResult, MessageRefused, Outgoing
from infrastructure.service import LedgerService
from tests.factories import header

NS = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"


def command_id_for(data: bytes) -> str:
    return "cmd-axis-" + hashlib.sha256(data).hexdigest()[:24]


class LedgerImporter:
    def __init__(self, service: LedgerService) -> None:
        self.service = service

    def import_message(self, data: bytes, as_agency: str) -> ImportResult:
        command_id = command_id_for(data)
        app = self.service.app
        if app.lookup(Agency, agency_id(as_agency)) is None:
            raise RuntimeError(f"{as_agency} is not registered")  # not the message's fault
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            raise MessageRefused(f"not well-formed XML: {exc}") from None
        sender = root.findtext(f".//{NS}From/{NS}OrganId")
        if not sender or app.lookup(Agency, agency_id(sender)) is None:
            raise MessageRefused(f"the sender {sender!r} is not an agency of the ledger")
        try:
            app.outcome_of(command_id)
            return ImportResult(repeated=True, note=command_id)
        except NotFoundError:
            pass  # not recorded yet
        digest = self.service.folder.blobs.put(data)
        raw = sign_command(self.service.signer_for(as_agency), "document.create", {
            "document_id": f"{as_agency},axis,{digest[:16]}",
            "header": header(subject=f"Nhận qua trục từ {sender}"),
            "attachments": [{"name": "message.edxml", "media_type": "application/xml",
                             "size": len(data), "sha256": digest}],
        }, agency=as_agency, staff="văn thư", command_id=command_id)
        outcome = self.service.execute(raw)
        return ImportResult(repeated=outcome.repeated, note=command_id)


class FolderExporter:
    def __init__(self, root: Path) -> None:
        self.root = root

    def outgoing(self, as_agency: str, since: int) -> list[Outgoing]:
        found = []
        for path in sorted((self.root / as_agency).glob("*.edxml")):
            stem, service_type = path.name.removesuffix(".edxml").rsplit(".", 1)
            position, _, outgoing_id = stem.partition("-")
            if int(position) > since:
                found.append(Outgoing(id=outgoing_id, position=int(position),
                                      service_type=cast(ServiceType, service_type),
                                      data=path.read_bytes()))
        return sorted(found, key=lambda o: o.position)


def outbox(data: Path) -> Path:
    return data / "axis-outbox"


def seam(service: LedgerService, agency: str) -> tuple[Importer, Exporter]:
    return LedgerImporter(service), FolderExporter(outbox(service.settings.data))
