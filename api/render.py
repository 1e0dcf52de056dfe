"""Printing records for people (rich tables) and for scripts (--json)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.exchange.trust import TrustAnchors
from domain.ledger.application import Outcome
from domain.text import display
from domain.verification.audit import AuditReport
from domain.verification.history import HistoryEntry

# Piped output is not cut to 80 columns: records stay on one line for grep.
out = Console(width=None if sys.stdout.isatty() else 160, soft_wrap=not sys.stdout.isatty())
err = Console(stderr=True)


def shown(value: str) -> str:
    """Signed text as a table cell: bidi and control characters as visible
    ``<U+XXXX>`` escapes, and brackets not read as rich markup."""
    return escape(display(value))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "command_id": outcome.command_id,
        "received_at": outcome.received_at.isoformat(),
        "result": outcome.result,
        "events": [list(e) for e in outcome.events],
        "notification_ids": list(outcome.notification_ids),
        "repeated": outcome.repeated,
    }


def print_outcome(outcome: Outcome, *, as_json: bool,
                  receipt: dict[str, Any] | None = None) -> None:
    if as_json:
        print_json({**outcome_dict(outcome), "receipt": receipt})
        return
    note = " (repeat of an earlier command: nothing new written)" if outcome.repeated else ""
    details = ", ".join(f"{k}={v}" for k, v in outcome.result.items() if k != "deliveries")
    out.print(f"[green]accepted[/] {outcome.command_id}: {details}{note}")


def print_history(entries: list[HistoryEntry], *, as_json: bool) -> None:
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    table = Table(title="History (every signature verified)")
    sourced = any(e.source for e in entries)
    for column in ("time (UTC)", "record", "event", "status", "by", "signed by",
                   *(("from message (its XML signature)",) if sourced else ())):
        table.add_column(column, no_wrap=column not in ("by", "from message (its XML signature)"))
    for e in entries:
        by = e.actor if not e.staff else f"{e.actor} ({shown(e.staff)})"
        table.add_row(e.at[:19].replace("T", " "), e.aggregate, e.event, e.status or "",
                      by, f"{e.signed_by} {e.keyid[:8]}",
                      *((source_line(e.source),) if sourced else ()))
    out.print(table)
    print_pdf_reports([line for e in entries for line in e.detail or []])


def print_pdf_reports(lines: list[str]) -> None:
    """The ledger's reports on PDF attachments' signatures, a line per signature."""
    if lines:
        out.print("PDF signatures, as the ledger found them when the files came in:")
    for line in lines:
        out.print(f"  {shown(line)}", highlight=False)


def source_line(source: dict[str, Any] | None) -> str:
    """A command's source in a line: the message's digest and its XML signature."""
    if source is None:
        return ""
    found = source.get("signature")
    said = ("signature not recorded" if not isinstance(found, dict)
            else f"signature valid: {found['certificate']['subject']}"
            if found["status"] == "valid"
            else f"signature invalid: {found['reason']}" if found["status"] == "invalid"
            else "no signature")
    return shown(f"{str(source['sha256'])[:12]}… {said}")


def print_audit(report: AuditReport) -> None:
    out.print(
        f"[green]audit passed[/]: {report.commands} signed commands replayed, "
        f"{report.events} stored events verified byte for byte, "
        f"{report.checkpoints} signed checkpoint root(s) recomputed"
    )
    out.print(("[yellow]" if report.anchored is None else "[green]")
              + report.verdict.replace(":", "[/]:", 1))
    if report.latest_checkpoint is None:
        out.print("[yellow]no signed checkpoint yet[/]: nothing anchors the log's end")
    elif report.uncovered:
        out.print(f"[yellow]{report.uncovered} event(s) after the latest checkpoint "
                  f"(size {report.latest_checkpoint})[/] are not yet covered by a signed root")


def anchor_rows(trust: TrustAnchors | None) -> list[dict[str, Any]]:
    """The trust anchors as plain rows: fingerprint, subject, code attribute, the
    times in force, and the certificate (base64 DER)."""
    if trust is None:
        return []
    return [{"sha256": e.sha256, "subject": e.subject, "code_attribute": e.code_attribute,
             "added_at": e.added_at.isoformat(),
             "removed_at": None if e.removed_at is None else e.removed_at.isoformat(),
             "certificate": e.certificate}
            for e in trust.anchors.values()]


def print_anchors(rows: list[dict[str, Any]]) -> None:
    table = Table("sha256", "subject", "code in", "added", "removed")
    for r in rows:
        table.add_row(r["sha256"][:16] + "…", shown(r["subject"]), r["code_attribute"],
                      r["added_at"], r["removed_at"] or "")
    out.print(table)
