"""``docledger demo``: a provincial department exchanges documents with districts
and communes; they accept, refuse, assign and complete; one recall, one
duplicate refused; the department signs its plan, a real PDF, with a certificate
from a demo CA the registrar trusts, and the recipients' acceptances stamp the
incoming number on a copy (api/demo_cert.py); an edXML document from a ministry
reached through the axis comes in and its statuses go back out (api/demo_axis.py);
then the whole ledger is audited.

Makes a new ledger with development keys. On a folder that already holds a
ledger it refuses, unless that ledger was made by the demo and ``--again`` asks for
another round of documents in it (a real ledger is never filled with demo data).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.table import Table

from api.http.container import DEVELOPMENT_MARKER
from api.render import out, print_audit
from api.sending import send_document
from api.session import LocalSession
from domain.errors import DocLedgerError, DuplicateError
from domain.evidence.keys import Ed25519Signer
from domain.exchange.agency import Agency
from domain.exchange.codes import VIETNAM_TIME
from domain.exchange.delivery import Delivery
from infrastructure.keyfiles import write_key_pair
from infrastructure.ledger import (
    init_ledger,
    open_ledger,
    remembered_notes,
    run_audit,
    trust_anchors,
)
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from infrastructure.views import queries

if TYPE_CHECKING:
    from api.demo_cert import CertifiedSender

DEPARTMENT = "000.22.31.H29"
DISTRICT_EAST = "000.01.31.H29"
DISTRICT_WEST = "000.02.31.H29"
COMMUNE_AN_PHU = "001.01.31.H29"
COMMUNE_BINH_MINH = "002.02.31.H29"

AGENCIES = {
    DEPARTMENT: "Sở Nội vụ tỉnh Bình An",
    DISTRICT_EAST: "UBND huyện Đông Sơn",
    DISTRICT_WEST: "UBND huyện Tây Hòa",
    COMMUNE_AN_PHU: "UBND xã An Phú",
    COMMUNE_BINH_MINH: "UBND xã Bình Minh",
}


def run_demo(settings: Settings, *, again: bool = False) -> None:
    keys = settings.data / "keys"
    fresh = not (keys / "ledger.key").exists()
    if not fresh:
        check_may_add_round(settings, again)
    app = init_ledger(settings) if fresh else open_ledger(settings)
    if fresh:
        (keys / DEVELOPMENT_MARKER).write_text("keys made by 'docledger demo'\n")
    service = bootstrap(settings, app=app)
    out.rule("docledger demo")
    out.print(f"ledger {'created' if fresh else 'reopened'} in {settings.data} "
              f"({settings.backend})")
    register_agencies(service)
    from api.demo_cert import certified_sender  # pyHanko and X.509, loaded when needed

    sender = certified_sender(service, DEPARTMENT, AGENCIES[DEPARTMENT])
    round_id = secrets.token_hex(3)
    plan = send_plan(service, round_id, sender)
    handle_plan(service, plan)
    recall_round(service, round_id)
    refuse_duplicate(service, plan["document_id"])
    from api.demo_axis import axis_round  # the edXML stack, loaded when the demo needs it

    axis_round(service, COMMUNE_BINH_MINH, AGENCIES[COMMUNE_BINH_MINH], round_id)
    show_statuses(service, [plan["document"]])
    show_views(service)
    checkpoint = service.log.issue_checkpoint(force=True)
    if checkpoint is not None:
        out.print(f"\nsigned checkpoint: {checkpoint.size} events, "
                  f"root {checkpoint.root.hex()[:16]}…")
    published = service.log.publish()  # with witnesses: once a quorum cosigned it
    if service.log.publisher.witnesses:
        out.print("published checkpoint: " + ("none yet" if published is None else
                                               f"{published.size} events, cosigned"))
    audit(service, settings)
    out.print(f"see one document's signed history: "
              f"docledger history {plan['document']} --data {settings.data}")


def check_may_add_round(settings: Settings, again: bool) -> None:
    """A second demo in one folder adds to that ledger only when asked, and only to a
    ledger an earlier demo made."""
    if not (settings.data / "keys" / DEVELOPMENT_MARKER).exists():
        raise DuplicateError(
            f"{settings.data} holds a ledger the demo did not make; the demo never writes "
            "into it: give --data with a new folder")
    if not again:
        raise DuplicateError(
            f"{settings.data} already holds a demo ledger: add --again to add another round "
            "of documents to it, or give --data with a new folder for a fresh one")


def register_agencies(service: LedgerService) -> None:
    for code, name in AGENCIES.items():
        if service.app.find(Agency, Agency.id_for(code)) is not None:
            continue
        signer = Ed25519Signer.generate()
        write_key_pair(signer, service.folder.agency_key(code))
        service.act("registrar", "agency.register",
                    {"code": code, "name": name, "keys": [signer.public_key.to_spec()]},
                    staff="registrar")
        out.print(f"registered {code} {name} (key {signer.keyid[:12]}…)")


def header(notation: str, type_name: str, subject: str, priority: int,
           due_in_days: int) -> dict[str, Any]:
    return {
        "code_notation": notation,
        "document_type": {"type": 2, "type_name": type_name},
        "subject": subject,
        "promulgation_place": "Bình An",
        "promulgation_date": date.today().isoformat(),
        "signer": {"competence": "KT. GIÁM ĐỐC", "position": "Phó Giám đốc",
                   "full_name": "Nguyễn Văn B"},
        "priority": priority,
        "due_date": (date.today() + timedelta(days=due_in_days)).isoformat(),
    }


def send_plan(service: LedgerService, round_id: str,
              sender: CertifiedSender) -> dict[str, Any]:
    """The plan, a PDF signed with the department's certificate, sent with commands
    signed by that certificate's key."""
    from api.demo_cert import document_lines, signed_pdf

    plan = header("KH-SNV", "Kế hoạch",
                  "Kế hoạch triển khai chuyển đổi số trong cơ quan hành chính năm 2027",
                  priority=1, due_in_days=14)
    attachment = service.settings.data / "demo-attachments" / "ke-hoach-chuyen-doi-so.pdf"
    attachment.parent.mkdir(parents=True, exist_ok=True)
    attachment.write_bytes(signed_pdf(sender, document_lines(AGENCIES[DEPARTMENT], plan)))
    result = send_document(
        LocalSession(service), DEPARTMENT,
        [DISTRICT_EAST, DISTRICT_WEST, COMMUNE_AN_PHU, COMMUNE_BINH_MINH], plan,
        attachments=[attachment], key=sender.key_file,
        document_id=f"{DEPARTMENT},{date.today():%Y/%m/%d},plan-{round_id}",
    )
    out.print(f"\n[bold]{AGENCIES[DEPARTMENT]}[/] sent {result['reference']} (urgent, a PDF "
              f"signed with its certificate, the commands signed with the certificate's "
              f"key) to 4 agencies → 01 arrived at each")
    service.view_worker.catch_up()  # with PostgreSQL a worker would; the demo does it here
    for report in queries.pdf_reports(service.views, result["document"]):
        for line in report["lines"]:
            out.print(f"  the ledger's report on the PDF: {line}", highlight=False)
    return result


