"""The part of a golden ledger made after the demo from format 2 on: schema-2
commands made from edXML messages (``python -m tests.golden.make``).

Each message comes from the public samples (tests/assets/edxml/samples), as the
tests use them, and is imported by its sender with ``import_edxml``, so every
command names its message as ``source`` with what its XML signature said: signed
by a throwaway test CA (valid under that certificate), tampered after signing
(invalid, recorded under the default policy) and unsigned (absent). Between
them: a short OrganId translated, a document addressed to its own sender, an
update adding and removing recipients, an update of the metadata only
(Document.HeaderRevised), status messages, and a recall.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from api.demo import DISTRICT_WEST
from api.edxml_import import import_edxml
from api.session import LocalSession
from domain.evidence.keys import Ed25519Signer
from domain.exchange.document import Document
from domain.exchange.edxml.model import BusinessDocumentInfo, DocumentMessage
from domain.exchange.edxml.parse import parse_edxml
from domain.exchange.edxml.write import write_edxml
from infrastructure.keyfiles import write_key_pair
from infrastructure.service import LedgerService
from tests.contract.test_edxml_import import (
    A80,
    ALL,
    DOC_7816,
    G22,
    H41,
    H51,
    SHORT,
    base,
    sample,
    status,
)
from tests.edxml_signing import pki, sign

AGENCIES = {G22: "Văn phòng Chính phủ", H41: "UBND tỉnh Nghệ An", "000.00.00.H14": "UBND tỉnh B",
            "000.00.00.G17": "Bộ C", A80: "Cơ quan A80", H51: "Cơ quan H51",
            SHORT["28.22.H17"]: "Cơ quan 28.22.H17"}


def edxml_history(service: LedgerService) -> dict[str, Any]:
    """Register the samples' agencies and import the messages; what the manifest says
    of them: the document whose bundle shows each kind of signature result."""
    for code, name in AGENCIES.items():
        signer = Ed25519Signer.generate()
        write_key_pair(signer, service.folder.agency_key(code))
        service.act("registrar", "agency.register",
                    {"code": code, "name": name, "keys": [signer.public_key.to_spec()]},
                    staff="registrar")
    session = LocalSession(service)

    def load(data: bytes) -> None:
        sender = parse_edxml(data).sender.organ_id
        import_edxml(session, data, sender, organ_ids=SHORT)

    unsigned = _without_signature(base(DOC_7816, *ALL))
    load(unsigned)  # absent
    load(sign(sample("status-03-accepted.edxml"), pki().rsa))  # valid (RSA)
    load(_tampered(sign(status("02", "000.00.00.H14", G22, "Gửi nhầm nơi nhận"),
                        pki().ecdsa)))  # invalid: changed after signing
    load(sign(_metadata_update(), pki().ecdsa))  # valid (ECDSA); HeaderRevised
    load(status("04", H41, G22, "Giao Phòng Tư pháp"))  # absent
    load(sample("status-13-recall-request.edxml"))  # absent
    load(sample("document-new-with-attachment.edxml"))  # 28.22.H17 translated
    load(sample("document-downloaded-from-vxp-2019.edxml"))  # to itself: issued, not sent
    demo = service.app.recorder.select_notifications(
        start=1, limit=1, topics=[Document.Created.TOPIC])[0].originator_id
    return {"bundle_document": str(Document.id_for(G22, DOC_7816)),
            "live_document": str(demo), "live_recipient": DISTRICT_WEST}


def _without_signature(data: bytes) -> bytes:
    m = parse_edxml(data)
    return write_edxml(dataclasses.replace(m, signature=None))


def _tampered(data: bytes) -> bytes:
    m = parse_edxml(data)
    old = f"<edXML:Description>{m.description}</edXML:Description>".encode()  # type: ignore[union-attr]
    return data.replace(old, "<edXML:Description>Đã sửa</edXML:Description>".encode())


def _metadata_update() -> bytes:
    m = parse_edxml(sample("document-update-receiver-list.edxml"))
    assert isinstance(m, DocumentMessage) and m.business is not None
    return write_edxml(dataclasses.replace(
        m, signature=None, subject="Về việc cập nhật trích yếu", attachments=(),
        business=dataclasses.replace(
            m.business, document_info=BusinessDocumentInfo(document_info="1"))))
