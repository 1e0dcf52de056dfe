"""A body checked against the request's signed Content-Digest (RFC 9530) as it streams in.

The signature covers the ``content-digest`` field, so the body is bound to it
once the body hashes to every digest the field names (sha-256, sha-512). The
hashes run chunk by chunk: an upload is checked without being held whole.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import http_sf

from api.http.problems import Unauthenticated

SIGNED_FIELD = '"content-digest"'  # the component's identifier in a verified signature
HASHERS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


class BodyDigest:
    """Running hashes of a body, one per algorithm of its signed Content-Digest."""

    def __init__(self, signed: Mapping[str, bytes], *, digest_sent: bool) -> None:
        self.signed = dict(signed)
        self.digest_sent = digest_sent
        self.hashes = {algorithm: HASHERS[algorithm]() for algorithm in self.signed}
        self.size = 0

    @classmethod
    def for_request(cls, covered: Mapping[str, str], headers: Any) -> BodyDigest:
        """From the components a verified signature covers and the request's headers."""
        value = covered.get(SIGNED_FIELD)
        signed = parse_content_digest(value) if value is not None else {}
        return cls(signed, digest_sent="content-digest" in headers)

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        for running in self.hashes.values():
            running.update(chunk)

    def check(self) -> None:
        """401 unless the body seen matches every signed digest; a body, or a
        Content-Digest field, that the signature does not cover is refused too."""
        if not self.signed:
            if self.size or self.digest_sent:
                raise Unauthenticated("request signature: the body needs a signed Content-Digest")
            return
        for algorithm, expected in self.signed.items():
            if not hmac.compare_digest(expected, self.hashes[algorithm].digest()):
                raise Unauthenticated("request signature: Content-Digest does not match the body")


def parse_content_digest(value: str) -> dict[str, bytes]:
    """The field's digests by algorithm; 401 for a field that is not a list of
    supported digests of the right length, each algorithm named once."""

    def refuse_duplicate(name: str, context: str) -> None:
        if context == "dictionary":
            raise ValueError(f"algorithm {name!r} named twice")

    try:
        members = http_sf.parse(value.encode("ascii"), tltype="dictionary",
                                on_duplicate_key=refuse_duplicate)
    except (ValueError, TypeError) as exc:
        raise Unauthenticated(f"request signature: malformed Content-Digest: {exc}") from None
    if not isinstance(members, dict) or not members:
        raise Unauthenticated("request signature: Content-Digest names no digest")
    return {algorithm: digest_of(algorithm, member) for algorithm, member in members.items()}


def digest_of(algorithm: str, member: Any) -> bytes:
    hasher = HASHERS.get(algorithm)
    if hasher is None:
        raise Unauthenticated(f"request signature: unsupported digest algorithm {algorithm!r}")
    digest = member[0] if isinstance(member, tuple) else None
    if not isinstance(digest, bytes) or len(digest) != hasher().digest_size:
        raise Unauthenticated(f"request signature: malformed {algorithm} digest")
    return digest
