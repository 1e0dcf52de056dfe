"""A small Python client of the HTTP API: signs requests (RFC 9421) and commands (DSSE)."""

from __future__ import annotations

import secrets
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver
from http_message_signatures.algorithms import ED25519

from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command

LIFETIME = timedelta(seconds=60)


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, signer: Ed25519Signer) -> None:
        self.signer = signer

    def resolve_private_key(self, key_id: str) -> Any:
        return self.signer._private  # noqa: SLF001 - the signer's own key

    def resolve_public_key(self, key_id: str) -> Any:  # pragma: no cover - never verifies
        raise NotImplementedError


class SignedAuth(httpx.Auth):
    """Signs every request with the party's key: @method, @path, @query, content-digest."""

    requires_request_body = True

    def __init__(self, party: str, signer: Ed25519Signer) -> None:
        self.keyid = f"{party}:{signer.keyid}"
        self.signer = HTTPMessageSigner(signature_algorithm=ED25519, key_resolver=_OneKey(signer))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        now = datetime.now(UTC)
        body = request.content
        components = ("@method", "@path", "@query") + (("content-digest",) if body else ())
        self.signer.sign(request, key_id=self.keyid, created=now, expires=now + LIFETIME,
                         nonce=secrets.token_urlsafe(24), covered_component_ids=components,
                         body=body or None)
        yield request


class LedgerClient:
    """Talks to a remote ledger as one party (an agency, an auditor or the registrar)."""

    def __init__(self, base_url: str, party: str, signer: Ed25519Signer, *,
                 staff: str = "văn thư", http: httpx.Client | None = None) -> None:
        self.party, self.signer, self.staff = party, signer, staff
        self.http = http or httpx.Client(base_url=base_url, timeout=30)
        self.auth = SignedAuth(party, signer)

    def command(self, type: str, fields: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """Sign and submit a command; return the outcome with its receipt."""
        raw = sign_command(self.signer, type, fields, agency=self.party,
                           staff=kw.pop("staff", self.staff), **kw)
        return self.submit(raw)

    def submit(self, raw: bytes) -> dict[str, Any]:
        response = self.http.post("/v1/commands", content=raw,
                                  headers={"content-type": "application/json"})
        return raise_for_problem(response).json()  # type: ignore[no-any-return]

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params={k: v for k, v in params.items() if v is not None},
                                 auth=self.auth)
        raise_for_problem(response)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text


class ProblemError(Exception):
    """The server answered with an RFC 9457 problem."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        super().__init__(f"{status} {problem.get('type')}: {problem.get('detail')}")


def raise_for_problem(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"type": "about:blank", "detail": response.text}
        raise ProblemError(response.status_code, problem)
    return response
