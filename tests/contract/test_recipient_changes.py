"""An update (document.revise, schema 2) adds and removes recipients: the removed
delivery ends in the terminal state ``removed`` with the reason, visible in the
views, the history and the audit; the added one arrives as by document.send."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.errors import (
    DocLedgerError,
    DuplicateError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidCommandError,
    NotFoundError,
)
from domain.exchange.delivery import Delivery, DeliveryState
from domain.exchange.document import Document
from domain.verification.bundle import verify_bundle
from domain.verification.history import document_history
from infrastructure.bundle import build_bundle
from infrastructure.ledger import open_log
from infrastructure.views import queries
from infrastructure.views.queries import InboxQuery
from infrastructure.views.worker import check
from tests.conftest import sqlite_settings
from tests.contract.test_attacks import assert_refused, audit, delivery_state
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, ManualClock, World
from tests.views_support import caught_up, put_blob, send, vn_today


def update(world: World, doc: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = (),
           agency: str = SENDER, **extra: Any) -> bytes:
    fields = {"document": doc, "business_type": 2, "reason": "Cập nhật nơi nhận",
              "add_recipients": list(add), "remove_recipients": list(remove), **extra}
    return world.signed(agency, "document.revise", fields)


def test_update_removes_and_adds_recipients_visible_everywhere(world: World) -> None:
    world.register(THIRD)
    doc = send(world, (RECIPIENT, OTHER))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    outcome = world.app.execute(update(world, doc, add=(THIRD,), remove=(RECIPIENT,)))
    assert outcome.result == {"document": doc, "revision": 1, "added": [THIRD],
                              "removed": [RECIPIENT]}

    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.REMOVED
    assert delivery_state(world, doc, OTHER) is DeliveryState.ARRIVED
    assert delivery_state(world, doc, THIRD) is DeliveryState.ARRIVED
    other = world.app.find(Delivery, Delivery.id_for(UUID(doc), OTHER))
    assert other is not None and other.revision == 1
    found = world.app.find(Document, UUID(doc))
    assert found is not None and found.recipients == [RECIPIENT, OTHER, THIRD]

    store = caught_up(world)
    row = queries.inbox(store, InboxQuery(agency=RECIPIENT, states=("removed",)),
                        vn_today(world))
    assert [(r["document_id"], r["status_code"]) for r in row] == [(doc, "03")]
    timeline = queries.status(store, doc)["timeline"]  # type: ignore[index]
    removed = [t for t in timeline if t["event"] == "Removed"]
    assert removed == [{"recipient": RECIPIENT, "status_code": None, "event": "Removed",
                        "at": removed[0]["at"], "actor": SENDER, "staff": "Trần Thị C",
                        "detail": "Cập nhật nơi nhận", "source": None, "signature": None}]
    assert [t["status_code"] for t in timeline if t["recipient"] == THIRD] == ["01"]
    assert check(world.app)[1] == []  # the live views equal a rebuild
    history = document_history(world.app, UUID(doc))
    assert ("delivery to " + RECIPIENT, "Removed") in [(h.aggregate, h.event) for h in history]
    audit(world)  # replayed under version 2's rules, byte for byte
    log = open_log(world.settings, world.app)
    summary = verify_bundle(build_bundle(world.app, log, UUID(doc)), log.note_key.vkey())
    assert summary.statuses == {RECIPIENT: "removed", OTHER: "01", THIRD: "01"}


def test_removed_recipient_cannot_act_on_the_document_afterwards(world: World) -> None:
    doc = send(world, (RECIPIENT, OTHER))
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    world.app.execute(update(world, doc, remove=(RECIPIENT,)))
    acts: list[tuple[str, dict[str, Any]]] = [
        ("delivery.accept", {}), ("delivery.refuse", {"reason": "x"}),
        ("delivery.assign", {"lead_unit": "Phòng Tư pháp"}),
        ("delivery.progress", {}), ("delivery.complete", {}),
        ("delivery.answer_recall", {"agree": True, "reason": "x"}),
    ]
    for type_, fields in acts:
        raw = world.signed(RECIPIENT, type_, {"document": doc, **fields})
        assert_refused(world, raw, IllegalTransitionError)
    # nor may it revise the document, and the sender cannot recall what it took back
    assert_refused(world, update(world, doc, remove=(OTHER,), agency=RECIPIENT), ForbiddenError)
    assert_refused(world, world.signed(SENDER, "delivery.recall", {
        "document": doc, "recipients": [RECIPIENT], "reason": "x"}), IllegalTransitionError)
    assert delivery_state(world, doc, RECIPIENT) is DeliveryState.REMOVED


# ---- the rules, on one ledger (SQLite: they are the domain's) ----------------------------


class Rules:
    def __init__(self, tmp: Path) -> None:
        self.world = World.create(sqlite_settings(tmp), clock=ManualClock(),
                                  agencies=(SENDER, RECIPIENT, OTHER, THIRD))
        self.doc = send(self.world, (RECIPIENT, OTHER))
        self.world.act(OTHER, "delivery.refuse", {"document": self.doc, "reason": "nhầm"})


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Rules:
    return Rules(tmp_path_factory.mktemp("rules"))


@pytest.mark.parametrize(("case", "error"), [
    ({"agency": THIRD, "remove": (RECIPIENT,)}, NotFoundError),  # not its document at all
    ({"agency": RECIPIENT, "add": (THIRD,)}, ForbiddenError),  # a recipient, not the sender
    ({"remove": (THIRD,)}, NotFoundError),  # never a recipient
    ({"remove": (OTHER,)}, IllegalTransitionError),  # it refused: nothing to take back
    ({"add": (RECIPIENT,)}, DuplicateError),
    ({"add": (SENDER,)}, InvalidCommandError),
    ({"add": ("999.99.99.Z99",)}, NotFoundError),
    ({"add": (THIRD,), "remove": (THIRD,)}, InvalidCommandError),
    ({"add": (THIRD, THIRD)}, InvalidCommandError),
    ({}, InvalidCommandError),  # changes nothing
    ({"remove": (RECIPIENT,), "attachments": []}, InvalidCommandError),
])
def test_who_may_change_recipients_and_which(rules: Rules, case: dict[str, Any],
                                             error: type[DocLedgerError]) -> None:
    w, case = rules.world, dict(case)
    agency = case.pop("agency", SENDER)
    raw = update(w, rules.doc, agency=agency, add=case.pop("add", ()),
                 remove=case.pop("remove", ()), **case)
    before = w.event_count()
    with pytest.raises(error):
        w.app.execute(raw)
    assert w.event_count() == before


def test_a_removed_recipient_is_not_added_again(rules: Rules) -> None:
    w = rules.world
    doc = send(w, (RECIPIENT, THIRD))
    w.app.execute(update(w, doc, remove=(THIRD,)))
    with pytest.raises(DuplicateError, match="not added again"):
        w.app.execute(update(w, doc, add=(THIRD,)))


def test_version_1_revise_keeps_its_rules(rules: Rules) -> None:
    w = rules.world
    doc = send(w, (RECIPIENT,))
    data = b"v1 revision"
    attachment = {"name": "qd.pdf", "media_type": "application/pdf", "size": len(data),
                  "sha256": put_blob(w, data)}
    v1 = {"document": doc, "business_type": 3, "attachments": [attachment], "reason": "thay"}
    assert w.act(SENDER, "document.revise", v1, schema_version=1).result["revision"] == 1
    with pytest.raises(InvalidCommandError, match="add_recipients"):
        w.act(SENDER, "document.revise", {**v1, "add_recipients": [THIRD]}, schema_version=1)


def test_a_sourced_command_needs_its_message_in_the_blob_store(rules: Rules) -> None:
    w = rules.world
    doc = send(w, (RECIPIENT,))
    message = b"<edXML>...</edXML>"
    source = {"name": "message.edxml", "media_type": "application/xml",
              "size": len(message), "sha256": "ab" * 32}
    with pytest.raises(NotFoundError, match="no attachment"):
        w.act(RECIPIENT, "delivery.accept", {"document": doc, "source": source})
    source["sha256"] = put_blob(w, message)
    assert w.act(RECIPIENT, "delivery.accept", {"document": doc, "source": source}).result
