"""The port the command-line tool acts through, and its local side.

``LedgerSession`` is what every ``docledger`` command that may act on a remote
ledger calls: the local session runs on the ledger service in a data folder
(``infrastructure.service``), the remote one (``api.remote``) over the HTTP API.
What one side cannot do it refuses with a domain error the tool maps to its
message and exit code, so the tool never asks which side it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from api.render import anchor_rows
from domain.errors import InvalidInputError, NotFoundError
from domain.evidence.keys import Ed25519Signer
from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.edxml_signature_policy import check_policy
from domain.exchange.trust import TrustAnchors
from domain.ledger.application import Outcome
from domain.verification.history import HistoryEntry, document_history
from infrastructure.bundle import build_bundle
from infrastructure.keyfiles import write_key_pair
from infrastructure.log_events import events_page
from infrastructure.service import LedgerService
from infrastructure.views import queries
from infrastructure.views import search as searching


class Accepted(Protocol):
    """An accepted command as either side answers it."""

    @property
    def command_id(self) -> str: ...

    @property
    def received_at(self) -> datetime: ...

    @property
    def result(self) -> dict[str, Any]: ...

    @property
    def events(self) -> Sequence[Any]: ...

    @property
    def notification_ids(self) -> Sequence[int]: ...

    @property
    def repeated(self) -> bool: ...


class LedgerSession(Protocol):
    """Acting on a ledger and reading it, as the party each call names.

    Reads take ``party``, who reads (an agency code or auditor/<id>); a local
    session reads as the keeper of the data folder and needs no party. Reads of
    the views take ``wait_for`` (read-your-writes: a notification id).
    """

    def act(self, agency: str, type: str, fields: dict[str, Any], *,
            key: Path | None = None, staff: str = "văn thư",
            command_id: str | None = None) -> Accepted: ...

    def receipt(self, outcome: Any) -> dict[str, Any] | None:
        """The ledger-signed receipt of an accepted command."""

    def upload(self, party: str, content: bytes) -> str:
        """Store an attachment's bytes where the ledger finds them; its sha256."""

    def xml_signature(self, party: str, data: bytes) -> dict[str, Any]:
        """What the XML signature of the edXML message ``data`` says, as the ledger
        judges it (its trust anchors) and records it (``source.signature``); raises
        ``EdxmlSignatureRefused`` if the ledger's policy refuses the message."""

    def new_agency_key(self, code: str) -> Path:
        """Make an agency's key pair where the ledger keeps its agencies' keys."""

    def history(self, party: str | None, document: UUID) -> list[HistoryEntry]: ...

    def edxml(self, party: str | None, document: UUID, recipient: str | None) -> bytes:
        """The document as an edXML message, or with ``recipient`` the status message
        of its delivery to it (docs/edxml.md)."""

    def bundle(self, party: str | None, document: UUID) -> dict[str, Any]: ...

    def inbox(self, agency: str, *, states: tuple[str, ...], overdue: bool, unit: str | None,
              officer: str | None, sort: str, page: int, per_page: int,
              wait_for: int | None) -> list[dict[str, Any]]: ...

    def outbox(self, agency: str, *, page: int, per_page: int,
               wait_for: int | None) -> list[dict[str, Any]]: ...

    def search(self, agency: str, text: str, *, first: date | None, last: date | None,
               page: int, per_page: int, wait_for: int | None) -> list[dict[str, Any]]:
        """Page ``page`` of what ``agency`` finds (infrastructure/views/search.py)."""
        ...

    def status(self, party: str | None, document: str,
               wait_for: int | None) -> dict[str, Any] | None: ...

    def register(self, agency: str, direction: str, year: int,
                 wait_for: int | None) -> list[dict[str, Any]]: ...

    def agency_name(self, code: str) -> str: ...

    def trust_anchors(self) -> list[dict[str, Any]]:
        """Every trust anchor ever added (``render.anchor_rows``)."""
        ...

    def statistics(self, agency: str, first: date, last: date,
                   wait_for: int | None) -> dict[str, Any]: ...

    def verifier_key(self) -> str:
        """The ledger's note verifier key, one line."""

    def issue_checkpoint(self) -> None:
        """Sign a checkpoint now if the log grew since the latest, and publish it (with
        witnesses: once they cosign)."""

    def checkpoint(self) -> str:
        """The latest published checkpoint's note, with its cosignatures (signed and
        offered to the witnesses first if one is due)."""

    def inclusion_proof(self, *, leaf_hash: str | None, notification: int | None,
                        size: int | None = None) -> dict[str, Any]:
        """A leaf's inclusion proof against the latest signed checkpoint (which the
        answer carries), or against the tree of ``size`` leaves."""

    def consistency_proof(self, old_size: int, new_size: int | None) -> dict[str, Any]: ...

    def log_events(self, party: str | None, start: int, limit: int) -> dict[str, Any]:
        """A page of the log's events from leaf ``start`` (``/v1/log/events``): every
        event for an auditor, those naming it for an agency (``party``)."""

    def close(self) -> None: ...


