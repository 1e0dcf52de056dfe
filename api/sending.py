"""Sending a document: the four signed steps, on any ledger session."""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from api.session import LedgerSession


def send_document(
    session: LedgerSession,
    sender: str,
    recipients: list[str],
    header: dict[str, Any],
    *,
    attachments: Sequence[Path] = (),
    document_id: str | None = None,
    key: Path | None = None,
    staff: str = "văn thư",
) -> dict[str, Any]:
    """The four signed steps of sending: create, sign, issue, send."""
    files = upload_files(session, sender, attachments)
    doc_id = document_id or f"{sender},{date.today():%Y/%m/%d},{secrets.token_hex(6)}"
    created = session.act(sender, "document.create",
                          {"document_id": doc_id, "header": header, "attachments": files},
                          key=key, staff=staff)
    doc = created.result["document"]
    session.act(sender, "document.sign", {"document": doc, "signer": header["signer"]},
                key=key, staff=header["signer"]["full_name"])
    issued = session.act(sender, "document.issue", {"document": doc}, key=key, staff=staff)
    session.act(sender, "document.send", {"document": doc, "recipients": recipients},
                key=key, staff=staff)
    return {"document": doc, "document_id": doc_id, "number": issued.result["number"],
            "reference": issued.result["reference"], "recipients": recipients}


def upload_files(session: LedgerSession, agency: str,
                 paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Each file to the ledger's blob store, and its attachment as a command names it."""
    files = []
    for path in paths:
        content = path.read_bytes()
        files.append({
            "name": path.name,
            "media_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "size": len(content),
            "sha256": session.upload(agency, content),
        })
    return files
