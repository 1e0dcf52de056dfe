"""The benchmarks' workload: one document's whole life, through any way of acting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

Act = Callable[[str, str, dict[str, Any]], dict[str, Any]]  # (agency, type, fields) -> result


def header(subject: str = "Về việc triển khai nhiệm vụ") -> dict[str, Any]:
    return {"code_notation": "CV-UBND", "document_type": {"type": 1, "type_name": "Công văn"},
            "subject": subject, "promulgation_place": "Bình An",
            "promulgation_date": date.today().isoformat(),
            "signer": {"full_name": "Nguyễn Văn B", "position": "Chủ tịch"}}


def full_flow(act: Act, sender: str, recipients: list[str], document_id: str) -> int:
    """Create, sign, issue and send to the recipients; each accepts, assigns and
    completes. Returns the number of commands (4 + 3 per recipient)."""
    doc = act(sender, "document.create", {"document_id": document_id,
                                          "header": header()})["document"]
    act(sender, "document.sign", {"document": doc, "signer": {"full_name": "Nguyễn Văn B"}})
    act(sender, "document.issue", {"document": doc})
    act(sender, "document.send", {"document": doc, "recipients": recipients})
    for r in recipients:
        act(r, "delivery.accept", {"document": doc})
        act(r, "delivery.assign", {"document": doc, "lead_unit": "Phòng Nội vụ"})
        act(r, "delivery.complete", {"document": doc})
    return 4 + 3 * len(recipients)
