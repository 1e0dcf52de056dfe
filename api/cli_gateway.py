"""``docledger gateway …``: the notarised gateway's receipts (docs/gateway.md).

``gateway receipts --as CODE`` lists the receipts of what the axis delivered to
an agency and took from it; ``gateway prove FILE`` writes an offline proof of the
receipts of a message's exact bytes (receipt, inclusion proof, checkpoint), and
``gateway verify PROOF`` checks one, trusting only the ledger's verifier key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api import render
from api.cli_options import DataOpt, JsonOpt, open_service, read_bytes, read_json, read_vkey
from domain.exchange.codes import check_agency_code
from domain.verification.gateway import verify_gateway_proof
from infrastructure.gateway import prove

gateway_app = typer.Typer(help="Receipts of the edXML messages the axis carried: list, "
                               "prove, verify.", no_args_is_help=True)


@gateway_app.command("receipts")
def receipts(
    agency: Annotated[str, typer.Option("--as", help="The agency whose receipts to list.")],
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The receipts of the messages the axis delivered to (in) or took from (out) an agency."""
    service = open_service(data)
    try:
        rows = service.gateway_index().by_agency(check_agency_code(agency))
    finally:
        service.close()
    if as_json:
        render.print_json([{"direction": r.direction, "axis_id": r.axis_id,
                            "sha256": r.sha256, "document_id": r.document_id, "at": r.at,
                            "receipt": str(r.aggregate_id),
                            "notification_id": r.notification_id} for r in rows])
        return
    for r in rows:
        render.out.print(f"{r.at}  {r.direction:<3}  {escape(r.axis_id)}  {r.sha256}  "
                         f"{escape(r.document_id or '-')}", highlight=False)


@gateway_app.command("prove")
def prove_cmd(
    file: Annotated[Path, typer.Argument(help="The message's bytes, exactly as carried.")],
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="Proof file to write (JSON); default: standard output.")] = None,
    agency: Annotated[str | None, typer.Option(
        "--as", help="Only the receipts for this agency.")] = None,
    data: DataOpt = None,
) -> None:
    """Write an offline proof that the ledger receipted these bytes: each receipt, its
    inclusion proof and the signed checkpoint, with the bytes; for 'gateway verify'."""
    message = read_bytes(file, "message")
    code = None if agency is None else check_agency_code(agency)
    service = open_service(data)
    try:
        proof = prove(service.log, service.gateway_index(),
                      hashlib.sha256(message).hexdigest(), agency=code, data=message)
    finally:
        service.close()
    text = json.dumps(proof, ensure_ascii=False, indent=1) + "\n"
    if out is None:
        render.out.print(text, end="", highlight=False, markup=False, soft_wrap=True)
        return
    out.write_text(text)
    render.err.print(f"wrote {out}: {len(proof['receipts'])} receipt(s) against the signed "
                     f"checkpoint of size {proof['checkpoint'].split(chr(10))[1]}",
                     highlight=False)


@gateway_app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="Proof file written by 'gateway prove'.")],
    ledger_key: Annotated[str, typer.Option(
        help="The ledger's verifier key (vkey text, or a file holding it).")],
    message: Annotated[Path | None, typer.Option(
        "--bytes", help="The message's bytes, if the proof does not carry them.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a gateway proof offline: the ledger signed each receipt, the checkpoint
    covers it, and the bytes are the ones it commits to, trace headers included."""
    given = None if message is None else read_bytes(message, "message")
    statements = verify_gateway_proof(read_json(file), read_vkey(ledger_key), given)
    if as_json:
        render.print_json({"ok": True, "receipts": statements})
        return
    for s in statements:
        trace = ", ".join(f"{t['organ_id']} {t['timestamp']}" for t in s["trace"]) or "none"
        carried = (f"delivered {s['size']} bytes (sha256 {s['sha256']}) to"
                   if s["direction"] == "in" else
                   f"took {s['size']} bytes (sha256 {s['sha256']}) from")
        render.out.print(
            f"[green]receipt verified[/]: the axis {carried} {escape(s['agency'])} as "
            f"{escape(s['axis_id'])} ({s['service_type']}) at {s['at']}; DocumentId "
            f"{escape(str(s['document_id']))}; trace: {escape(trace)}", highlight=False)
