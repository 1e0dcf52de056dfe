"""What the clerk's pages read: inbox and outbox pages, one document and what may be done.

The actions offered on a document come from the domain's own transition table
(``domain.exchange.delivery.TRANSITIONS``) applied to the delivery's state in
the ledger, so the page offers exactly what the ledger would accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from api.http.container import Container
from api.http.deps import fresh_views
from domain.exchange.agency import Agency
from domain.exchange.delivery import TRANSITIONS, Delivery
from domain.exchange.document import Document
from domain.verification.history import HistoryEntry, document_history
from infrastructure.views import queries

PER_PAGE = 50
# a recipient's acts in the order the page offers them (the domain names them so)
RECIPIENT_ACTS = ("accept", "refuse", "assign", "progress", "complete", "agree_recall",
                  "refuse_recall")
# each act as the command that does it
COMMAND_OF = {"accept": "delivery.accept", "refuse": "delivery.refuse",
              "assign": "delivery.assign", "progress": "delivery.progress",
              "complete": "delivery.complete", "agree_recall": "delivery.answer_recall",
              "refuse_recall": "delivery.answer_recall"}


@dataclass(frozen=True)
class InboxPage:
    rows: list[dict[str, Any]]
    page: int
    more: bool


def inbox_page(c: Container, q: queries.InboxQuery, page: int, today: date) -> InboxPage:
    """One page (``PER_PAGE`` rows), asking one row more to know whether another follows."""
    rows = queries.inbox(c.service.fresh_views(), q, today)
    return InboxPage(rows[:PER_PAGE], page, len(rows) > PER_PAGE)


def outbox_page(c: Container, agency: str, page: int) -> InboxPage:
    rows = queries.outbox(c.service.fresh_views(), agency, limit=PER_PAGE + 1,
                          offset=(page - 1) * PER_PAGE)
    return InboxPage(rows[:PER_PAGE], page, len(rows) > PER_PAGE)


def allowed_acts(state: str | None) -> list[str]:
    """The recipient's acts the domain allows from ``state`` (none before arrival)."""
    return [act for act in RECIPIENT_ACTS
            if state is not None and state in {s.value for s in TRANSITIONS[act][0]}]


@dataclass(frozen=True)
class DocumentView:
    document: Document
    status: dict[str, Any] | None
    history: list[HistoryEntry]
    my_delivery: Delivery | None  # the signed-in agency's, if it is a recipient

    @property
    def state(self) -> str | None:
        if self.my_delivery is None or self.my_delivery.state is None:
            return None
        return str(self.my_delivery.state.value)

    @property
    def acts(self) -> list[str]:
        return allowed_acts(self.state) if self.my_delivery is not None else []

    def timelines(self) -> dict[str, list[dict[str, Any]]]:
        """Per recipient, its rows of the status timeline (views)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in (self.status or {}).get("timeline", []):
            out.setdefault(row["recipient"], []).append(row)
        return out

    def signatures(self) -> dict[tuple[str, str], list[HistoryEntry]]:
        """Verified history entries by (aggregate, status code): each step's signature."""
        out: dict[tuple[str, str], list[HistoryEntry]] = {}
        for entry in self.history:
            out.setdefault((entry.aggregate, entry.status or ""), []).append(entry)
        return out


def document_view(c: Container, agency: str, document: UUID, doc: Document,
                  wait_for: int | None = None) -> DocumentView:
    """The document as ``agency`` sees it; with ``wait_for``, once the views hold that
    notification (read-your-writes after the clerk's own command)."""
    status = queries.status(fresh_views(c, wait_for), str(document))
    history = document_history(c.service.app, document)
    mine = None
    if agency in doc.recipients:
        mine = c.service.app.find(Delivery, Delivery.id_for(document, agency))
    return DocumentView(doc, status, history, mine)


def directory(c: Container, exclude: str) -> list[dict[str, str]]:
    """Registered agencies (code, name) a document may be sent to: all but ``exclude``."""
    c.service.fresh_views()
    codes = [r["code"] for r in c.service.views.query(
        "SELECT code FROM {t:v_agencies} ORDER BY code")]
    rows = []
    for code in codes:
        agency = c.service.app.find(Agency, Agency.id_for(code))
        if agency is not None and code != exclude:
            rows.append({"code": code, "name": agency.name})
    return rows


def step_signature(view: DocumentView, recipient: str,
                   row: dict[str, Any]) -> HistoryEntry | None:
    """The verified history entry of a timeline step: same delivery, status and time."""
    candidates = view.signatures().get((f"delivery to {recipient}", row.get("status_code") or ""),
                                       [])
    for entry in candidates:
        if entry.at == row.get("at"):
            return entry
    return candidates[0] if len(candidates) == 1 else None
