"""Receipts and leaves refuse what they cannot stand for with the ledger's own error."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.errors import VerificationError
from domain.evidence.envelope import STATEMENT_TYPE, Envelope
from domain.evidence.keys import Ed25519Signer
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.receipt import open_receipt, receipt_content, sign_receipt


def test_receipt_round_trip_returns_its_content() -> None:
    ledger = Ed25519Signer.generate()
    content = receipt_content(origin="o", command_id="c", payload_sha256="0" * 64,
                              received_at="2026-01-01T00:00:00+00:00", events=[])
    assert open_receipt(sign_receipt(content, ledger), ledger.public_key) == content


@pytest.mark.parametrize("payload", [b"[]", b'"ledger.receipt"', b"1"])
def test_ledger_signed_statement_that_is_not_an_object_is_no_receipt(payload: bytes) -> None:
    ledger = Ed25519Signer.generate()
    signed = Envelope.sign(STATEMENT_TYPE, payload, ledger).to_dict()
    with pytest.raises(VerificationError, match="not a ledger receipt"):
        open_receipt(signed, ledger.public_key)


def test_stored_event_with_a_text_id_has_no_leaf() -> None:
    uuid = uuid4()
    assert len(event_leaf_hash(uuid, 1, "t", b"{}")) == 32
    with pytest.raises(VerificationError, match="not a UUID"):
        event_leaf_hash(str(uuid), 1, "t", b"{}")
