"""Request authentication: HTTP Message Signatures (RFC 9421) with Ed25519.

A signed request carries ``Signature-Input`` and ``Signature`` covering
``@method``, ``@path``, ``@query`` and, with a body, ``content-digest``
(RFC 9530, sha-256), with ``created``, ``expires``, ``nonce`` and
``keyid = "<party>:<key id>"``, where party is an agency code, ``auditor/<id>``
or ``registrar``. See docs/api.md for why this and not bearer tokens.

Verification (each failure is a 401 and nothing is written):
1. the signature parameters parse and cover the required components;
2. the party exists and the key is one of its keys, effective and not revoked;
3. the Ed25519 signature verifies over the RFC 9421 signature base, and the
   body matches the signed Content-Digest (hashed as it arrives, see
   ``api.http.content_digest``, so a body is checked without being held);
4. ``created`` is at most ``request_max_age_seconds`` old and ``expires`` not
   past (the library checks both) and not later than created + max age;
5. the nonce was never seen: it is stored until no clock leeway could admit
   the request again (``expires`` + ``CLOCK_SKEW`` + ``NONCE_MARGIN``), so a
   request is accepted at most once, ever.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver
from http_message_signatures.algorithms import ED25519
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from api.http.content_digest import BodyDigest
from api.http.problems import Unauthenticated
from domain.errors import DocLedgerError, InvalidInputError, StoreUnavailableError
from domain.evidence.keys import ED25519 as ED25519_KEY
from domain.evidence.keys import PublicKey
from domain.exchange.agency import Agency
from domain.exchange.auditor import Auditor
from domain.exchange.codes import check_agency_code
from domain.exchange.ids import REGISTRAR
from domain.ledger.application import DocLedger, utc_now
from infrastructure.nonces import NonceStore
from infrastructure.store_faults import store_fault

REQUIRED = ("@method", "@path", "@query")
# The verifier admits a request until ``expires`` + this skew (and a ``created``
# up to this far in the future); set here, not left to the library's default, so
# the nonce retention below is computed from the leeway actually applied.
CLOCK_SKEW = dt.timedelta(seconds=5)
# Extra retention past the last instant the verifier could accept: covers the
# gap between the verifier's clock reading and the store's, and a slow request.
NONCE_MARGIN = dt.timedelta(seconds=60)


def nonce_keep_until(expires: int) -> dt.datetime:
    """When a nonce may be forgotten: no clock leeway can admit its request after this."""
    return dt.datetime.fromtimestamp(expires, dt.UTC) + CLOCK_SKEW + NONCE_MARGIN


@dataclass(frozen=True)
class Caller:
    """Who signed the request: an agency, an auditor, or the registrar."""

    kind: str  # "agency" | "auditor" | "registrar"
    name: str  # agency code, auditor id, or "registrar"
    keyid: str

    @property
    def agency(self) -> str | None:
        return self.name if self.kind == "agency" else None


def parse_keyid(value: str) -> tuple[str, str, str]:
    """``<party>:<key id>`` → (kind, name, key id)."""
    party, sep, keyid = value.rpartition(":")
    if not sep or not keyid:
        raise Unauthenticated("keyid must be '<agency code|auditor/<id>|registrar>:<key id>'")
    if party == REGISTRAR:
        return "registrar", party, keyid
    if party.startswith("auditor/"):
        return "auditor", party.removeprefix("auditor/"), keyid
    try:
        return "agency", check_agency_code(party), keyid
    except InvalidInputError as exc:
        raise Unauthenticated(str(exc)) from None


def party_key(app: DocLedger, kind: str, name: str, keyid: str, now: dt.datetime) -> PublicKey:
    """Step 2: the key, if it is a current key of the named party."""
    try:
        if kind == "registrar":
            key = app.root().registrar_key
            if key.keyid != keyid:
                raise Unauthenticated("not the registrar's key")
            return key
        holder = (app.find(Agency, Agency.id_for(name)) if kind == "agency"
                  else app.find(Auditor, Auditor.id_for(name)))
        if holder is None:
            raise Unauthenticated(f"{kind} {name} is not registered")
        return holder.key_for_signing(keyid, now)
    except (Unauthenticated, StoreUnavailableError):
        raise
    except DocLedgerError as exc:
        raise Unauthenticated(str(exc)) from None


class _Resolver(HTTPSignatureKeyResolver):
    def __init__(self, app: DocLedger, now: dt.datetime) -> None:
        self.app, self.now = app, now
        self.caller: Caller | None = None

    def resolve_public_key(self, key_id: str) -> Any:
        kind, name, keyid = parse_keyid(key_id)
        key = party_key(self.app, kind, name, keyid, self.now)
        if key.algorithm != ED25519_KEY:  # a certificate's RSA or ECDSA key signs commands only
            raise Unauthenticated(f"key {keyid} is {key.algorithm}: requests are signed with "
                                  "an Ed25519 key")
        self.caller = Caller(kind, name, keyid)
        return serialization.load_der_public_key(key.spki_der)

    def resolve_private_key(self, key_id: str) -> Any:  # pragma: no cover - never signs
        raise NotImplementedError


@dataclass(frozen=True)
class SignedHead:
    """A request whose signature over its head verified; its body is not checked yet."""

    caller: Caller
    covered: dict[str, str]

    def body_digest(self, request: Any) -> BodyDigest:
        """The check binding the body to the signature: feed it the body as it
        arrives, then ``check`` (401 unless it matches the signed Content-Digest)."""
        return BodyDigest.for_request(self.covered, request.headers)


def authenticate(request: Any, body: bytes, app: DocLedger, nonces: NonceStore,
                 max_age: int) -> Caller:
    """Verify the request's RFC 9421 signature, body included; return who signed it."""
    head = authenticate_head(request, app, nonces, max_age, with_body=bool(body))
    digest = head.body_digest(request)
    digest.update(body)
    digest.check()
    return head.caller


