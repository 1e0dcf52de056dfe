"""Names of verified signatures: one name, one (key, message, signature) triple."""

from __future__ import annotations

from domain.evidence.preverify import signature_digest

KEY = b"\x30\x2a" + bytes(42)


def test_a_signature_cannot_borrow_its_tail_from_the_message() -> None:
    # the same bytes split differently between signature and message, as a
    # variable-length signature (RSA, ECDSA) would allow
    assert signature_digest(KEY, b"BCDEF", b"A") != signature_digest(KEY, b"CDEF", b"AB")


def test_the_same_triple_has_the_same_name() -> None:
    assert signature_digest(KEY, b"message", b"sig") == signature_digest(KEY, b"message", b"sig")