def step(service: LedgerService, actor: str, type: str, fields: dict[str, Any], say: str,
         staff: str = "văn thư") -> None:
    outcome = service.act(actor, type, fields, staff=staff)
    number = outcome.result.get("incoming_number")
    suffix = f" (incoming no. {number})" if number else ""
    out.print(f"  {AGENCIES[actor]}: {say}{suffix}")


def handle_plan(service: LedgerService, plan: dict[str, Any]) -> None:
    doc = {"document": plan["document"]}
    step(service, DISTRICT_EAST, "delivery.accept", doc, "03 accepted and registered")
    show_stamps(service, plan["document"], DISTRICT_EAST)
    step(service, DISTRICT_EAST, "delivery.assign",
         {**doc, "lead_unit": "Phòng Nội vụ", "officer": "Lê Văn D",
          "instructions": "Tham mưu triển khai, báo cáo trước hạn",
          "due_date": (date.today() + timedelta(days=10)).isoformat()},
         "04 assigned to Phòng Nội vụ", staff="Chủ tịch UBND huyện")
    step(service, DISTRICT_EAST, "delivery.progress", {**doc, "note": "Đang xây dựng kế hoạch"},
         "05 in progress", staff="Lê Văn D")
    step(service, DISTRICT_EAST, "delivery.complete", {**doc, "note": "Đã ban hành kế hoạch"},
         "06 completed", staff="Lê Văn D")
    step(service, DISTRICT_WEST, "delivery.accept", doc, "03 accepted and registered")
    step(service, DISTRICT_WEST, "delivery.assign",
         {**doc, "lead_unit": "Văn phòng HĐND-UBND", "instructions": "Xử lý theo quy định"},
         "04 assigned to Văn phòng HĐND-UBND", staff="Chủ tịch UBND huyện")
    step(service, COMMUNE_AN_PHU, "delivery.refuse",
         {**doc, "reason": "Gửi nhầm nơi nhận: văn bản dành cho cấp huyện"},
         "02 refused (wrong addressee)")
    step(service, COMMUNE_BINH_MINH, "delivery.accept", doc, "03 accepted and registered")
    step(service, COMMUNE_BINH_MINH, "delivery.assign",
         {**doc, "lead_unit": "Công chức Văn phòng - Thống kê"}, "04 assigned",
         staff="Chủ tịch UBND xã")
    step(service, COMMUNE_BINH_MINH, "delivery.complete", {**doc, "note": "Đã triển khai"},
         "06 completed", staff="Công chức Văn phòng - Thống kê")