def authenticate_head(request: Any, app: DocLedger, nonces: NonceStore, max_age: int, *,
                      with_body: bool) -> SignedHead:
    """Verify the signature over the request's head (``content-digest`` required
    ``with_body``) and claim its nonce, before any of the body is read: an
    unsigned or forged request is refused without costing the server its body."""
    if "signature-input" not in request.headers or "signature" not in request.headers:
        raise Unauthenticated("sign the request (RFC 9421 HTTP Message Signatures)")
    now = utc_now()
    resolver = _Resolver(app, now)
    verifier = HTTPMessageVerifier(signature_algorithm=ED25519, key_resolver=resolver)
    verifier.max_clock_skew = CLOCK_SKEW
    required = REQUIRED + (("content-digest",) if with_body else ())
    try:
        results = verifier.verify(request, max_age=dt.timedelta(seconds=max_age),
                                  require_components=required)
    except DocLedgerError:
        raise
    except (HTTPMessageSignaturesException, ValueError) as exc:
        fault = store_fault(exc)  # the caller's key could not be looked up: not its fault
        if fault is not None:
            raise fault from exc
        raise Unauthenticated(f"request signature: {exc}") from None
    if len(results) != 1 or resolver.caller is None:
        raise Unauthenticated("exactly one request signature is expected")
    params = results[0].parameters
    created, expires, nonce = params.get("created"), params.get("expires"), params.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128:
        raise Unauthenticated("the signature needs a nonce of 16 to 128 characters")
    if not isinstance(created, int) or not isinstance(expires, int) or expires - created > max_age:
        raise Unauthenticated(f"the signature needs created and expires at most {max_age}s apart")
    if not nonces.claim(nonce, nonce_keep_until(expires), now):
        raise Unauthenticated("replayed request: this nonce was used before")
    return SignedHead(resolver.caller, results[0].covered_components)
