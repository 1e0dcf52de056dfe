"""``docledger bundle`` and ``docledger verify-bundle``: one document's audit bundle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from api import render
from api.cli_options import (
    DataOpt,
    DocArg,
    JsonOpt,
    KeyOpt,
    LocalOnlyServerOpt,
    ReaderOpt,
    ServerOpt,
    document_ref,
    local_only,
    open_session,
    read_bytes,
    read_json,
    read_vkey,
)
from api.cli_policy import PolicyOpt, ledger_vkey, read_policy
from domain.evidence.timestamp import iso_utc, read_certificates
from domain.verification.bundle import PdfRecheck, verify_bundle

commands = typer.Typer()


def pdf_recheck(anchor_files: list[Path]) -> PdfRecheck:
    """The re-check of a PDF beside the bundle (pyHanko: imported only when needed)."""
    from infrastructure.pdf_signatures import recheck

    anchors = [der for path in anchor_files
               for der in read_certificates(read_bytes(path, "trust anchor"))]
    return lambda report, data: recheck(report, data, anchors=anchors)


@commands.command("bundle")
def bundle_cmd(
    doc: DocArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Bundle file to write (JSON).")],
    data: DataOpt = None,
    server: ServerOpt = None,
    party: ReaderOpt = None,
    key: KeyOpt = None,
) -> None:
    """Write one document's self-contained audit bundle, for verify-bundle."""
    # over the API an agency party to it, or an auditor, may ask for it
    bundle = open_session(data, server, key).bundle(party, UUID(document_ref(doc)))
    out.write_text(json.dumps(bundle, ensure_ascii=False, indent=1) + "\n")
    receipts = len(bundle.get("gateway", []))
    render.out.print(f"wrote {out}: {len(bundle['events'])} events"
                     + (f" and {receipts} gateway receipts" if receipts else "")
                     + " with inclusion proofs against the signed checkpoint of size "
                     f"{bundle['checkpoint'].split(chr(10))[1]}")


@commands.command("verify-bundle")
def verify_bundle_cmd(
    file: Annotated[Path, typer.Argument(help="Bundle file written by 'bundle'.")],
    ledger_key: Annotated[str | None, typer.Option(
        help="The ledger's verifier key (vkey text, or a file holding it); default: the "
             "--policy's log line.")] = None,
    tsa_cert: Annotated[list[Path] | None, typer.Option(
        "--tsa-cert", help="PEM (one or more certificates) or DER file of a time-stamping "
        "authority to trust for the checkpoint's RFC 3161 time-stamp; repeatable.")] = None,
    policy_file: PolicyOpt = None,
    attachment: Annotated[list[Path] | None, typer.Option(
        "--attachment", help="A file of the document (e.g. its signed PDF), to check "
        "against the ledger's report on it: a PDF's signatures are validated again as of "
        "the report's time; repeatable.")] = None,
    trust_anchor: Annotated[list[Path] | None, typer.Option(
        "--trust-anchor", help="PEM or DER file of a CA certificate to trust for the PDFs' "
        "signatures (default: the anchors the ledger's report recorded); repeatable.")] = None,
    server: LocalOnlyServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an audit bundle offline, step by step; exit non-zero at the first problem."""
    local_only(server, "verify-bundle", "it checks the file offline, trusting only the ledger "
               "key; fetch the bundle with 'bundle --server'")
    steps: list[dict[str, object]] = []

    def report(step: int, text: str) -> None:
        steps.append({"step": step, "text": text})
        if not as_json:
            render.out.print(f"step {step}: {text}", highlight=False)

    tsa_certs = [read_bytes(path, "TSA certificate") for path in tsa_cert or []]
    policy = read_policy(policy_file)
    vkey = ledger_vkey(None if ledger_key is None else read_vkey(ledger_key), policy)
    files = {hashlib.sha256(data).hexdigest(): data for data in
             (read_bytes(path, "attachment") for path in attachment or [])}
    summary = verify_bundle(read_json(file), vkey, report, tsa_certs=tsa_certs, policy=policy,
                            attachments=files,
                            pdf_recheck=pdf_recheck(trust_anchor or []) if files else None)
    if as_json:
        render.print_json({"ok": True, "steps": steps, "summary": summary.as_dict()})
        return
    time = summary.checkpoint_time
    stamped = (f", which existed no later than {iso_utc(time.no_later_than)}, per TSA "
               f"{time.tsa}" if time else
               " (its time-stamp not checked: no --tsa-cert)" if summary.timestamp_unchecked
               else "")
    receipts = (f" and {summary.gateway_receipts} gateway receipts"
                if summary.gateway_receipts else "")
    render.out.print(f"[green]bundle verified[/]: {summary.events} events{receipts} of "
                     f"document {summary.reference} against checkpoint of size "
                     f"{summary.checkpoint_size}{stamped}", highlight=False)
