"""Outgoing document lifecycle on the Document aggregate alone."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.errors import DuplicateError, IllegalTransitionError
from domain.exchange.document import Document, DocumentState
from tests.domain.helpers import T0, at, replay

SENDER = "000.00.00.G22"
A, B, C = "000.00.00.H41", "000.00.15.H51", "001.00.20.TT2"
SIGNER = {"full_name": "Nguyễn Văn B", "position": "Phó Chủ tịch"}


def draft() -> Document:
    return Document._create(
        Document.Created,
        id=Document.id_for(SENDER, f"doc-{uuid4()}"),
        envelope={},
        timestamp=T0,
        sender=SENDER,
        document_id="doc-1",
        header={"code_notation": "QĐ-UBND", "subject": "Về việc …"},
        attachments=[],
    )


def collected_draft() -> Document:
    d = draft()
    d.collect_events()
    return d


def issued() -> Document:
    d = draft()
    d.sign(SIGNER, envelope={}, at=at(1))
    d.issue(12, 2026, envelope={}, at=at(2))
    d.collect_events()
    return d


def sent(recipients: list[str]) -> Document:
    d = issued()
    d.send(recipients, envelope={}, at=at(3))
    d.collect_events()
    return d


def refused(d: Document, call: Any, exc: type[Exception] = IllegalTransitionError) -> None:
    state, version = d.state, d.version
    with pytest.raises(exc):
        call(d)
    assert d.collect_events() == []
    assert d.state is state and d.version == version


def test_created_document_is_a_draft_without_number() -> None:
    d = draft()
    assert d.state is DocumentState.DRAFT
    assert d.number is None and d.signer is None and d.recipients == [] and d.revision == 0
    assert d.reference == "?/QĐ-UBND"
    assert [type(e) for e in d.collect_events()] == [Document.Created]


def test_full_lifecycle_draft_sign_issue_send() -> None:
    d = draft()
    d.sign(SIGNER, envelope={"s": 1}, at=at(1))
    assert d.state is DocumentState.SIGNED and d.signer == SIGNER
    d.issue(12, 2026, envelope={}, at=at(2))
    assert d.state is DocumentState.ISSUED and d.number == 12 and d.year == 2026
    assert d.reference == "12/QĐ-UBND"
    d.send([A, B], envelope={}, at=at(3))
    assert d.state is DocumentState.SENT and d.recipients == [A, B]
    events = d.collect_events()
    assert [type(e) for e in events] == [
        Document.Created, Document.Signed, Document.Issued, Document.Sent
    ]
    assert events[1].envelope == {"s": 1}
    assert events[3].recipients == [A, B]
    assert replay(events).__dict__ == d.__dict__


def test_sign_twice_is_illegal() -> None:
    d = draft()
    d.sign(SIGNER, envelope={}, at=at(1))
    d.collect_events()
    refused(d, lambda x: x.sign(SIGNER, envelope={}, at=at(2)))


def test_cannot_issue_unsigned_or_twice() -> None:
    refused(collected_draft(), lambda x: x.issue(1, 2026, envelope={}, at=at(1)))
    refused(issued(), lambda x: x.issue(2, 2026, envelope={}, at=at(3)))


def test_cannot_send_before_issue() -> None:
    d = collected_draft()
    refused(d, lambda x: x.send([A], envelope={}, at=at(1)))
    d.sign(SIGNER, envelope={}, at=at(1))
    d.collect_events()
    refused(d, lambda x: x.send([A], envelope={}, at=at(2)))


def test_cannot_sign_after_issue() -> None:
    refused(issued(), lambda x: x.sign(SIGNER, envelope={}, at=at(3)))


def test_send_again_to_new_recipients_accumulates() -> None:
    d = sent([A])
    d.send([B, C], envelope={}, at=at(4))
    assert d.recipients == [A, B, C]
    assert [type(e) for e in d.collect_events()] == [Document.Sent]


def test_send_twice_to_same_recipient_is_duplicate() -> None:
    d = sent([A, B])
    refused(d, lambda x: x.send([C, B], envelope={}, at=at(4)), DuplicateError)
    assert d.recipients == [A, B]
    with pytest.raises(DuplicateError, match=B):
        d.send([B], envelope={}, at=at(5))


def test_revise_only_when_sent() -> None:
    for d in (collected_draft(), issued()):
        refused(d, lambda x: x.revise(2, [{"name": "v2.pdf"}], "đính chính",
                                      envelope={}, at=at(5)))
    d = sent([A])
    d.revise(2, [{"name": "v2.pdf"}], "đính chính", envelope={}, at=at(5))
    d.revise(3, [{"name": "v3.pdf"}], "thay thế", envelope={}, at=at(6))
    events = d.collect_events()
    assert [e.revision for e in events] == [1, 2]
    assert [e.business_type for e in events] == [2, 3]
    assert d.revision == 2 and d.attachments == [{"name": "v3.pdf"}]
    assert d.state is DocumentState.SENT


def test_id_for_is_deterministic_per_sender_and_document_id() -> None:
    assert Document.id_for(SENDER, "x") == Document.id_for(SENDER, "x")
    assert Document.id_for(SENDER, "x") != Document.id_for(A, "x")
    assert Document.id_for(SENDER, "x") != Document.id_for(SENDER, "y")
