"""``docledger`` commands that audit: a document's history, the whole store, and
the Merkle log's checkpoints, receipts and proofs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api import render
from api.cli_options import (
    DataOpt,
    DocArg,
    JsonOpt,
    KeyOpt,
    LocalOnlyServerOpt,
    ReaderOpt,
    ServerOpt,
    checkpoint_size,
    document_ref,
    local_only,
    open_service,
    open_session,
    read_json,
    read_vkey,
    settings_for,
)
from api.cli_policy import PolicyOpt, describe, ledger_vkey, read_policy
from domain import errors
from domain.errors import InvalidInputError
from domain.evidence.checkpoint import Checkpoint, NoteKey, split_note
from domain.evidence.policy import Policy
from infrastructure.keyfiles import load_public_key
from infrastructure.ledger import open_ledger, remembered_notes, run_audit, trust_anchors
from infrastructure.store_faults import store_faults_as_errors

commands = typer.Typer()


@commands.command()
def history(doc: DocArg, data: DataOpt = None, server: ServerOpt = None,
            party: ReaderOpt = None, key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Every event of a document and its deliveries, in order, signatures verified."""
    session = open_session(data, server, key)
    render.print_history(session.history(party, UUID(document_ref(doc))), as_json=as_json)


@commands.command()
def audit(
    data: DataOpt = None,
    registrar_key: Annotated[Path | None, typer.Option(
        help="Registrar public key to trust (default: the data folder's).")] = None,
    ledger_key: Annotated[Path | None, typer.Option(
        help="Ledger public key to trust (default: the data folder's).")] = None,
    trusted: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", help="A signed checkpoint you saved earlier (repeatable).")] = None,
    no_remembered: Annotated[bool, typer.Option(
        "--no-remembered", help="Do not check the checkpoint the ledger remembers beside "
                                "its key (keys/ledger.checkpoint).")] = False,
    policy_file: PolicyOpt = None,
    server: LocalOnlyServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-read the whole store: verify every signature, replay every command,
    rebuild the Merkle tree and check it against every signed checkpoint.

    Exit 0 when all holds; otherwise exit 1 naming the first bad event; 8 when
    it could not finish (the store failed under it): no verdict either way.
    """
    local_only(server, "audit", "it re-reads the store itself; over the API check documents "
               "with 'bundle --server' and the log with 'prove-consistency --server'")
    try:
        with store_faults_as_errors():
            _audit(data, registrar_key, ledger_key, trusted, no_remembered, as_json,
                   read_policy(policy_file))
    except errors.StoreUnavailableError as exc:
        raise errors.AuditIncompleteError(f"the audit could not finish: {exc}") from None


def _audit(data: Path | None, registrar_key: Path | None, ledger_key: Path | None,
           trusted: list[Path] | None, no_remembered: bool, as_json: bool,
           policy: Policy | None = None) -> None:
    settings = settings_for(data)
    # the ledger alone, not a session: a session reads the genesis, which may be
    # what the audit has to report as damaged
    ledger_app = open_ledger(settings)
    registrar, ledger = trust_anchors(settings)
    if registrar_key is not None:
        registrar = load_public_key(registrar_key)
    if ledger_key is not None:
        ledger = load_public_key(ledger_key)
    notes = [p.read_text() for p in trusted or []]
    if policy is not None:  # each checkpoint you saved must carry the quorum's cosignatures
        for path, note in zip(trusted or [], notes, strict=True):
            origin = Checkpoint.parse(split_note(note)[0]).origin
            verdict = policy.check(note, None if policy.logs else
                                   NoteKey.from_public_key(origin, ledger))
            if not as_json:
                render.out.print(f"{path}: {describe(verdict)}", highlight=False)
    if not no_remembered:
        notes += remembered_notes(settings)
    total = ledger_app.recorder.max_notification_id() or 0
    with Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(),
                  console=render.err, disable=as_json, transient=True) as bar:
        task = bar.add_task("audit", total=total)
        report = run_audit(ledger_app, registrar_key=registrar, ledger_key=ledger,
                           trusted_checkpoints=notes,
                           progress=lambda n: bar.advance(task, n))
    if as_json:
        render.print_json({"ok": True, **report.__dict__, "verdict": report.verdict})
    else:
        render.print_audit(report)


# ---- the Merkle log ------------------------------------------------------------------


@commands.command()
def checkpoint(
    vkey: Annotated[bool, typer.Option("--vkey", help="Print the ledger's verifier key.")] = False,
    issue: Annotated[bool, typer.Option(help="Sign a new checkpoint now if the log grew.")] = False,
    data: DataOpt = None,
    server: ServerOpt = None,
) -> None:
    """Print the latest signed checkpoint, exactly the C2SP signed-note text."""
    session = open_session(data, server, need_key=False)
    if issue:
        session.issue_checkpoint()
    sys.stdout.write(session.verifier_key() if vkey else session.checkpoint())


@commands.command("receipt")
def receipt_cmd(command_id: str, data: DataOpt = None, server: LocalOnlyServerOpt = None) -> None:
    """Print the ledger-signed receipt of an accepted command (JSON, DSSE)."""
    local_only(server, "receipt", "the server returns each command's receipt when it is "
               "accepted (add --json to the command)")
    service = open_service(data)
    service.log.catch_up()
    render.print_json(service.receipt(service.app.outcome_of(command_id)))


@commands.command("prove-inclusion")
def prove_inclusion(
    leaf_hash: Annotated[str | None, typer.Option(help="Leaf hash (hex) from a receipt.")] = None,
    notification: Annotated[int | None, typer.Option(help="Notification id.")] = None,
    data: DataOpt = None,
    server: ServerOpt = None,
) -> None:
    """Inclusion proof of one event against the latest signed checkpoint (JSON)."""
    if (leaf_hash is None) == (notification is None):
        raise InvalidInputError("give exactly one of --leaf-hash and --notification")
    session = open_session(data, server, need_key=False)
    render.print_json(session.inclusion_proof(leaf_hash=leaf_hash, notification=notification))


@commands.command("prove-consistency")
def prove_consistency(
    old: Annotated[str, typer.Argument(
        help="The older checkpoint: its tree size, or its note file.")],
    new: Annotated[str | None, typer.Argument(
        help="The newer checkpoint: its tree size, or its note file (default: the latest "
             "signed checkpoint, the one 'checkpoint' prints).")] = None,
    data: DataOpt = None,
    server: ServerOpt = None,
) -> None:
    """Consistency proof between two checkpoints (JSON), for verify-consistency."""
    old_size = checkpoint_size(old)
    new_size = None if new is None else checkpoint_size(new)
    session = open_session(data, server, need_key=False)
    render.print_json(session.consistency_proof(old_size, new_size))


@commands.command("verify-consistency")
def verify_consistency_cmd(
    old: Annotated[Path, typer.Argument(help="The older signed checkpoint (note file).")],
    new: Annotated[Path, typer.Argument(help="The newer signed checkpoint (note file).")],
    proof: Annotated[Path, typer.Option(help="JSON from prove-consistency.")],
    ledger_key: Annotated[str | None, typer.Option(
        help="The ledger's verifier key (vkey text, or a file holding it); default: the "
             "--policy's log line.")] = None,
    policy_file: PolicyOpt = None,
    server: LocalOnlyServerOpt = None,
) -> None:
    """Check offline that NEW extends OLD: both signed, and the proof links them (and,
    with --policy, that NEW carries the cosignatures its quorum needs)."""
    local_only(server, "verify-consistency", "it checks files offline, trusting only the "
               "ledger key; fetch them with 'checkpoint --server' and 'prove-consistency "
               "--server'")
    from domain.evidence.consistency import check_consistency

    policy = read_policy(policy_file)
    vkey = ledger_vkey(None if ledger_key is None else read_vkey(ledger_key), policy)
    outcome = check_consistency(old.read_text(), new.read_text(), read_json(proof), vkey)
    if policy is not None:  # OLD is the one you kept: you trust it already
        outcome += "; " + describe(policy.check(new.read_text(), NoteKey.parse(vkey)))
    render.out.print(f"[green]consistent[/]: {outcome}", highlight=False)

