"""The body bound to the signed Content-Digest while it streams in (api.http.content_digest).

Attacks on the binding: a body other than the signed one, a digest the server
cannot check (unknown algorithm, wrong length, malformed, named twice), and a
body or a Content-Digest field the signature does not cover.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from api.http.content_digest import SIGNED_FIELD, BodyDigest
from api.http.problems import Unauthenticated

BODY = b"the signed bytes, sent in three chunks"


def member(algorithm: str, data: bytes) -> str:
    digest = hashlib.new(algorithm.replace("-", ""), data).digest()
    return f"{algorithm}=:{base64.b64encode(digest).decode()}:"


def streamed(field: str | None, body: bytes, *, digest_sent: bool = True) -> None:
    covered = {} if field is None else {SIGNED_FIELD: field}
    check = BodyDigest.for_request(covered, {"content-digest": field} if digest_sent else {})
    for start in range(0, len(body), 13):
        check.update(body[start:start + 13])
    check.check()


@pytest.mark.parametrize("field", [member("sha-256", BODY), member("sha-512", BODY),
                                   f"{member('sha-256', BODY)}, {member('sha-512', BODY)}"])
def test_body_matching_every_signed_digest_is_accepted(field: str) -> None:
    streamed(field, BODY)


@pytest.mark.parametrize("field", [
    member("sha-256", b"other bytes"),
    f"{member('sha-256', BODY)}, {member('sha-512', b'other bytes')}",
])
def test_body_substituted_under_a_signed_digest_is_refused(field: str) -> None:
    with pytest.raises(Unauthenticated, match="does not match"):
        streamed(field, BODY)


@pytest.mark.parametrize("field", [
    member("md5", BODY),  # an algorithm the server does not check
    "sha-256=:AAAA:",  # too short to be a SHA-256
    "sha-256=abc",  # not a byte sequence
    "sha-256=:%%%:",  # not structured-field syntax
    f"{member('sha-256', b'other')}, {member('sha-256', BODY)}",  # named twice
    "",  # no digest at all
])
def test_signed_digest_the_server_cannot_check_is_refused(field: str) -> None:
    with pytest.raises(Unauthenticated):
        streamed(field, BODY)


def test_body_without_a_signed_digest_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="needs a signed Content-Digest"):
        streamed(None, BODY, digest_sent=False)


def test_content_digest_field_the_signature_does_not_cover_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="needs a signed Content-Digest"):
        streamed(None, b"", digest_sent=True)


def test_empty_body_without_a_digest_is_accepted() -> None:
    streamed(None, b"", digest_sent=False)
