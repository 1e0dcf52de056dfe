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
    """Names one (key, message, signature) triple found valid.

    The key's and the signature's lengths both lead, so no two triples share a
    name: with variable-length signatures (RSA, ECDSA) an unprefixed signature
    could borrow its tail from the message, or the message its head from it.
    """
    lengths = b"%d:%d:" % (len(spki_der), len(sig))
    return hashlib.sha256(lengths + spki_der + sig + message).digest()
