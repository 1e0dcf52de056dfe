"""Asking an RFC 3161 time-stamping authority (TSA) over HTTP to stamp a checkpoint body.

The request (a DER TimeStampReq, written by asn1crypto) carries the
SHA-256 of the checkpoint body as its message imprint, a random 64-bit nonce
and certReq = true, and no policy: the TSA applies its default one. It is
POSTed as ``application/timestamp-query``; the answer must be 200 with an
``application/timestamp-reply`` TimeStampResp whose status is granted, whose
token echoes the nonce, verifies over the body against the trusted TSA
certificates (domain/evidence/timestamp.py), and whose time agrees with ours
within the allowed clock skew. Anything else is TimestampUnavailable: the
checkpoint is published without a token, and the ledger goes on.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asn1crypto import cms, core, tsp

from domain.errors import DocLedgerError, InvalidInputError
from domain.evidence.timestamp import (
    HASH,
    TimestampError,
    body_digest,
    iso_utc,
    read_certificates,
    verify_timestamp,
)
from infrastructure.settings import Settings

QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"


class TimeStampResp(core.Sequence):  # type: ignore[misc]
    """RFC 3161, 2.4.2: the status, and the token unless refused. asn1crypto's own
    definition requires the token, so it cannot read a refusal."""

    _fields = [("status", tsp.PKIStatusInfo),
               ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class TimestampUnavailable(DocLedgerError):  # noqa: N818 - the name the callers know
    """The TSA could not be reached in time, refused, or answered with a token that
    does not verify: the checkpoint goes without a time-stamp."""

    code = "timestamp-unavailable"


class TimestampAuthority:
    """One TSA at ``url``, whose tokens must verify against ``trusted`` certificates."""

    def __init__(self, url: str, trusted: Sequence[bytes], timeout: float = 5.0, *,
                 max_skew: timedelta = timedelta(minutes=5),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.url = url
        self.trusted = [der for data in trusted for der in read_certificates(data)]
        if not self.trusted:
            raise InvalidInputError("a TSA needs at least one trusted certificate")
        self.timeout = timeout
        self.max_skew = max_skew
        self.clock = clock
        # one client for the process: its TLS context is made once, its connection kept
        self._http = httpx.Client(timeout=timeout,
                                  headers={"Content-Type": QUERY, "Accept": REPLY})

    def close(self) -> None:
        self._http.close()

    def stamp(self, body: str) -> bytes:
        """A verified DER TimeStampToken over checkpoint ``body``; TimestampUnavailable
        if none can be had."""
        nonce = secrets.randbits(64)
        sent = self.clock()
        response = self._post(time_stamp_request(body, nonce))
        token = self._granted(response, nonce)
        try:
            verdict = verify_timestamp(token, body, self.trusted)
        except TimestampError as exc:
            raise TimestampUnavailable(f"the token of TSA {self.url} does not verify: "
                                       f"{exc}") from exc
        received = self.clock()
        if not sent - self.max_skew <= verdict.gen_time <= received + self.max_skew:
            raise TimestampUnavailable(
                f"TSA {self.url} stamped {iso_utc(verdict.gen_time)}, more than "
                f"{self.max_skew.total_seconds():g} s from this server's clock "
                f"({iso_utc(received)}): one of the two clocks is wrong")
        return token

    def _post(self, query: bytes) -> bytes:
        try:
            answer = self._http.post(self.url, content=query)
        except httpx.HTTPError as exc:
            raise TimestampUnavailable(f"TSA {self.url} did not answer: "
                                       f"{type(exc).__name__}: {exc}") from exc
        if answer.status_code != 200:
            raise TimestampUnavailable(f"TSA {self.url} answered HTTP {answer.status_code}")
        if answer.headers.get("Content-Type") != REPLY:
            raise TimestampUnavailable(f"TSA {self.url} answered "
                                       f"{answer.headers.get('Content-Type')!r}, not {REPLY}")
        return answer.content

    def _granted(self, response: bytes, nonce: int) -> bytes:
        """The token of a granted response that echoes ``nonce`` (RFC 3161, 2.4.2)."""
        try:
            parsed = TimeStampResp.load(response, strict=True)
            status = parsed["status"]
            if status["status"].native not in ("granted", "granted_with_mods"):
                text = "; ".join(status["status_string"].native or [])
                failure = ", ".join(sorted(status["fail_info"].native or []))
                raise TimestampUnavailable(
                    f"TSA {self.url} refused the request: {status['status'].native} "
                    f"({text or 'no reason given'}{'; ' + failure if failure else ''})")
            token = parsed["time_stamp_token"]
            echoed = token["content"]["encap_content_info"]["content"].parsed["nonce"].native
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TimestampUnavailable(f"TSA {self.url} answered with a malformed "
                                       f"TimeStampResp: {exc}") from exc
        if echoed != nonce:
            raise TimestampUnavailable(f"TSA {self.url} did not echo the request's nonce")
        return bytes(token.dump())


def time_stamp_request(body: str, nonce: int) -> bytes:
    """The DER TimeStampReq for checkpoint ``body`` (RFC 3161, 2.4.1)."""
    return bytes(tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": HASH},
                            "hashed_message": body_digest(body)},
        "nonce": nonce,
        "cert_req": True,
    }).dump())


def timestamp_authority(settings: Settings) -> TimestampAuthority | None:
    """The TSA the settings name (DOCLEDGER_TSA_URL, DOCLEDGER_TSA_CERTS), or None."""
    if not settings.tsa_url:
        return None
    if settings.tsa_certs is None:
        raise InvalidInputError("DOCLEDGER_TSA_URL is set but DOCLEDGER_TSA_CERTS is not: "
                                "the TSA's tokens could not be verified")
    return TimestampAuthority(settings.tsa_url, [read_file(settings.tsa_certs)],
                              timeout=settings.tsa_timeout,
                              max_skew=timedelta(seconds=settings.max_clock_skew_seconds))


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read TSA certificates from {path}: {exc}") from None