def local_only_error(command: str, hint: str = "") -> InvalidInputError:
    """What works on a local data folder or files only, asked with --server."""
    return InvalidInputError(f"'{command}' works locally only, not with --server"
                             + (f": {hint}" if hint else ""))


def today() -> date:
    """Today where the agencies are: due dates and registers count in their days."""
    return datetime.now(VIETNAM_TIME).date()


class LocalSession:
    """The ledger in a data folder, acting with its key files; reads see everything."""

    def __init__(self, service: LedgerService) -> None:
        self.service = service

    def act(self, agency: str, type: str, fields: dict[str, Any], *,
            key: Path | None = None, staff: str = "văn thư",
            command_id: str | None = None) -> Outcome:
        return self.service.act(agency, type, fields, key=key, staff=staff,
                                command_id=command_id)

    def receipt(self, outcome: Outcome) -> dict[str, Any]:
        return self.service.receipt(outcome)

    def upload(self, party: str, content: bytes) -> str:
        return self.service.folder.blobs.put(content)

    def xml_signature(self, party: str, data: bytes) -> dict[str, Any]:
        # imported here: the checker (lxml, signxml) is start-up time every other
        # command of the tool would pay
        from domain.exchange.edxml_signature import check_xml_signature

        settings = self.service.settings
        evidence = check_xml_signature(data, settings.edxml_trust_anchors())
        check_policy(evidence, settings.edxml_signature)
        return evidence.recorded()

    def new_agency_key(self, code: str) -> Path:
        target = self.service.folder.agency_key(code)
        write_key_pair(Ed25519Signer.generate(), target)
        return target

    def history(self, party: str | None, document: UUID) -> list[HistoryEntry]:
        return document_history(self.service.app, document)

    def bundle(self, party: str | None, document: UUID) -> dict[str, Any]:
        return build_bundle(self.service.app, self.service.log, document,
                            gateway=self.service.gateway_index(),
                            blobs=self.service.folder.blobs)

    def edxml(self, party: str | None, document: UUID, recipient: str | None) -> bytes:
        # imported here: the edXML writer (lxml and its model) is start-up time that
        # every other command of the tool would pay
        from infrastructure.edxml_export import export_edxml

        return export_edxml(self.service.app, self.service.folder.blobs, document, recipient)

    def inbox(self, agency: str, *, states: tuple[str, ...], overdue: bool, unit: str | None,
              officer: str | None, sort: str, page: int, per_page: int,
              wait_for: int | None) -> list[dict[str, Any]]:
        query = queries.InboxQuery(agency=agency, states=states, overdue=overdue, unit=unit,
                                   officer=officer, sort=sort, limit=per_page,
                                   offset=(page - 1) * per_page)
        return queries.inbox(self.service.fresh_views(wait_for), query, today())

    def outbox(self, agency: str, *, page: int, per_page: int,
               wait_for: int | None) -> list[dict[str, Any]]:
        return queries.outbox(self.service.fresh_views(wait_for), agency, limit=per_page,
                              offset=(page - 1) * per_page)

    def search(self, agency: str, text: str, *, first: date | None, last: date | None,
               page: int, per_page: int, wait_for: int | None) -> list[dict[str, Any]]:
        views = self.service.fresh_views(wait_for)
        after: tuple[int, int] | None = (searching.EXACT, searching.START)
        rows: list[dict[str, Any]] = []
        for _ in range(page):
            if after is None:
                return []
            rows, after = searching.search(views, searching.SearchQuery(
                agency=agency, text=text, start=first, end=last, limit=per_page, after=after))
        return rows

    def status(self, party: str | None, document: str,
               wait_for: int | None) -> dict[str, Any] | None:
        return queries.status(self.service.fresh_views(wait_for), document)

    def register(self, agency: str, direction: str, year: int,
                 wait_for: int | None) -> list[dict[str, Any]]:
        return queries.register(self.service.fresh_views(wait_for), agency, direction, year)

    def agency_name(self, code: str) -> str:
        names = self.service.views.query("SELECT name FROM {t:v_agencies} WHERE code = %s",
                                         [code])
        return str(names[0]["name"]) if names else code

    def trust_anchors(self) -> list[dict[str, Any]]:
        return anchor_rows(self.service.app.find(TrustAnchors, TrustAnchors.id_for()))

    def statistics(self, agency: str, first: date, last: date,
                   wait_for: int | None) -> dict[str, Any]:
        return queries.statistics(self.service.fresh_views(wait_for), agency, first, last,
                                  today())

    def verifier_key(self) -> str:
        return self.service.log.note_key.vkey() + "\n"

    def issue_checkpoint(self) -> None:
        self.service.log.issue_checkpoint(force=True)
        self.service.log.publish()  # with witnesses: asked now, each within the timeout

    def checkpoint(self) -> str:
        log = self.service.log
        log.issue_checkpoint()
        latest = log.publish()
        if latest is None:
            raise NotFoundError("the ledger has published no checkpoint yet")
        return latest.note

    def inclusion_proof(self, *, leaf_hash: str | None, notification: int | None,
                        size: int | None = None) -> dict[str, Any]:
        log = self.service.log
        if size is not None:
            return self._inclusion_at(leaf_hash, notification, size)
        log.issue_checkpoint(force=True)
        latest = log.publish()
        if latest is None:
            raise NotFoundError("the ledger has published no checkpoint yet")
        index = log.store.leaf_index_of(
            notification_id=notification,
            leaf_hash=None if leaf_hash is None else bytes.fromhex(leaf_hash))
        if index >= latest.size:
            raise NotFoundError(f"leaf {index} is not yet covered by a published checkpoint "
                                f"(size {latest.size}): the witnesses have not cosigned a "
                                "newer one; ask again")
        stored = log.store.leaves(index, 1)[0]
        proof = log.inclusion_proof(index, latest.size)
        return {"leaf_index": index, "notification_id": stored[1],
                "leaf_hash": stored[2].hex(), "tree_size": latest.size,
                "proof": [p.hex() for p in proof], "checkpoint": latest.note}

    def consistency_proof(self, old_size: int, new_size: int | None) -> dict[str, Any]:
        log = self.service.log
        if new_size is None:
            latest = log.published_checkpoint()
            if latest is None:
                raise NotFoundError("the ledger has published no checkpoint yet")
            new_size = latest.size
        proof = log.consistency_proof(old_size, new_size)
        return {"old_size": old_size, "new_size": new_size, "proof": [p.hex() for p in proof]}

    def _inclusion_at(self, leaf_hash: str | None, notification: int | None,
                      size: int) -> dict[str, Any]:
        store = self.service.log.store
        index = store.leaf_index_of(
            notification_id=notification,
            leaf_hash=None if leaf_hash is None else bytes.fromhex(leaf_hash))
        if index >= size:
            raise NotFoundError(f"leaf {index} is not in the tree of size {size}")
        stored = store.leaves(index, 1)[0]
        return {"leaf_index": index, "notification_id": stored[1], "leaf_hash": stored[2].hex(),
                "tree_size": size,
                "proof": [p.hex() for p in self.service.log.inclusion_proof(index, size)]}

    def log_events(self, party: str | None, start: int, limit: int) -> dict[str, Any]:
        agency = None if party is None or party.startswith("auditor/") else party
        return events_page(self.service.app, self.service.log, start=start,
                           limit=limit, agency=agency)

    def close(self) -> None:
        self.service.close()
