"""Names for signatures already found valid, so they are not verified twice.

The group committer's callers verify their own commands' signatures on their
own threads, in parallel, before the group's turn; the audit's replay checks
each signature once. Both hand the results on as digests of the exact (key,
message, signature) triple: a digest can only stand for a verification of
those very bytes under that very key.
"""

from __future__ import annotations

import hashlib


def signature_digest(spki_der: bytes, message: bytes, sig: bytes) -> bytes:
    """Names one (key, message, signature) triple found valid."""
    return hashlib.sha256(b"%d:" % len(spki_der) + spki_der + sig + message).digest()
