"""``docledger`` commands of the exchange: sending a document and handling its
deliveries, each a signed command."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated

import typer

from api import render
from api.cli_options import (
    AsOpt,
    AttachOpt,
    DataOpt,
    DocArg,
    JsonOpt,
    KeyOpt,
    ServerOpt,
    StaffOpt,
    act,
    document_ref,
    open_session,
    print_outcome,
)
from api.sending import send_document, upload_files

commands = typer.Typer()


@commands.command()
def send(
    sender: AsOpt,
    to: Annotated[list[str], typer.Option("--to", help="Recipient agency code (repeatable).")],
    subject: Annotated[str, typer.Option(help="Summary (trích yếu), at most 500 characters.")],
    notation: Annotated[str, typer.Option(help="Code notation, e.g. QĐ-UBND.")],
    type_name: Annotated[str, typer.Option(help="Document type name.")] = "Công văn",
    type_code: Annotated[int, typer.Option(help="Document type code.")] = 1,
    place: Annotated[str, typer.Option(help="Promulgation place.")] = "Hà Nội",
    signer: Annotated[str, typer.Option(help="Signer's full name.")] = "Người ký",
    position: Annotated[str, typer.Option(help="Signer's position.")] = "",
    priority: Annotated[int, typer.Option(help="0 normal … 4 express with set time.")] = 0,
    due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
    attach: AttachOpt = None,
    document_id: Annotated[str | None, typer.Option(help="Sender-unique document id.")] = None,
    key: KeyOpt = None,
    staff: StaffOpt = "văn thư",
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create, sign, issue (numbered) and send a document to its recipients; print its id.

    With --server the attachments are uploaded (PUT /v1/attachments/SHA256) first.
    """
    session = open_session(data, server, key)
    header = {
        "code_notation": notation,
        "document_type": {"type": type_code, "type_name": type_name},
        "subject": subject,
        "promulgation_place": place,
        "promulgation_date": date.today().isoformat(),
        "signer": {"full_name": signer, "position": position},
        "priority": priority,
        "due_date": due,
    }
    result = send_document(
        session, sender, list(to), header, attachments=list(attach or []),
        document_id=document_id, key=key, staff=staff,
    )
    if as_json:
        render.print_json(result)
    else:  # the id alone on stdout, so that DOC=$(docledger send …) works
        render.err.print(
            f"[green]sent[/] {result['reference']} as document {result['document']} "
            f"to {', '.join(to)}"
        )
        sys.stdout.write(f"{result['document']}\n")


@commands.command()
def revise(
    doc: DocArg,
    sender: AsOpt,
    reason: Annotated[str, typer.Option(help="Why the document is revised.")],
    replace: Annotated[bool, typer.Option(
        "--replace/--update", help="Replace the document (3) or update it (2).")] = False,
    attach: AttachOpt = None,
    add: Annotated[list[str] | None, typer.Option(
        "--add-recipient", help="Agency to send it to as well (repeatable).")] = None,
    remove: Annotated[list[str] | None, typer.Option(
        "--remove-recipient", help="Recipient to take it from (repeatable).")] = None,
    key: KeyOpt = None,
    staff: StaffOpt = "văn thư",
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Update (2) or replace (3) a sent document: new attachments (they replace the
    old ones), recipients added or removed, or both; the live recipients are told.

    Without --attach the document's files stay as they are.
    """
    session = open_session(data, server, key)
    fields = {
        "document": document_ref(doc),
        "business_type": 3 if replace else 2,
        "attachments": upload_files(session, sender, list(attach)) if attach else None,
        "reason": reason,
        "add_recipients": list(add or []),
        "remove_recipients": list(remove or []),
    }
    outcome = session.act(sender, "document.revise", fields, key=key, staff=staff)
    print_outcome(session, outcome, as_json)


# ---- handling a delivery ----------------------------------------------------------


@commands.command()
def accept(doc: DocArg, actor: AsOpt, key: KeyOpt = None, staff: StaffOpt = "văn thư",
           data: DataOpt = None, server: ServerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Accept a delivery (03): register it with the next incoming number."""
    act(data, actor, "delivery.accept", {"document": document_ref(doc)}, key, staff, as_json,
         server)


@commands.command()
def refuse(doc: DocArg, actor: AsOpt,
           reason: Annotated[str, typer.Option(help="Why it is refused.")],
           key: KeyOpt = None, staff: StaffOpt = "văn thư",
           data: DataOpt = None, server: ServerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Refuse a delivery (02) with a reason."""
    act(data, actor, "delivery.refuse", {"document": document_ref(doc), "reason": reason},
         key, staff, as_json, server)


@commands.command()
def assign(doc: DocArg, actor: AsOpt,
           unit: Annotated[str, typer.Option(help="Lead handling unit.")],
           officer: Annotated[str | None, typer.Option(help="Handling officer.")] = None,
           co_unit: Annotated[list[str] | None, typer.Option(help="Co-handling unit.")] = None,
           instructions: Annotated[str, typer.Option(help="Leader's instructions.")] = "",
           due: Annotated[str | None, typer.Option(help="Deadline, YYYY-MM-DD.")] = None,
           key: KeyOpt = None, staff: StaffOpt = "lãnh đạo",
           data: DataOpt = None, server: ServerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Assign a delivery (04) to a handling unit or officer with a deadline."""
    fields = {"document": document_ref(doc), "lead_unit": unit, "officer": officer,
              "co_units": list(co_unit or []), "instructions": instructions, "due_date": due}
    act(data, actor, "delivery.assign", fields, key, staff, as_json, server)


@commands.command()
def progress(doc: DocArg, actor: AsOpt, note: str = "", key: KeyOpt = None,
             staff: StaffOpt = "chuyên viên", data: DataOpt = None,
             server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Report that a delivery is being processed (05)."""
    act(data, actor, "delivery.progress", {"document": document_ref(doc), "note": note},
         key, staff, as_json, server)


@commands.command()
def complete(doc: DocArg, actor: AsOpt, note: str = "", key: KeyOpt = None,
             staff: StaffOpt = "chuyên viên", data: DataOpt = None,
             server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a delivery completed (06)."""
    act(data, actor, "delivery.complete", {"document": document_ref(doc), "note": note},
         key, staff, as_json, server)


@commands.command()
def recall(doc: DocArg, actor: AsOpt,
           reason: Annotated[str, typer.Option(help="Why the sender recalls it.")],
           to: Annotated[list[str] | None, typer.Option(
               "--to", help="Recipient to recall from (repeatable; default: all).")] = None,
           key: KeyOpt = None, staff: StaffOpt = "văn thư",
           data: DataOpt = None, server: ServerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Ask recipients to give a document back (13)."""
    fields = {"document": document_ref(doc), "reason": reason,
              "recipients": list(to) if to else None}
    act(data, actor, "delivery.recall", fields, key, staff, as_json, server)


@commands.command("answer-recall")
def answer_recall(doc: DocArg, actor: AsOpt,
                  agree: Annotated[bool, typer.Option("--agree/--refuse",
                                                      help="Agree (15) or refuse (16).")],
                  reason: Annotated[str, typer.Option(help="Reason given.")],
                  key: KeyOpt = None, staff: StaffOpt = "văn thư",
                  data: DataOpt = None, server: ServerOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Answer a recall: agree (15, the delivery is cancelled) or refuse (16)."""
    fields = {"document": document_ref(doc), "agree": agree, "reason": reason}
    act(data, actor, "delivery.answer_recall", fields, key, staff, as_json, server)

