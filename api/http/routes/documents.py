"""One document: its status (parties), its verified history and audit bundle (parties, auditors).

Who may read what (docs/api.md, "Authorization"): a document's sender and
recipients read everything here; an auditor reads the history and the bundle
(audit trails) and gets 403 on the status; any other agency, and the registrar,
gets 404 exactly as for a document that does not exist, so existence is not
revealed.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.http.deps import (
    AfterLsn,
    CallerDep,
    ContainerDep,
    WaitFor,
    fresh_views,
    is_party,
    party_document,
)
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import AuditFailure, NotFoundError, VerificationError
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from infrastructure.edxml_export import export_edxml
from infrastructure.views import queries

router = APIRouter(prefix="/v1/documents/{document}", tags=["documents"],
                   responses=PROBLEM_RESPONSES)

DocumentPath = Annotated[UUID, Path(
    description="The document's ledger id (`result.document` of document.create)",
    examples=["6f1c2d9e-3b4a-5c6d-8e7f-0a1b2c3d4e5f"])]


@router.get("/status", responses={200: {"content": {"application/json": {"example": {
    "document_id": "6f1c…", "sender": "000.00.00.G22", "reference": "12/QĐ-UBND",
    "subject": "Về việc …", "state": "sent", "revision": 0,
    "timeline": [{"recipient": "000.00.00.H41", "status_code": "01", "event": "Arrived",
                  "at": "2026-11-27T02:15:00+00:00", "actor": "ledger", "staff": "",
                  "detail": "", "source": None, "signature": None}],
    "attachment_reports": [{"type": "attachment.validated", "verdict": "valid",
                            "attachment": {"name": "qd.pdf", "sha256": "9f2c…"},
                            "lines": ["qd.pdf: signed by CN=…, valid, coverage entire-file"]}],
}}}}})
def status(document: DocumentPath, caller: CallerDep, c: ContainerDep,
           wait_for: WaitFor = None, after_lsn: AfterLsn = None) -> dict[str, Any]:
    """The document and, per recipient, its timeline of status codes, with the ledger's
    reports on its PDF attachments' signatures (sender or recipients)."""
    party_document(c, caller, document, auditors=False)
    found = queries.status(fresh_views(c, wait_for, after_lsn), str(document))
    if found is None:  # in the ledger but not yet in the views
        raise NotFoundError(f"document {document} is not in the views yet; retry with wait_for")
    return found


@router.get("/history", responses={500: {"description": "The stored history does not verify"}})
def history(document: DocumentPath, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """Every event of the document and its deliveries, in order, each signature verified.

    Read from the ledger itself, not the views. A signature that does not verify
    is the ledger's failure, not the caller's: it answers 500 with the problem
    type `audit-failure` naming the event.
    """
    party_document(c, caller, document, auditors=True)
    try:
        entries = document_history(c.service.app, document)
    except VerificationError as exc:
        raise AuditFailure(None, f"document {document}: {exc}") from None
    return {"document": str(document), "verified": True,
            "entries": [e.as_dict() for e in entries]}


@router.get("/bundle")
def bundle(document: DocumentPath, caller: CallerDep, c: ContainerDep) -> dict[str, Any]:
    """The document's audit bundle against the latest published checkpoint
    (docs/bundle.md), after signing one now; with a witness policy, published once
    its witnesses cosign it: a document newer than that is 404 until then.

    Every event of the document, its deliveries and the agencies involved, and the
    gateway receipts of the messages about it, with inclusion proofs;
    `docledger verify-bundle` checks it offline. The messages' bytes come with the
    receipts for the document's parties only: an auditor, who reads no attachment,
    gets the receipts (digests and trace headers) without them.
    """
    doc = party_document(c, caller, document, auditors=True)
    blobs = c.service.folder.blobs if is_party(caller, doc) else None
    # the server's publisher asks the witnesses: a request never waits on them
    return build_bundle(c.service.app, c.service.log, document, wait_for_witnesses=False,
                        gateway=c.service.gateway_index(), blobs=blobs)


EDXML = "application/xml"
EdxmlAnswer: dict[int | str, dict[str, Any]] = {
    200: {"content": {EDXML: {}}, "description": "Canonical edXML (docs/edxml.md)"}}


@router.get("/edxml", response_class=Response, responses=EdxmlAnswer)
def edxml(document: DocumentPath, caller: CallerDep, c: ContainerDep) -> Response:
    """The document as an edXML message: its sender's latest act (0 send, 2 update, 3
    replace, 1 recall), which `docledger edxml import` reads back to the same
    commands (sender or recipients)."""
    party_document(c, caller, document, auditors=False)
    return Response(export_edxml(c.service.app, c.service.folder.blobs, document),
                    media_type=EDXML)


@router.get("/status/{recipient}/edxml", response_class=Response, responses=EdxmlAnswer)
def status_edxml(document: DocumentPath, recipient: Annotated[str, Path(
        pattern=r"^[0-9A-Z.]{1,13}$", description="The recipient's agency code")],
        caller: CallerDep, c: ContainerDep) -> Response:
    """The status message of the document's delivery to ``recipient``: its latest
    status code, from the recipient (13: from the sender) (sender or recipients)."""
    party_document(c, caller, document, auditors=False)
    return Response(export_edxml(c.service.app, c.service.folder.blobs, document, recipient),
                    media_type=EDXML)