def show_stamps(service: LedgerService, document: str, recipient: str) -> None:
    """The copies of the PDFs the recipient's acceptance stamped ("dấu đến")."""
    from uuid import UUID

    delivery = service.app.find(Delivery, Delivery.id_for(UUID(document), recipient))
    assert delivery is not None
    for copy in delivery.stamped.values():
        out.print(f"  {AGENCIES[recipient]}: dấu đến (incoming no. "
                  f"{delivery.incoming_number}) stamped on a copy, {copy['name']}; the "
                  "signed original is untouched", highlight=False)


def recall_round(service: LedgerService, round_id: str) -> None:
    notice = send_document(
        LocalSession(service), DEPARTMENT, [DISTRICT_EAST, DISTRICT_WEST],
        header("CV-SNV", "Công văn", "Về việc báo cáo số liệu cán bộ, công chức quý IV",
               priority=0, due_in_days=7),
        document_id=f"{DEPARTMENT},{date.today():%Y/%m/%d},report-{round_id}",
    )
    out.print(f"\n[bold]{AGENCIES[DEPARTMENT]}[/] sent {notice['reference']} to 2 districts")
    doc = {"document": notice["document"]}
    step(service, DISTRICT_WEST, "delivery.accept", doc, "03 accepted and registered")
    service.act(DEPARTMENT, "delivery.recall",
                {**doc, "reason": "Sai số liệu mẫu biểu, sẽ ban hành văn bản thay thế"})
    out.print(f"  {AGENCIES[DEPARTMENT]}: 13 asks both districts to give it back")
    step(service, DISTRICT_EAST, "delivery.answer_recall",
         {**doc, "agree": True, "reason": "Đồng ý thu hồi"}, "15 agrees: delivery cancelled")
    step(service, DISTRICT_WEST, "delivery.answer_recall",
         {**doc, "agree": False, "reason": "Đã vào sổ và đang xử lý"},
         "16 refuses: keeps its registered copy")
    show_statuses(service, [notice["document"]])


def refuse_duplicate(service: LedgerService, document_id: str) -> None:
    out.print(f"\n{AGENCIES[DEPARTMENT]} tries to create {document_id!r} again:")
    try:
        service.act(DEPARTMENT, "document.create", {
            "document_id": document_id,
            "header": header("KH-SNV", "Kế hoạch", "Bản trùng", priority=0, due_in_days=1),
        })
    except DocLedgerError as exc:
        out.print(f"  [yellow]refused[/] ({exc.code}): {exc}", highlight=False)
    else:
        raise AssertionError("the ledger accepted a duplicate document")


def show_statuses(service: LedgerService, documents: list[str]) -> None:
    from uuid import UUID

    table = Table(show_header=True)
    for column in ("document", "recipient", "state", "incoming no."):
        table.add_column(column)
    for doc in documents:
        for code in AGENCIES:
            delivery = service.app.find(Delivery, Delivery.id_for(UUID(doc), code))
            if delivery is None:
                continue
            table.add_row(delivery.reference, f"{code} {AGENCIES[code]}",
                          delivery.state.value if delivery.state else "",
                          str(delivery.incoming_number or ""))
    out.print(table)


def show_views(service: LedgerService) -> None:
    """What the clerks see: an inbox and the figures an agency publishes."""
    service.view_worker.catch_up()  # with PostgreSQL a worker would; the demo does it here
    views = service.views
    today = datetime.now(VIETNAM_TIME).date()
    rows = queries.inbox(views, queries.InboxQuery(agency=DISTRICT_WEST), today)
    out.print(f"\nInbox of {AGENCIES[DISTRICT_WEST]} (most urgent first): " + "; ".join(
        f"{r['reference']} {r['status_code']} {r['state']}" for r in rows))
    figures = queries.statistics(views, DISTRICT_EAST, today.replace(month=1, day=1), today,
                                 today)
    out.print(f"{AGENCIES[DISTRICT_EAST]} this year: {figures['received']} received, "
              f"{figures['completed']} completed, {figures['refused']} refused, "
              f"on-time rate {figures['on_time_rate']}%")


def audit(service: LedgerService, settings: Settings) -> None:
    registrar, ledger = trust_anchors(settings)
    # anchored, as 'docledger audit' is, by the checkpoint the ledger remembers
    report = run_audit(service.app, registrar_key=registrar, ledger_key=ledger,
                       trusted_checkpoints=remembered_notes(settings))
    out.print()
    print_audit(report)
