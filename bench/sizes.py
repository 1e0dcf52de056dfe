"""What the ledger stores: events per document, bytes per event, tiles (docs/scale.md).

On PostgreSQL, in a fresh schema: a generated history (bench.generate: documents
to 1–5 recipients, every status), then documents with one known life each, whose
events are counted exactly; the Merkle log caught up and a checkpoint signed, the
views filled, the tiles exported. Prints the events of each kind of exchange and,
per stored event, the bytes of every table of the schema with its indexes.

    DOCLEDGER_BACKEND=postgres python -m bench.sizes --documents 300
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from bench.generate import fill
from bench.scratch import scratch_settings
from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger
from infrastructure.service import bootstrap
from infrastructure.settings import Settings
from infrastructure.tiles import export_tiles

HEADER = {"code_notation": "CV-UBND", "document_type": {"type": 1, "type_name": "Công văn"},
          "subject": "Về việc triển khai kế hoạch năm", "promulgation_place": "Bình An",
          "promulgation_date": date.today().isoformat(),
          "signer": {"full_name": "Nguyễn Văn B", "position": "Chủ tịch"}}


def exchanges(app: DocLedger, keys: dict[str, Ed25519Signer]) -> list[tuple[str, int, int]]:
    """(kind of exchange, commands, events) of one document of each kind."""
    codes = sorted(keys)
    made = [0]

    def act(agency: str, type: str, fields: dict[str, Any]) -> dict[str, Any]:
        made[0] += 1
        return app.execute(sign_command(keys[agency], type, fields, agency=agency,
                                        staff="văn thư")).result

    def sent(recipients: list[str]) -> str:
        doc = str(act(codes[0], "document.create", {
            "document_id": f"{codes[0]},sizes-{made[0]}", "header": HEADER})["document"])
        act(codes[0], "document.sign", {"document": doc, "signer": {"full_name": "Nguyễn Văn B"}})
        act(codes[0], "document.issue", {"document": doc})
        act(codes[0], "document.send", {"document": doc, "recipients": recipients})
        return doc

    def handled(recipients: list[str]) -> None:
        doc = sent(recipients)
        for r in recipients:
            act(r, "delivery.accept", {"document": doc})
            act(r, "delivery.assign", {"document": doc, "lead_unit": "Phòng Nội vụ"})
            act(r, "delivery.progress", {"document": doc, "note": "đang xử lý"})
            act(r, "delivery.complete", {"document": doc, "note": "xong"})

    def refused(recipients: list[str]) -> None:
        doc = sent(recipients)
        act(recipients[0], "delivery.refuse", {"document": doc, "reason": "gửi nhầm"})

    def recalled(recipients: list[str]) -> None:
        doc = sent(recipients)
        act(recipients[0], "delivery.accept", {"document": doc})
        act(codes[0], "delivery.recall", {"document": doc, "recipients": recipients,
                                          "reason": "sai sót"})
        act(recipients[0], "delivery.answer_recall", {"document": doc, "agree": True,
                                                      "reason": "đã xem"})

    kinds: list[tuple[str, Callable[[list[str]], object], list[str]]] = [
        ("sent to 1 recipient, not yet handled", sent, codes[1:2]),
        ("sent to 1, accepted, assigned, in progress, completed", handled, codes[1:2]),
        ("sent to 5, each accepted, assigned, in progress, completed", handled, codes[1:6]),
        ("sent to 20, each accepted, assigned, in progress, completed", handled, codes[1:21]),
        ("sent to 1, refused by the recipient", refused, codes[1:2]),
        ("sent to 1, accepted, recalled with the recipient's agreement", recalled, codes[1:2]),
    ]
    out = []
    for name, life, recipients in kinds:
        before, commands = app.recorder.max_notification_id() or 0, made[0]
        life(recipients)
        out.append((name, made[0] - commands, (app.recorder.max_notification_id() or 0) - before))
    return out


def table_sizes(settings: Settings) -> list[tuple[str, int, int, int]]:
    """(table, rows, heap + TOAST bytes, index bytes) of every table of the schema."""
    with psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                         password=settings.pg_password.get_secret_value(),
                         dbname=settings.pg_db, autocommit=True) as conn:
        conn.execute('ANALYZE')
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            (settings.pg_schema,))]
        out = []
        for name in names:
            qualified = f'"{settings.pg_schema}"."{name}"'
            rows = conn.execute(f"SELECT count(*) FROM {qualified}").fetchone()
            sizes = conn.execute("SELECT pg_table_size(%s::regclass), "
                                 "pg_indexes_size(%s::regclass)",
                                 (qualified, qualified)).fetchone()
            assert rows is not None and sizes is not None
            out.append((name, int(rows[0]), int(sizes[0]), int(sizes[1])))
        return out


def event_columns(settings: Settings) -> tuple[float, float, float, float]:
    """Average bytes of an event's state, topic, whole row (pg_column_size), and of
    the state of a command record."""
    with psycopg.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                         password=settings.pg_password.get_secret_value(),
                         dbname=settings.pg_db) as conn:
        row = conn.execute(
            "SELECT avg(octet_length(state)), avg(octet_length(topic)), "
            "avg(pg_column_size(e.*)), avg(octet_length(state)) FILTER (WHERE topic LIKE "
            f"'domain.command_log:%%') FROM \"{settings.pg_schema}\".docledger_events e"
        ).fetchone()
    assert row is not None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=300)
    args = parser.parse_args()
    settings = scratch_settings("bench-sizes-")
    if settings.backend != "postgres":
        sys.exit("bench.sizes measures PostgreSQL's tables: DOCLEDGER_BACKEND=postgres")

    gen = fill(settings, documents=args.documents, agencies=60)
    generated = gen.app.recorder.max_notification_id() or 0
    print(f"generated history: {args.documents:,} documents, {gen.commands:,} commands, "
          f"{generated:,} events ({generated / args.documents:.1f} events a document, "
          f"{generated / gen.commands:.2f} a command, registrations included)")
    print("\nevents of one document, by kind of exchange (commands, events):")
    for name, commands, events in exchanges(gen.app, gen.keys):
        print(f"  {name}: {commands} commands, {events} events")

    service = bootstrap(settings, app=gen.app)
    service.log.issue_checkpoint(force=True)  # catches the Merkle log up first
    service.view_worker.catch_up()
    events = gen.app.recorder.max_notification_id() or 0
    state, topic, row, record = event_columns(settings)
    print(f"\n{events:,} events stored; average state {state:,.0f} B (command records "
          f"{record:,.0f} B), topic {topic:.0f} B, whole row {row:,.0f} B")
    print(f"{'table':28} {'rows':>9} {'table B':>12} {'index B':>12} {'B/event':>9}")
    total = 0
    for name, rows, heap, index in table_sizes(settings):
        total += heap + index
        print(f"{name:28} {rows:9,} {heap:12,} {index:12,} {(heap + index) / events:9,.0f}")
    print(f"all tables with their indexes: {total:,} B = {total / events:,.0f} B per event")

    with tempfile.TemporaryDirectory() as directory:
        old, size, written = export_tiles(service, Path(directory))
        files = [p for p in Path(directory).rglob("*") if p.is_file()]
        hashes = [p for p in files if "/tile/entries/" not in str(p) and p.name != "checkpoint"]
        entries = [p for p in files if "/tile/entries/" in str(p)]
        full = [p for p in entries if p.parent.name != "entries" or "." not in p.name]
        entry_bytes = sum(p.stat().st_size for p in entries)
        bundle = max((p.stat().st_size for p in full), default=0)
        print(f"\ntiles of {size:,} leaves: {len(hashes)} hash tiles "
              f"{sum(p.stat().st_size for p in hashes):,} B, {len(entries)} entry bundles "
              f"{entry_bytes:,} B = {entry_bytes / size:,.0f} B per leaf; "
              f"a full entry bundle (256 leaves) {bundle:,} B")
    service.close()


if __name__ == "__main__":
    main()
