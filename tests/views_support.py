"""Helpers for the projection-view tests: a scripted exchange whose views we know,
raw SQL on either backend, and the Vietnam-time date the views count by."""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from domain.exchange.codes import VIETNAM_TIME
from infrastructure.ledger import DataFolder
from infrastructure.settings import Settings
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker
from tests.conftest import PG
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, World


def vn_today(world: World) -> date:
    """The ledger clock's date in Vietnam's time (what the views record)."""
    return world.app.clock().astimezone(VIETNAM_TIME).date()


def caught_up(world: World) -> ViewStore:
    """The live views of ``world``, caught up with the whole log."""
    store = ViewStore(world.app)
    ViewWorker(world.app, store).catch_up()
    assert store.position() == world.event_count()
    return store


def send(world: World, recipients: tuple[str, ...], *, sender: str = SENDER,
         **header: Any) -> str:
    """Create, sign, issue and send a document with these header fields."""
    doc = world.draft(sender, **header)
    world.act(sender, "document.sign", {"document": doc, "signer": {"full_name": "Nguyễn Văn B"}})
    world.act(sender, "document.issue", {"document": doc})
    world.act(sender, "document.send", {"document": doc, "recipients": list(recipients)})
    return doc


def put_blob(world: World, data: bytes) -> str:
    return DataFolder(world.settings.data).blobs.put(data)


def revise(world: World, doc: str, data: bytes = b"v2!") -> None:
    attachment = {"name": "qd.pdf", "media_type": "application/pdf", "size": len(data),
                  "sha256": put_blob(world, data)}
    world.act(SENDER, "document.revise", {"document": doc, "business_type": 2,
                                          "attachments": [attachment], "reason": "đính chính"})


def raw_sql(settings: Settings, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement straight on the database, bypassing the application.

    ``{p}`` is the schema prefix (empty on SQLite); placeholders are written ``?``.
    """
    if settings.backend == "postgres":
        with psycopg.connect(**PG) as conn:
            cur = conn.execute(sql.format(p=f'"{settings.pg_schema}".').replace("?", "%s"),
                               params)
            return list(cur.fetchall()) if cur.description else []
    conn = sqlite3.connect(settings.data / "ledger.sqlite")
    try:
        with conn:
            cur = conn.execute(sql.format(p=""), params)
            return list(cur.fetchall())
    finally:
        conn.close()


def events_table(settings: Settings) -> str:
    """The stored events table, qualified, for :func:`raw_sql` (``{p}`` kept)."""
    return "{p}docledger_events" if settings.backend == "postgres" else "stored_events"


@dataclass
class Exchange:
    """Four documents from SENDER with known outcomes (dates in Vietnam time).

    a: to RECIPIENT (accepted no. 1, assigned to Phòng Tư pháp / Lê Văn D due t0+10,
       progress, completed on t0: on time), OTHER (refused), THIRD (accepted no. 1,
       recalled, agreed: 15). Priority 1, due t0+14.
    b: to RECIPIENT (accepted no. 2, assigned to Văn phòng / Phạm Thị E due t0+2,
       completed on t0+5: late), OTHER (accepted no. 1, recall refused: 16).
       Priority 3, due t0+3.
    c: to RECIPIENT (accepted no. 3, due t0-1: overdue). Priority 0.
    d: to RECIPIENT (left arrived, no due date), then revised. Priority 2.
    """

    a: str
    b: str
    c: str
    d: str
    t0: date
    done: date  # the clock's date at the end (t0 + 5)


def scripted_exchange(world: World) -> Exchange:
    world.register(THIRD)
    t0 = vn_today(world)

    def day(n: int) -> str:
        return (t0 + timedelta(days=n)).isoformat()

    a = send(world, (RECIPIENT, OTHER, THIRD), priority=1, due_date=day(14),
             subject="Về việc kế hoạch A")
    b = send(world, (RECIPIENT, OTHER), priority=3, due_date=day(3),
             subject="Về việc báo cáo B")
    c = send(world, (RECIPIENT,), priority=0, due_date=day(-1), subject="Về việc số liệu C")
    d = send(world, (RECIPIENT,), priority=2, due_date=None, subject="Về việc thông báo D")

    world.act(RECIPIENT, "delivery.accept", {"document": a})
    world.act(RECIPIENT, "delivery.assign", {"document": a, "lead_unit": "Phòng Tư pháp",
                                             "officer": "Lê Văn D", "due_date": day(10)})
    world.act(RECIPIENT, "delivery.progress", {"document": a, "note": "đang xử lý"})
    world.act(RECIPIENT, "delivery.complete", {"document": a, "note": "đã xong"}, staff="Lê Văn D")
    world.act(OTHER, "delivery.refuse", {"document": a, "reason": "không thuộc thẩm quyền"})
    world.act(THIRD, "delivery.accept", {"document": a})
    world.act(SENDER, "delivery.recall", {"document": a, "recipients": [THIRD],
                                          "reason": "sai sót"})
    world.act(THIRD, "delivery.answer_recall", {"document": a, "agree": True,
                                                "reason": "đồng ý"})

    world.act(RECIPIENT, "delivery.accept", {"document": b})
    world.act(RECIPIENT, "delivery.assign", {"document": b, "lead_unit": "Văn phòng",
                                             "officer": "Phạm Thị E", "due_date": day(2)})
    world.act(OTHER, "delivery.accept", {"document": b})
    world.act(SENDER, "delivery.recall", {"document": b, "recipients": [OTHER],
                                          "reason": "sai số liệu"})
    world.act(OTHER, "delivery.answer_recall", {"document": b, "agree": False,
                                                "reason": "đã vào sổ"})

    world.act(RECIPIENT, "delivery.accept", {"document": c})
    revise(world, d)

    world.app.clock.advance(days=5)  # type: ignore[attr-defined]
    world.act(RECIPIENT, "delivery.complete", {"document": b, "note": "trễ hạn"})
    return Exchange(a=a, b=b, c=c, d=d, t0=t0, done=vn_today(world))


ROOT = Path(__file__).resolve().parents[1]


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a ledger process (a views worker, the CLI) on ``settings``,
    with no view following of its own."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("DOCLEDGER_")}
    env = {**keep, "DOCLEDGER_DATA": str(settings.data), "DOCLEDGER_BACKEND": settings.backend,
           "DOCLEDGER_VIEWS_IN_PROCESS": "false", "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    if settings.backend == "postgres":
        env |= {"DOCLEDGER_PG_DB": settings.pg_db, "DOCLEDGER_PG_SCHEMA": settings.pg_schema}
    return env


def accepted_row_via_a_separate_worker(world: Any, http: Any, document: str) -> dict[str, Any]:
    """The recipient accepts ``document`` over ``http`` while another thread feeds the
    views, then reads its inbox with ``wait_for`` its notifications: the row it gets."""
    from tests.api.http_support import client_for  # it imports this module's neighbours

    stop = threading.Event()
    worker = threading.Thread(target=lambda: ViewWorker(
        world.app, ViewStore(world.app)).follow(stop, poll=0.2))
    worker.start()
    try:
        reader = client_for(http, world, RECIPIENT)
        outcome = reader.command("delivery.accept", {"document": document},
                                 issued_at=world.app.clock())
        return dict(reader.get(f"/v1/agencies/{RECIPIENT}/inbox",
                               wait_for=max(outcome["notification_ids"]))["items"][0])
    finally:
        stop.set()
        worker.join()
