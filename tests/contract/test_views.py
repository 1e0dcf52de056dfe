"""The projection views answer what clerks, leaders and reporting ask, on every backend,
and are fed exactly once, read-your-writes, rebuilt beside the live ones and checked."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, timedelta

import pytest
from eventsourcing.persistence import IntegrityError

from infrastructure.views import queries
from infrastructure.views.handlers import ops_for
from infrastructure.views.queries import InboxQuery
from infrastructure.views.schema import TABLES
from infrastructure.views.store import ViewStore
from infrastructure.views.worker import ViewWorker, check, rebuild
from tests.factories import OTHER, RECIPIENT, SENDER, THIRD, World
from tests.views_support import Exchange, caught_up, raw_sql, scripted_exchange, send


@pytest.fixture
def ex(world: World) -> Exchange:
    return scripted_exchange(world)


def snapshot(store: ViewStore) -> dict[str, list[tuple[object, ...]]]:
    return {table: store.rows(table) for table in TABLES}


def inbox(store: ViewStore, ex: Exchange, **kw: object) -> list[dict[str, object]]:
    return queries.inbox(store, InboxQuery(agency=RECIPIENT, **kw), ex.done)  # type: ignore[arg-type]


# ---- inbox --------------------------------------------------------------------------


def test_inbox_states_filters_and_overdue(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    rows = {r["document_id"]: r for r in inbox(store, ex)}
    assert {d: r["state"] for d, r in rows.items()} == {
        ex.a: "completed", ex.b: "completed", ex.c: "accepted", ex.d: "arrived"}
    assert {d: r["status_code"] for d, r in rows.items()} == {
        ex.a: "06", ex.b: "06", ex.c: "03", ex.d: "01"}
    assert rows[ex.a]["incoming_number"] == 1 and rows[ex.c]["incoming_number"] == 3
    assert rows[ex.d]["incoming_number"] is None
    # the assignment's due date replaces the document's
    assert rows[ex.b]["due_date"] == (ex.t0 + timedelta(days=2)).isoformat()
    assert [d for d, r in rows.items() if r["overdue"]] == [ex.c]

    assert {r["document_id"] for r in inbox(store, ex, states=("completed",))} == {ex.a, ex.b}
    assert {r["document_id"] for r in inbox(store, ex, states=("arrived", "accepted"))} == {
        ex.c, ex.d}
    overdue = inbox(store, ex, overdue=True)
    assert [r["document_id"] for r in overdue] == [ex.c] and overdue[0]["overdue"] is True
    assert [r["document_id"] for r in inbox(store, ex, unit="Phòng Tư pháp")] == [ex.a]
    assert [r["document_id"] for r in inbox(store, ex, officer="Phạm Thị E")] == [ex.b]
    assert inbox(store, ex, unit="Phòng Tư pháp", officer="Phạm Thị E") == []

    # every other agency sees only its own deliveries
    other = queries.inbox(store, InboxQuery(agency=OTHER), ex.done)
    assert {(r["document_id"], r["state"], r["status_code"]) for r in other} == {
        (ex.a, "refused", "02"), (ex.b, "accepted", "16")}
    third = queries.inbox(store, InboxQuery(agency=THIRD), ex.done)
    assert [(r["state"], r["status_code"]) for r in third] == [("recalled", "15")]
    assert queries.inbox(store, InboxQuery(agency=SENDER), ex.done) == []


def test_inbox_sorts_by_urgency_or_due_date(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    urgency = [r["document_id"] for r in inbox(store, ex, sort="urgency")]
    assert urgency == [ex.b, ex.d, ex.a, ex.c]  # priority 3, 2, 1, 0
    due = [r["document_id"] for r in inbox(store, ex, sort="due")]
    assert due == [ex.c, ex.b, ex.a, ex.d]  # t0-1, t0+2, t0+10, none last


@pytest.mark.parametrize("sort", ["urgency", "due"])
def test_inbox_pages_are_disjoint_and_cover_every_row(world: World, ex: Exchange,
                                                      sort: str) -> None:
    store = caught_up(world)
    everything = [r["delivery_id"] for r in inbox(store, ex, sort=sort)]
    assert len(everything) == 4
    for size in (1, 3):
        pages = [[r["delivery_id"] for r in inbox(store, ex, sort=sort, limit=size,
                                                  offset=start)]
                 for start in range(0, 6, size)]
        assert all(len(p) <= size for p in pages)
        flat = [row for page in pages for row in page]
        assert flat == everything  # disjoint, in order, nothing missing


# ---- outbox and status ----------------------------------------------------------------


def test_outbox_gives_each_recipients_status_code(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    docs = {d["document_id"]: d for d in queries.outbox(store, SENDER)}
    assert set(docs) == {ex.a, ex.b, ex.c, ex.d}
    codes = {doc: {r["recipient"]: r["status_code"] for r in d["recipients"]}
             for doc, d in docs.items()}
    assert codes == {ex.a: {RECIPIENT: "06", OTHER: "02", THIRD: "15"},
                     ex.b: {RECIPIENT: "06", OTHER: "16"},
                     ex.c: {RECIPIENT: "03"},
                     ex.d: {RECIPIENT: "01"}}
    assert [r["recipient"] for r in docs[ex.a]["recipients"]] == sorted([RECIPIENT, OTHER, THIRD])
    assert queries.outbox(store, RECIPIENT) == []
    assert len(queries.outbox(store, SENDER, limit=2)) == 2
    pages = queries.outbox(store, SENDER, limit=2) + queries.outbox(store, SENDER, limit=2,
                                                                    offset=2)
    assert sorted(d["document_id"] for d in pages) == sorted(docs)


def test_status_timeline_codes_in_order_with_actors(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    found = queries.status(store, ex.a)
    assert found is not None and found["state"] == "sent" and found["reference"] == "1/QĐ-UBND"
    timeline = [(t["recipient"], t["status_code"], t["actor"]) for t in found["timeline"]]
    assert timeline == [
        (RECIPIENT, "01", "ledger"), (RECIPIENT, "03", RECIPIENT), (RECIPIENT, "04", RECIPIENT),
        (RECIPIENT, "05", RECIPIENT), (RECIPIENT, "06", RECIPIENT),
        (OTHER, "01", "ledger"), (OTHER, "02", OTHER),
        (THIRD, "01", "ledger"), (THIRD, "03", THIRD), (THIRD, "13", SENDER),
        (THIRD, "15", THIRD),
    ]
    by_code = {(t["recipient"], t["status_code"]): t for t in found["timeline"]}
    assert by_code[(RECIPIENT, "06")]["staff"] == "Lê Văn D"
    assert by_code[(RECIPIENT, "04")]["detail"] == "Phòng Tư pháp / Lê Văn D"
    assert by_code[(OTHER, "02")]["detail"] == "không thuộc thẩm quyền"
    assert by_code[(RECIPIENT, "03")]["detail"] == "incoming no. 1"

    b = queries.status(store, ex.b)
    assert b is not None
    assert [(t["status_code"], t["actor"]) for t in b["timeline"] if t["recipient"] == OTHER] == [
        ("01", "ledger"), ("03", OTHER), ("13", SENDER), ("16", OTHER)]
    assert queries.status(store, "00000000-0000-0000-0000-000000000000") is None


def test_revision_reaches_the_document_and_its_live_delivery(world: World,
                                                             ex: Exchange) -> None:
    store = caught_up(world)
    d = queries.status(store, ex.d)
    assert d is not None and d["revision"] == 1
    revisions = {r["document_id"]: r["revision"] for r in store.query(
        "SELECT document_id, revision FROM {t:v_deliveries} WHERE recipient = %s", [RECIPIENT])}
    assert revisions == {ex.a: 0, ex.b: 0, ex.c: 0, ex.d: 1}


# ---- registers -------------------------------------------------------------------------


def test_registers_numbered_without_gaps_and_csv_headings(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    year = ex.t0.year
    incoming = queries.register(store, RECIPIENT, "incoming", year)
    assert [r["number"] for r in incoming] == [1, 2, 3]
    assert [r["document_id"] for r in incoming] == [ex.a, ex.b, ex.c]
    assert {r["counterpart"] for r in incoming} == {SENDER}
    assert all(r["registered_on"] == ex.t0.isoformat() for r in incoming)
    assert [r["document_id"] for r in queries.register(store, OTHER, "incoming", year)] == [ex.b]
    assert [r["number"] for r in queries.register(store, THIRD, "incoming", year)] == [1]

    outgoing = queries.register(store, SENDER, "outgoing", year)
    assert [r["number"] for r in outgoing] == [1, 2, 3, 4]
    assert [r["document_id"] for r in outgoing] == [ex.a, ex.b, ex.c, ex.d]
    assert outgoing[0]["counterpart"] == f"{RECIPIENT}, {OTHER}, {THIRD}"
    assert outgoing[0]["reference"] == "1/QĐ-UBND"
    assert queries.register(store, SENDER, "incoming", year) == []
    assert queries.register(store, RECIPIENT, "incoming", year + 1) == []

    parsed = list(csv.reader(io.StringIO(queries.register_csv(incoming, "incoming"))))
    assert parsed[0] == ["Số đến", "Ngày đến", "Số, ký hiệu", "Trích yếu", "Nơi gửi"]
    assert [row[0] for row in parsed[1:]] == ["1", "2", "3"]
    assert parsed[1][2:] == ["1/QĐ-UBND", "Về việc kế hoạch A", SENDER]
    out = list(csv.reader(io.StringIO(queries.register_csv(outgoing, "outgoing"))))
    assert out[0] == ["Số", "Ngày", "Số, ký hiệu", "Trích yếu", "Nơi nhận"]
    page = queries.register_html(incoming, agency=RECIPIENT, name="Sở <Tư pháp>",
                                 direction="incoming", year=year)
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in page and "Sở &lt;Tư pháp&gt;" in page
    assert page.count("<tr>") == 1 + 3


# ---- statistics ------------------------------------------------------------------------


def test_statistics_of_a_known_period(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    figures = queries.statistics(store, RECIPIENT, ex.t0, ex.t0, ex.done)
    assert figures == {
        "agency": RECIPIENT, "from": ex.t0.isoformat(), "to": ex.t0.isoformat(),
        "received": 4, "accepted": 3, "refused": 0, "completed": 2,
        "completed_on_time": 1,  # a on t0, due t0+10; b on t0+5, due t0+2
        "overdue": 2,  # b completed late, c past due and still accepted
        "on_time_rate": 50.0,
    }
    other = queries.statistics(store, OTHER, ex.t0, ex.t0, ex.done)
    assert (other["received"], other["accepted"], other["refused"], other["completed"]) == (
        2, 1, 1, 0)
    assert other["on_time_rate"] is None
    assert other["overdue"] == 1  # b (due t0+3) is still open on t0+5
    on_due_day = queries.statistics(store, OTHER, ex.t0, ex.t0, ex.t0 + timedelta(days=3))
    assert on_due_day["overdue"] == 0  # not yet late on its due date itself
    before = queries.statistics(store, RECIPIENT, ex.t0 - timedelta(days=9),
                                ex.t0 - timedelta(days=1), ex.done)
    assert before["received"] == 0 and before["on_time_rate"] is None


def test_statistics_per_unit_add_up_to_the_agencys_figures(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    units = queries.statistics_by_unit(store, RECIPIENT, ex.t0, ex.t0, ex.done)
    assert [(u["unit"], u["received"], u["completed"], u["completed_on_time"],
             u["on_time_rate"]) for u in units] == [
        ("Phòng Tư pháp", 1, 1, 1, 100.0), ("Văn phòng", 1, 1, 0, 0.0),
        (None, 2, 0, 0, None)]  # c and d were never assigned; the unassigned come last
    whole = queries.statistics(store, RECIPIENT, ex.t0, ex.t0, ex.done)
    for figure in queries.FIGURE_NAMES:
        assert sum(u[figure] for u in units) == whole[figure]


def test_monthly_statistics_are_the_statistics_of_each_month(world: World,
                                                             ex: Exchange) -> None:
    store = caught_up(world)
    months = queries.monthly_statistics(store, RECIPIENT, ex.t0.year, ex.done)
    assert [m["from"][5:7] for m in months] == [f"{n:02d}" for n in range(1, 13)]
    assert months[1]["to"] == f"{ex.t0.year}-02-{28 + (ex.t0.year % 4 == 0)}"
    month = months[ex.t0.month - 1]
    assert month == queries.statistics(store, RECIPIENT, ex.t0.replace(day=1),
                                       date.fromisoformat(month["to"]), ex.done)
    assert month["received"] == 4
    assert sum(m["received"] for m in months) == 4


# ---- exactly once, read-your-writes -----------------------------------------------------


def test_applying_an_old_batch_again_fails_and_changes_nothing(world: World,
                                                               ex: Exchange) -> None:
    store = caught_up(world)
    before = snapshot(store)
    position = store.position()
    last = world.app.recorder.select_notifications(position - 9, 10)
    ops = [op for n in last for op in ops_for(n)]
    with pytest.raises(IntegrityError):
        store.apply(ops, last[-1].id)
    # even a batch whose rows alone would succeed is refused as a whole
    corrupting = [("UPDATE {t:v_deliveries} SET state = 'refused', status_code = '02'", ())]
    with pytest.raises(IntegrityError):
        store.apply(corrupting, position)
    with pytest.raises(IntegrityError):
        store.apply(corrupting, position - 5)
    assert snapshot(store) == before
    assert store.position() == position
    assert ViewWorker(world.app, store).catch_up() == 0
    assert snapshot(store) == before


def test_wait_returns_once_a_worker_has_caught_up(world: World, ex: Exchange,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = caught_up(world)
    world.act(RECIPIENT, "delivery.assign", {"document": ex.c, "lead_unit": "Phòng Nội vụ"})
    target = world.event_count()
    assert store.position() < target
    with pytest.raises(TimeoutError):
        store.wait(target, timeout=0.3)  # nobody is feeding the views

    # the worker catches up only once the waiter has found the views behind
    waiting, seen = threading.Event(), []
    has_tracking_id = store.recorder.has_tracking_id

    def watched(*args: object, **kwargs: object) -> bool:
        found = has_tracking_id(*args, **kwargs)
        seen.append(found)
        if not found:
            waiting.set()
        return found

    monkeypatch.setattr(store.recorder, "has_tracking_id", watched)
    worker = ViewWorker(world.app, ViewStore(world.app))
    thread = threading.Thread(target=lambda: (waiting.wait(10), worker.catch_up()))
    thread.start()
    try:
        store.wait(target, timeout=10)
    finally:
        thread.join()
    assert waiting.is_set(), "the waiter never looked at the views"
    assert (seen[0], seen[-1]) == (False, True)  # behind when it began, caught up when it ended
    assert store.position() == target
    rows = inbox(store, ex, unit="Phòng Nội vụ")
    assert [(r["document_id"], r["state"]) for r in rows] == [(ex.c, "assigned")]
    with pytest.raises(TimeoutError):
        store.wait(target + 1, timeout=0.3)


# ---- rebuild and check ------------------------------------------------------------------


def test_rebuild_serves_live_views_meanwhile_and_equals_them(world: World,
                                                             ex: Exchange) -> None:
    store = caught_up(world)
    before, position = snapshot(store), store.position()
    page = inbox(store, ex)
    served: list[int] = []

    def meanwhile(n: int) -> None:  # called while the shadow is being built
        assert inbox(store, ex) == page
        served.append(n)

    assert rebuild(world.app, progress=meanwhile) == position
    assert served and sum(served) == position
    assert snapshot(store) == before and store.position() == position
    # twice in a row: the shadow's names are free again
    assert rebuild(world.app) == position
    assert snapshot(ViewStore(world.app)) == before
    # the rebuilt views keep following the log
    world.act(RECIPIENT, "delivery.assign", {"document": ex.c, "lead_unit": "Phòng Nội vụ"})
    fresh = caught_up(world)
    assert [r["state"] for r in inbox(fresh, ex, unit="Phòng Nội vụ")] == ["assigned"]
    assert check(world.app)[1] == []


def test_check_reports_identical_then_the_corrupted_table(world: World, ex: Exchange) -> None:
    store = caught_up(world)
    position, differences = check(world.app)
    assert (position, differences) == (world.event_count(), [])
    assert store.position() == position

    raw_sql(world.settings, "UPDATE {p}v_deliveries SET state = 'completed' "
            "WHERE document_id = ? AND recipient = ?", (ex.c, RECIPIENT))
    position, differences = check(world.app)
    assert [d.table for d in differences] == ["v_deliveries"]
    assert differences[0].live_rows == differences[0].rebuilt_rows
    assert "completed" in differences[0].first and ex.c in differences[0].first

    raw_sql(world.settings, "DELETE FROM {p}v_register WHERE agency = ? AND number = 2",
            (RECIPIENT,))
    differences = check(world.app)[1]
    assert [d.table for d in differences] == ["v_deliveries", "v_register"]
    register = differences[1]
    assert register.live_rows == register.rebuilt_rows - 1

    rebuild(world.app)  # repairs both
    assert check(world.app)[1] == []
    assert [r["number"] for r in queries.register(store, RECIPIENT, "incoming", ex.t0.year)] == [
        1, 2, 3]


def test_rebuild_switch_while_a_follower_is_mid_batch_loses_no_row(
        world: World, ex: Exchange, monkeypatch: pytest.MonkeyPatch) -> None:
    live = caught_up(world)
    follower = ViewWorker(world.app, live)
    gate, waiting = threading.Event(), threading.Event()
    original_apply = live.apply

    def apply_later(ops: list[object], notification_id: int, **kw: object) -> None:
        waiting.set()  # the follower has read its position and selected its batch
        assert gate.wait(10)
        live.apply = original_apply  # type: ignore[method-assign]
        original_apply(ops, notification_id, **kw)  # type: ignore[arg-type]

    original_switch = ViewStore.replace_live

    def switch(shadow: ViewStore) -> None:
        # new events arrive after the shadow's last catch-up; the follower applies them
        world.act(RECIPIENT, "delivery.assign", {"document": ex.c, "lead_unit": "Phòng Nội vụ"})
        follower.catch_up()
        # more arrive; the follower starts its next batch just as the switch happens
        world.act(RECIPIENT, "delivery.progress", {"document": ex.c, "note": "đang xử lý"})
        live.apply = apply_later  # type: ignore[method-assign]
        thread = threading.Thread(target=follower.catch_up)
        thread.start()
        assert waiting.wait(10)
        original_switch(shadow)
        gate.set()
        thread.join(10)

    monkeypatch.setattr(ViewStore, "replace_live", switch)
    rebuild(world.app)
    live.apply = original_apply  # type: ignore[method-assign]
    follower.catch_up()
    assert live.position() == world.event_count()
    rows = inbox(live, ex, unit="Phòng Nội vụ")
    assert [(r["document_id"], r["state"]) for r in rows] == [(ex.c, "in_progress")]
    assert check(world.app)[1] == []


def test_views_built_under_another_schema_are_dropped_and_rebuilt(world: World) -> None:
    """A release that changes the view tables finds old views and rebuilds them."""
    doc = world.sent()
    store = ViewStore(world.app)
    ViewWorker(world.app, store).catch_up()
    assert store.position() == world.event_count()
    prefix = store.prefix
    with store.transaction() as c:
        c.execute(f"UPDATE {prefix}view_schema SET fingerprint = 'from-an-older-release'")
    reopened = ViewStore(world.app)
    assert reopened.position() == 0
    assert reopened.query("SELECT count(*) AS n FROM {t:v_deliveries}")[0]["n"] == 0
    ViewWorker(world.app, reopened).catch_up()
    assert [r["document_id"] for r in reopened.query(
        "SELECT document_id FROM {t:v_deliveries}")] == [doc]
    assert check(world.app)[1] == []


def test_bidi_override_in_a_subject_is_shown_escaped_in_the_printed_register(
        world: World) -> None:
    """A right-to-left override in a subject would reverse what follows it on the
    printed page ("gpj.exe" read as "exe.jpg"); the register shows it as an escape."""
    from api.render import shown
    from domain.exchange.codes import register_year

    doc = send(world, (RECIPIENT,), subject="Về việc \u202egpj.exe [red]x[/]")
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    store = caught_up(world)
    year = register_year(world.app.clock())
    rows = queries.register(store, RECIPIENT, "incoming", year)
    assert rows[0]["subject"] == "Về việc \u202egpj.exe [red]x[/]"  # kept as signed
    page = queries.register_html(rows, agency=RECIPIENT, name="Sở\u202eX",
                                 direction="incoming", year=year)
    csv_text = queries.register_csv(rows, "incoming")
    for printed in (page, csv_text):
        assert "\u202e" not in printed
    assert "Về việc &lt;U+202E&gt;gpj.exe" in page and "Sở&lt;U+202E&gt;X" in page
    assert "Về việc <U+202E>gpj.exe" in csv_text
    assert shown(rows[0]["subject"]) == "Về việc <U+202E>gpj.exe \\[red]x\\[/]"


def test_formula_in_a_subject_is_text_in_the_register_csv(world: World) -> None:
    """A subject starting with '=' would run as a formula when a clerk opens the CSV
    register in a spreadsheet (CSV injection); the register writes it as text."""
    from domain.exchange.codes import register_year

    doc = send(world, (RECIPIENT,), subject='=HYPERLINK("http://x.invalid","Mở")')
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    store = caught_up(world)
    rows = queries.register(store, RECIPIENT, "incoming", register_year(world.app.clock()))
    csv_text = queries.register_csv(rows, "incoming")
    assert "'=HYPERLINK(" in csv_text and ',"=HYPERLINK' not in csv_text
