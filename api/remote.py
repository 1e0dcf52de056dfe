"""A remote session: the CLI acting on a ledger over its HTTP API (``--server URL``).

It implements the CLI's port, :class:`api.session.LedgerSession`, as the local
session does: ``act`` signs a command (DSSE) with a key file and posts it, and
returns an outcome shaped like the local one plus the ledger-signed receipt;
reads are RFC 9421-signed GETs by the party named; the log endpoints are public.
Problems the server answers (RFC 9457) come back as the domain errors the CLI
already maps to exit codes, and what only the ledger's own host can do (make
keys, sign checkpoints) is refused with one of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from api.client import LedgerClient, ProblemError, raise_for_problem
from api.session import local_only_error
from domain import errors
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from domain.verification.history import HistoryEntry
from infrastructure.keyfiles import load_command_signer, load_signer

# Server problem statuses → the domain errors (and so the CLI's exit codes).
STATUS_ERRORS: dict[int, type[errors.DocLedgerError]] = {
    400: errors.InvalidInputError,
    401: errors.VerificationError,
    403: errors.ForbiddenError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    413: errors.InvalidInputError,
    415: errors.InvalidInputError,
    422: errors.InvalidInputError,
}

MISSING_KEY = ("with --server, give --key FILE: the private key of the party acting (the data "
               "folder is not used)")
MAX_PAGE = 200  # rows the server sends at most in one page

# the server's store is unavailable, or a command is committed and its receipt pending
STORE_UNAVAILABLE = {errors.StoreUnavailableError.code, errors.ReceiptPendingError.code}


class RemoteError(errors.DocLedgerError):
    """The server answered with a problem the CLI has no closer error for."""

    code = "remote-problem"


@dataclass(frozen=True)
class RemoteOutcome:
    """What the server answered for an accepted command: the outcome and its receipt."""

    command_id: str
    received_at: datetime
    result: dict[str, Any]
    events: list[Any] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)
    repeated: bool = False
    receipt: dict[str, Any] | None = None

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> RemoteOutcome:
        return cls(command_id=answer["command_id"],
                   received_at=datetime.fromisoformat(answer["received_at"]),
                   result=answer.get("result", {}), events=answer.get("events", []),
                   notification_ids=answer.get("notification_ids", []),
                   repeated=bool(answer.get("repeated")), receipt=answer.get("receipt"))


def domain_error(exc: ProblemError) -> errors.DocLedgerError:
    """The server's problem as the CLI's error: same message, matching exit code."""
    detail = exc.problem.get("detail") or exc.problem.get("title") or str(exc)
    kind = str(exc.problem.get("type", "")).rsplit(":", 1)[-1]
    cls = (errors.StoreUnavailableError if kind in STORE_UNAVAILABLE
           else STATUS_ERRORS.get(exc.status, RemoteError))
    error = cls(f"{detail} (HTTP {exc.status})")
    if kind and kind != "blank":
        error.code = kind  # the server's stable problem type, as a local error prints it
    return error


class RemoteSession:
    """Acts on a remote ledger with one key file, as the party each call names."""

    def __init__(self, server: str, key: Path | None = None, *, timeout: float = 30.0,
                 http: httpx.Client | None = None) -> None:
        if not server.startswith(("http://", "https://")):
            raise errors.InvalidInputError(f"--server must be an http(s) URL, not {server!r}")
        self.server = server.rstrip("/")
        self.key = key
        self.signer = None if key is None else load_signer(key)
        self.http = http or httpx.Client(base_url=self.server, timeout=timeout)

    def client(self, party: str, key: Path | None = None, staff: str = "văn thư") -> LedgerClient:
        """A client signing as ``party`` with ``key`` (default: the session's key file)."""
        if key is not None and key != self.key:
            signer = load_signer(key)
        elif self.signer is not None:
            signer = self.signer
        else:
            raise errors.InvalidInputError(MISSING_KEY)
        return LedgerClient(self.server, party, signer, staff=staff, http=self.http)

    # ---- commands -------------------------------------------------------------

    def act(self, agency: str, type: str, fields: dict[str, Any], *,
            key: Path | None = None, staff: str = "văn thư",
            command_id: str | None = None) -> RemoteOutcome:
        """Sign ``type`` as ``agency`` and submit it; the outcome carries the receipt.
        A command needs no request signature, so it may be signed with a
        certificate's RSA or ECDSA key as well as with an Ed25519 one."""
        try:
            path = key or self.key
            signer = None if path is None else load_command_signer(path)
            if signer is None or isinstance(signer, Ed25519Signer):
                answer = self.client(agency, key, staff).command(type, fields,
                                                                 command_id=command_id)
            else:
                raw = sign_command(signer, type, fields, agency=agency, staff=staff,
                                   command_id=command_id)
                answer = raise_for_problem(self.http.post(
                    "/v1/commands", content=raw,
                    headers={"content-type": "application/json"})).json()
        except ProblemError as exc:
            raise domain_error(exc) from None
        except httpx.HTTPError as exc:
            raise unreachable(self.server, exc) from None
        return RemoteOutcome.from_answer(answer)

    def upload(self, party: str, content: bytes) -> str:
        """PUT an attachment's bytes (signed by ``party``); return its sha256."""
        sha256 = hashlib.sha256(content).hexdigest()
        client = self.client(party)
        self._call(lambda: self.http.put(
            f"/v1/attachments/{sha256}", content=content, auth=client.auth,
            headers={"content-type": "application/octet-stream"}))
        return sha256

    def xml_signature(self, party: str, data: bytes) -> dict[str, Any]:
        """The server's judgement, from its answer to the message (``POST /v1/edxml``,
        signed by ``party``), which also keeps the bytes and records nothing."""
        client = self.client(party)
        answer = self._call(lambda: self.http.post(
            "/v1/edxml", content=data, auth=client.auth,
            headers={"content-type": "application/xml"}))
        signature: dict[str, Any] = answer.json()["source"]["signature"]
        return signature

    def receipt(self, outcome: RemoteOutcome) -> dict[str, Any] | None:
        """The receipt the server answered the command with."""
        return outcome.receipt

    def new_agency_key(self, code: str) -> Path:
        raise errors.InvalidInputError(
            "with --server give the agency's --pubkey (make the pair with 'docledger "
            "keygen'); no key is generated on a server")

    # ---- documents ----------------------------------------------------------------

    def history(self, party: str | None, document: UUID) -> list[HistoryEntry]:
        body = self.get(self.reader(party), f"/v1/documents/{document}/history")
        return [HistoryEntry(**e) for e in rows_of(body, "history", "events", "entries")]

    def bundle(self, party: str | None, document: UUID) -> dict[str, Any]:
        bundle: dict[str, Any] = self.get(self.reader(party),
                                          f"/v1/documents/{document}/bundle")
        return bundle

    def edxml(self, party: str | None, document: UUID, recipient: str | None) -> bytes:
        path = f"/v1/documents/{document}" + (f"/status/{recipient}" if recipient else "")
        client = self.client(self.reader(party))
        response: httpx.Response = self._call(
            lambda: self.http.get(path + "/edxml", auth=client.auth))
        return response.content

    def status(self, party: str | None, document: str,
               wait_for: int | None) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.get(
            self.reader(party), f"/v1/documents/{document}/status", wait_for=wait_for)
        return found

    def reader(self, party: str | None) -> str:
        """Who reads: on a server every read is signed by someone."""
        if party is None:
            raise errors.InvalidInputError(f"with --server {self.server}, say who reads: "
                                           "--as CODE (an agency code or auditor/<id>)")
        return party

    # ---- an agency's views ------------------------------------------------------------

    def inbox(self, agency: str, *, states: tuple[str, ...], overdue: bool, unit: str | None,
              officer: str | None, sort: str, page: int, per_page: int,
              wait_for: int | None) -> list[dict[str, Any]]:
        # signed by the agency itself: only it reads its inbox
        return self.page(agency, f"/v1/agencies/{agency}/inbox", page, per_page,
                         state=list(states) or None, overdue=overdue or None, unit=unit,
                         officer=officer, sort=sort, wait_for=wait_for)

    def outbox(self, agency: str, *, page: int, per_page: int,
               wait_for: int | None) -> list[dict[str, Any]]:
        return self.page(agency, f"/v1/agencies/{agency}/outbox", page, per_page,
                         wait_for=wait_for)

    def search(self, agency: str, text: str, *, first: date | None, last: date | None,
               page: int, per_page: int, wait_for: int | None) -> list[dict[str, Any]]:
        # signed by the agency itself: it searches what it is party to
        dates = {"from": first and first.isoformat(), "to": last and last.isoformat()}
        return self.page(agency, f"/v1/agencies/{agency}/search", page, per_page, q=text,
                         wait_for=wait_for, **dates)

    def register(self, agency: str, direction: str, year: int,
                 wait_for: int | None) -> list[dict[str, Any]]:
        body = self.get(agency, f"/v1/agencies/{agency}/registers/{direction}/{year}",
                        wait_for=wait_for)
        return rows_of(body, "register", "entries")

    def agency_name(self, code: str) -> str:
        return str(self.public(f"/v1/agencies/{code}")["name"])

    def trust_anchors(self) -> list[dict[str, Any]]:
        return list(self.public("/v1/trust/anchors")["anchors"])

    def statistics(self, agency: str, first: date, last: date,
                   wait_for: int | None) -> dict[str, Any]:
        figures: dict[str, Any] = self.get(agency, f"/v1/agencies/{agency}/statistics", **{
            "from": first.isoformat(), "to": last.isoformat(), "wait_for": wait_for})
        return figures

    def page(self, party: str, path: str, page: int, per_page: int,
             **params: object) -> list[dict[str, Any]]:
        """Page ``page`` of a cursor-paged listing: follow ``next`` from the first page."""
        if not 1 <= per_page <= MAX_PAGE:
            raise errors.InvalidInputError(f"with --server, --per-page is 1 to {MAX_PAGE}")
        cursor = None
        for _ in range(page - 1):
            body = self.get(party, path, limit=per_page, cursor=cursor, **params)
            cursor = body.get("next") if isinstance(body, dict) else None
            if cursor is None:
                return []
        return rows_of(self.get(party, path, limit=per_page, cursor=cursor, **params))

    # ---- the Merkle log (public) -------------------------------------------------------

    def verifier_key(self) -> str:
        return str(self.public("/v1/log/vkey"))

    def issue_checkpoint(self) -> None:
        raise local_only_error("checkpoint --issue", "only the ledger signs checkpoints")

    def checkpoint(self) -> str:
        return str(self.public("/v1/log/checkpoint"))

    def inclusion_proof(self, *, leaf_hash: str | None, notification: int | None,
                        size: int | None = None) -> dict[str, Any]:
        ask = {"leaf_hash": leaf_hash, "notification": notification}
        if size is not None:
            at_size: dict[str, Any] = self.public("/v1/log/inclusion", **ask, size=size)
            return at_size
        proof = self.public("/v1/log/inclusion", **ask)  # signs a checkpoint covering it
        note = self.public("/v1/log/checkpoint")
        if note_size(note) != proof["tree_size"]:  # a newer checkpoint: prove against it
            proof = self.public("/v1/log/inclusion", **ask, size=note_size(note))
        return {**proof, "checkpoint": note}

    def consistency_proof(self, old_size: int, new_size: int | None) -> dict[str, Any]:
        if new_size is None:
            new_size = note_size(self.public("/v1/log/checkpoint"))
        proof: dict[str, Any] = self.public("/v1/log/consistency", old=old_size, new=new_size)
        return proof

    def log_events(self, party: str | None, start: int, limit: int) -> dict[str, Any]:
        page: dict[str, Any] = self.get(self.reader(party), "/v1/log/events", start=start,
                                        limit=limit)
        return page

    # ---- reads ------------------------------------------------------------------

    def get(self, party: str, path: str, **params: Any) -> Any:
        """A signed GET as ``party`` (an agency code or auditor/<id>)."""
        client = self.client(party)
        return self._call(lambda: client.get(path, **params), raw=True)

    def public(self, path: str, **params: Any) -> Any:
        """An unsigned GET of a public endpoint (the log, the directory)."""
        response = self._call(lambda: self.http.get(
            path, params={k: v for k, v in params.items() if v is not None}))
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def _call(self, send: Any, raw: bool = False) -> Any:
        try:
            result = send()
        except ProblemError as exc:
            raise domain_error(exc) from None
        except httpx.HTTPError as exc:
            raise unreachable(self.server, exc) from None
        if raw:
            return result
        try:
            return raise_for_problem(result)
        except ProblemError as exc:
            raise domain_error(exc) from None

    def close(self) -> None:
        self.http.close()


def note_size(note: str, source: str = "the server's checkpoint") -> int:
    """The tree size of a C2SP checkpoint note (its second line)."""
    try:
        return int(note.split("\n")[1])
    except (IndexError, ValueError):
        raise errors.InvalidInputError(f"{source} is not a C2SP checkpoint note") from None


def unreachable(server: str, exc: Exception) -> errors.DocLedgerError:
    return RemoteError(f"cannot reach {server}: {exc}")


def rows_of(body: Any, *names: str) -> list[Any]:
    """A list answer, bare or wrapped in an object under one of ``names`` or 'items'."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for name in (*names, "items"):
            if isinstance(body.get(name), list):
                return body[name]  # type: ignore[no-any-return]
    raise RemoteError(f"unexpected answer from the server: {str(body)[:200]}")
