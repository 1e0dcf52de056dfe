"""The ``docledger`` command-line tool."""

from __future__ import annotations

import logging
import mimetypes
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api import render
from api.remote import RemoteSession, rows_of
from api.session import Session
from domain import errors
from domain.errors import DocLedgerError, InvalidInputError
from domain.evidence.keys import Ed25519Signer
from domain.verification.history import HistoryEntry, document_history
from infrastructure.keyfiles import load_public_key, write_key_pair
from infrastructure.ledger import (
    init_ledger,
    open_ledger,
    remembered_notes,
    run_audit,
    trust_anchors,
)
from infrastructure.settings import Settings
from infrastructure.store_faults import store_faults_as_errors

app = typer.Typer(
    help="Tamper-evident ledger for the exchange of official documents between agencies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
agency_app = typer.Typer(help="Register agencies and manage their keys.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
auditor_app = typer.Typer(help="Register auditors and manage their keys.", no_args_is_help=True)
app.add_typer(auditor_app, name="auditor")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        render.out.print(f"docledger {version('docledger')}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """Tamper-evident ledger for the exchange of official documents between agencies."""

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Data folder (default: $DOCLEDGER_DATA or ./docledger-data)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[str, typer.Option("--as", help="Acting agency code.")]
KeyOpt = Annotated[
    Path | None,
    typer.Option("--key", help="Private key file (default: the agency's key in the data folder)."),
]
RegistrarKeyOpt = Annotated[Path | None, typer.Option(
    "--key", help="Registrar private key (default: the data folder's).")]
KeyActorOpt = Annotated[str, typer.Option("--as", help="'registrar' or the agency itself.")]
StaffOpt = Annotated[str, typer.Option("--staff", help="Staff member acting.")]
ServerOpt = Annotated[str | None, typer.Option(
    "--server", help="Act on a remote ledger through its HTTP API (URL) instead of a local "
                     "data folder; sign with --key.")]
ReaderOpt = Annotated[str | None, typer.Option(
    "--as", help="With --server: who reads (an agency code or auditor/<id>).")]
# Commands that work on a local data folder or on files only take --server just to
# say why they refuse it; their help does not offer it.
LocalOnlyServerOpt = Annotated[str | None, typer.Option("--server", hidden=True)]
DocArg = Annotated[str, typer.Argument(help="Document id (as printed by 'send').")]
AttachOpt = Annotated[list[Path] | None, typer.Option(
    help="Attachment file (repeatable).", exists=True, dir_okay=False, readable=True)]

EXIT_CODES: list[tuple[type[DocLedgerError], int]] = [
    (errors.AuditFailure, 1),
    (errors.InvalidInputError, 2),
    (errors.VerificationError, 3),
    (errors.NotFoundError, 4),
    (errors.ForbiddenError, 5),
    (errors.ConflictError, 6),
    (errors.NotInitialisedError, 7),
    (errors.AuditIncompleteError, 8),
    (errors.StoreUnavailableError, 9),
]


def settings_for(data: Path | None) -> Settings:
    return Settings(data=data) if data is not None else Settings()


def session_for(data: Path | None) -> Session:
    return Session(settings_for(data))


def session_or_remote(data: Path | None, server: str | None,
                      key: Path | None) -> Session | RemoteSession:
    """The local ledger in the data folder, or the remote one at ``server``."""
    if server is None:
        return session_for(data)
    return remote_for(server, key)


def remote_for(server: str, key: Path | None = None, *, need_key: bool = True) -> RemoteSession:
    if need_key and key is None:
        raise InvalidInputError("with --server, give --key FILE: the private key of the party "
                                "acting (the data folder is not used)")
    return RemoteSession(server, key)


def local_only(server: str | None, command: str, hint: str = "") -> None:
    """Refuse --server for commands that work on a local data folder or files only."""
    if server is not None:
        raise InvalidInputError(f"'{command}' works locally only, not with --server"
                                + (f": {hint}" if hint else ""))


def reader(party: str | None, server: str) -> str:
    if party is None:
        raise InvalidInputError(f"with --server {server}, say who reads: --as CODE "
                                "(an agency code or auditor/<id>)")
    return party


def document_ref(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise InvalidInputError(f"{value!r} is not a document id") from None


# ---- setting up ----------------------------------------------------------------


@app.command()
def init(data: DataOpt = None, server: LocalOnlyServerOpt = None) -> None:
    """Create a data folder with a new ledger key and registrar key."""
    local_only(server, "init", "a ledger is initialised where it runs")
    settings = settings_for(data)
    ledger = init_ledger(settings)
    ledger.close()
    render.out.print(f"initialised ledger {settings.origin} in {settings.data}")
    render.out.print(f"registrar key: {settings.data / 'keys' / 'registrar.key'} (keep it safe)")


@app.command()
def keygen(out: Annotated[Path, typer.Argument(help="Private key file to write (0600).")],
           server: LocalOnlyServerOpt = None) -> None:
    """Generate an Ed25519 key pair: OUT (private, mode 0600) and OUT.pub."""
    local_only(server, "keygen", "keys are made where they are kept, never on a server")
    signer = Ed25519Signer.generate()
    try:
        write_key_pair(signer, out)
    except FileExistsError:
        raise errors.DuplicateError(f"{out} already exists; not overwriting a key") from None
    render.out.print(f"wrote {out} and {out}.pub (key id {signer.keyid})")


@agency_app.command("register")
def agency_register(
    code: Annotated[str, typer.Argument(help="13-character agency code, e.g. 000.00.00.G22.")],
    name: Annotated[str, typer.Argument(help="Agency name.")],
    pubkey: Annotated[
        Path | None,
        typer.Option(help="The agency's public key (PEM). Default: generate one in D/keys."),
    ] = None,
    key: RegistrarKeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an agency (signed with the registrar key)."""
    if server is not None and pubkey is None:
        raise InvalidInputError("with --server give the agency's --pubkey (make the pair with "
                                "'docledger keygen'); no key is generated on a server")
    session = session_or_remote(data, server, key)
    if pubkey is None:
        assert isinstance(session, Session)
        target = session.folder.agency_key(code)
        write_key_pair(Ed25519Signer.generate(), target)
        pubkey = target
    spec = load_public_key(pubkey).to_spec()
    outcome = session.act("registrar", "agency.register",
                          {"code": code, "name": name, "keys": [spec]}, key=key,
                          staff="registrar")
    print_outcome(session, outcome, as_json)


@agency_app.command("add-key")
def agency_add_key(
    code: str,
    pubkey: Annotated[Path, typer.Option(help="The new public key (PEM).")],
    actor: KeyActorOpt = "registrar",
    key: KeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a key to an agency (key rotation: add the new, then revoke the old)."""
    spec = load_public_key(pubkey).to_spec()
    session = session_or_remote(data, server, key)
    outcome = session.act(actor, "agency.add_key", {"code": code, "key": spec}, key=key)
    print_outcome(session, outcome, as_json)


@agency_app.command("revoke-key")
def agency_revoke_key(
    code: str,
    keyid: str,
    reason: Annotated[str, typer.Option(help="Why the key is revoked.")],
    actor: KeyActorOpt = "registrar",
    key: KeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an agency's key from now on; earlier signatures stay valid."""
    session = session_or_remote(data, server, key)
    outcome = session.act(
        actor, "agency.revoke_key", {"code": code, "keyid": keyid, "reason": reason}, key=key
    )
    print_outcome(session, outcome, as_json)


@auditor_app.command("register")
def auditor_register(
    auditor_id: Annotated[str, typer.Argument(
        help="Auditor id: 3-40 lowercase letters, digits, '-' (e.g. kiem-toan-1).")],
    name: Annotated[str, typer.Argument(help="Who the auditor is.")],
    pubkey: Annotated[Path, typer.Option(
        help="The auditor's public key (PEM, from 'docledger keygen').", exists=True,
        dir_okay=False)],
    key: RegistrarKeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an auditor (signed with the registrar key); it then signs reads as
    auditor/<id>."""
    fields = {"auditor_id": auditor_id, "name": name,
              "keys": [load_public_key(pubkey).to_spec()]}
    _act(data, "registrar", "auditor.register", fields, key, "registrar", as_json, server)


@auditor_app.command("revoke-key")
def auditor_revoke_key(
    auditor_id: str,
    keyid: str,
    reason: Annotated[str, typer.Option(help="Why the key is revoked.")],
    key: RegistrarKeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an auditor's key from now on."""
    fields = {"auditor_id": auditor_id, "keyid": keyid, "reason": reason}
    _act(data, "registrar", "auditor.revoke_key", fields, key, "registrar", as_json, server)


# ---- sending -------------------------------------------------------------------


@app.command()
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
    session = session_or_remote(data, server, key)
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


def send_document(
    session: Session | RemoteSession,
    sender: str,
    recipients: list[str],
    header: dict[str, Any],
    *,
    attachments: Sequence[Path] = (),
    document_id: str | None = None,
    key: Path | None = None,
    staff: str = "văn thư",
) -> dict[str, Any]:
    """The four signed steps of sending: create, sign, issue, send."""
    files = []
    for path in attachments:
        content = path.read_bytes()
        files.append({
            "name": path.name,
            "media_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "size": len(content),
            "sha256": (session.upload(sender, content) if isinstance(session, RemoteSession)
                       else session.folder.blobs.put(content)),
        })
    doc_id = document_id or f"{sender},{date.today():%Y/%m/%d},{secrets.token_hex(6)}"
    created = session.act(sender, "document.create",
                          {"document_id": doc_id, "header": header, "attachments": files},
                          key=key, staff=staff)
    doc = created.result["document"]
    session.act(sender, "document.sign", {"document": doc, "signer": header["signer"]},
                key=key, staff=header["signer"]["full_name"])
    issued = session.act(sender, "document.issue", {"document": doc}, key=key, staff=staff)
    session.act(sender, "document.send", {"document": doc, "recipients": recipients},
                key=key, staff=staff)
    return {"document": doc, "document_id": doc_id, "number": issued.result["number"],
            "reference": issued.result["reference"], "recipients": recipients}


# ---- handling a delivery ----------------------------------------------------------


def print_outcome(session: Session | RemoteSession, outcome: Any, as_json: bool) -> None:
    """The outcome; with --json its ledger-signed receipt too (a remote one comes with it)."""
    if isinstance(session, RemoteSession):
        receipt = outcome.receipt
    else:
        receipt = session.receipt(outcome) if as_json else None
    render.print_outcome(outcome, as_json=as_json, receipt=receipt)


def _act(data: Path | None, actor: str, type: str, fields: dict[str, Any],
         key: Path | None, staff: str, as_json: bool, server: str | None = None) -> None:
    session = session_or_remote(data, server, key)
    outcome = session.act(actor, type, fields, key=key, staff=staff)
    print_outcome(session, outcome, as_json)


@app.command()
def accept(doc: DocArg, actor: AsOpt, key: KeyOpt = None, staff: StaffOpt = "văn thư",
           data: DataOpt = None, server: ServerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Accept a delivery (03): register it with the next incoming number."""
    _act(data, actor, "delivery.accept", {"document": document_ref(doc)}, key, staff, as_json,
         server)


@app.command()
def refuse(doc: DocArg, actor: AsOpt,
           reason: Annotated[str, typer.Option(help="Why it is refused.")],
           key: KeyOpt = None, staff: StaffOpt = "văn thư",
           data: DataOpt = None, server: ServerOpt = None,
           as_json: JsonOpt = False) -> None:
    """Refuse a delivery (02) with a reason."""
    _act(data, actor, "delivery.refuse", {"document": document_ref(doc), "reason": reason},
         key, staff, as_json, server)


@app.command()
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
    _act(data, actor, "delivery.assign", fields, key, staff, as_json, server)


@app.command()
def progress(doc: DocArg, actor: AsOpt, note: str = "", key: KeyOpt = None,
             staff: StaffOpt = "chuyên viên", data: DataOpt = None,
             server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Report that a delivery is being processed (05)."""
    _act(data, actor, "delivery.progress", {"document": document_ref(doc), "note": note},
         key, staff, as_json, server)


@app.command()
def complete(doc: DocArg, actor: AsOpt, note: str = "", key: KeyOpt = None,
             staff: StaffOpt = "chuyên viên", data: DataOpt = None,
             server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a delivery completed (06)."""
    _act(data, actor, "delivery.complete", {"document": document_ref(doc), "note": note},
         key, staff, as_json, server)


@app.command()
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
    _act(data, actor, "delivery.recall", fields, key, staff, as_json, server)


@app.command("answer-recall")
def answer_recall(doc: DocArg, actor: AsOpt,
                  agree: Annotated[bool, typer.Option("--agree/--refuse",
                                                      help="Agree (15) or refuse (16).")],
                  reason: Annotated[str, typer.Option(help="Reason given.")],
                  key: KeyOpt = None, staff: StaffOpt = "văn thư",
                  data: DataOpt = None, server: ServerOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Answer a recall: agree (15, the delivery is cancelled) or refuse (16)."""
    fields = {"document": document_ref(doc), "agree": agree, "reason": reason}
    _act(data, actor, "delivery.answer_recall", fields, key, staff, as_json, server)


# ---- auditing --------------------------------------------------------------------


@app.command()
def history(doc: DocArg, data: DataOpt = None, server: ServerOpt = None,
            party: ReaderOpt = None, key: KeyOpt = None, as_json: JsonOpt = False) -> None:
    """Every event of a document and its deliveries, in order, signatures verified."""
    if server is not None:
        remote = remote_for(server, key)
        body = remote.get(reader(party, server), f"/v1/documents/{document_ref(doc)}/history")
        entries = [HistoryEntry(**e) for e in rows_of(body, "history", "events", "entries")]
        render.print_history(entries, as_json=as_json)
        return
    session = session_for(data)
    render.print_history(document_history(session.app, UUID(document_ref(doc))), as_json=as_json)


@app.command()
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
            _audit(data, registrar_key, ledger_key, trusted, no_remembered, as_json)
    except errors.StoreUnavailableError as exc:
        raise errors.AuditIncompleteError(f"the audit could not finish: {exc}") from None


def _audit(data: Path | None, registrar_key: Path | None, ledger_key: Path | None,
           trusted: list[Path] | None, no_remembered: bool, as_json: bool) -> None:
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


@app.command()
def checkpoint(
    vkey: Annotated[bool, typer.Option("--vkey", help="Print the ledger's verifier key.")] = False,
    issue: Annotated[bool, typer.Option(help="Sign a new checkpoint now if the log grew.")] = False,
    data: DataOpt = None,
    server: ServerOpt = None,
) -> None:
    """Print the latest signed checkpoint, exactly the C2SP signed-note text."""
    if server is not None:
        if issue:
            local_only(server, "checkpoint --issue", "only the ledger signs checkpoints")
        remote = remote_for(server, need_key=False)
        sys.stdout.write(remote.public("/v1/log/vkey" if vkey else "/v1/log/checkpoint"))
        return
    session = session_for(data)
    if vkey:
        sys.stdout.write(session.log.note_key.vkey() + "\n")
        return
    session.log.issue_checkpoint(force=issue)
    latest = session.log.store.latest_checkpoint()
    if latest is None:
        raise errors.NotFoundError("the ledger has signed no checkpoint yet")
    sys.stdout.write(latest.note)


@app.command("receipt")
def receipt_cmd(command_id: str, data: DataOpt = None, server: LocalOnlyServerOpt = None) -> None:
    """Print the ledger-signed receipt of an accepted command (JSON, DSSE)."""
    local_only(server, "receipt", "the server returns each command's receipt when it is "
               "accepted (add --json to the command)")
    session = session_for(data)
    session.log.catch_up()
    render.print_json(session.receipt(session.app.outcome_of(command_id)))


@app.command("prove-inclusion")
def prove_inclusion(
    leaf_hash: Annotated[str | None, typer.Option(help="Leaf hash (hex) from a receipt.")] = None,
    notification: Annotated[int | None, typer.Option(help="Notification id.")] = None,
    data: DataOpt = None,
    server: ServerOpt = None,
) -> None:
    """Inclusion proof of one event against the latest signed checkpoint (JSON)."""
    if (leaf_hash is None) == (notification is None):
        raise InvalidInputError("give exactly one of --leaf-hash and --notification")
    if server is not None:
        remote = remote_for(server, need_key=False)
        ask = {"leaf_hash": leaf_hash, "notification": notification}
        proof = remote.public("/v1/log/inclusion", **ask)  # signs a checkpoint covering it
        note = remote.public("/v1/log/checkpoint")
        if note_size(note) != proof["tree_size"]:  # a newer checkpoint: prove against it
            proof = remote.public("/v1/log/inclusion", **ask, size=note_size(note))
        render.print_json({**proof, "checkpoint": note})
        return
    session = session_for(data)
    session.log.issue_checkpoint(force=True)
    latest = session.log.store.latest_checkpoint()
    assert latest is not None  # issue_checkpoint(force=True) signed one or one exists
    index = session.log.store.leaf_index_of(
        notification_id=notification,
        leaf_hash=None if leaf_hash is None else bytes.fromhex(leaf_hash))
    stored = session.log.store.leaves(index, 1)[0]
    proof = session.log.inclusion_proof(index, latest.size)
    render.print_json({"leaf_index": index, "notification_id": stored[1],
                       "leaf_hash": stored[2].hex(), "tree_size": latest.size,
                       "proof": [p.hex() for p in proof], "checkpoint": latest.note})


@app.command("prove-consistency")
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
    if server is not None:
        remote = remote_for(server, need_key=False)
        if new_size is None:
            new_size = note_size(remote.public("/v1/log/checkpoint"))
        render.print_json(remote.public("/v1/log/consistency", old=old_size, new=new_size))
        return
    session = session_for(data)
    if new_size is None:
        latest = session.log.store.latest_checkpoint()
        if latest is None:
            raise errors.NotFoundError("the ledger has signed no checkpoint yet")
        new_size = latest.size
    proof = session.log.consistency_proof(old_size, new_size)
    render.print_json({"old_size": old_size, "new_size": new_size,
                       "proof": [p.hex() for p in proof]})


@app.command("verify-consistency")
def verify_consistency_cmd(
    old: Annotated[Path, typer.Argument(help="The older signed checkpoint (note file).")],
    new: Annotated[Path, typer.Argument(help="The newer signed checkpoint (note file).")],
    proof: Annotated[Path, typer.Option(help="JSON from prove-consistency.")],
    ledger_key: Annotated[str, typer.Option(
        help="The ledger's verifier key (vkey text, or a file holding it).")],
    server: LocalOnlyServerOpt = None,
) -> None:
    """Check offline that NEW extends OLD: both signed, and the proof links them."""
    local_only(server, "verify-consistency", "it checks files offline, trusting only the "
               "ledger key; fetch them with 'checkpoint --server' and 'prove-consistency "
               "--server'")
    from domain.evidence.consistency import check_consistency

    outcome = check_consistency(old.read_text(), new.read_text(), read_json(proof),
                                read_vkey(ledger_key))
    render.out.print(f"[green]consistent[/]: {outcome}")


def note_size(note: str, source: str = "the server's checkpoint") -> int:
    """The tree size of a C2SP checkpoint note (its second line)."""
    try:
        return int(note.split("\n")[1])
    except (IndexError, ValueError):
        raise InvalidInputError(f"{source} is not a C2SP checkpoint note") from None


def checkpoint_size(value: str) -> int:
    """A tree size given as a number, or as the note file of a checkpoint."""
    if value.isdigit():
        return int(value)
    try:
        return note_size(Path(value).read_text(), value)
    except OSError as exc:
        raise InvalidInputError(f"{value!r} is neither a tree size nor a readable checkpoint "
                                f"note ({exc.strerror})") from None


def read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read JSON from {path}: {exc}") from None


def read_vkey(value: str) -> str:
    path = Path(value)
    return path.read_text().strip() if "+" not in value and path.exists() else value


@app.command()
def demo(
    again: Annotated[bool, typer.Option(
        "--again", help="Add another round to a ledger an earlier demo made in this folder.")
    ] = False,
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
) -> None:
    """Run a realistic exchange on a new embedded ledger and audit it."""
    from api.demo import run_demo

    local_only(server, "demo", "it makes its own ledger and development keys")
    run_demo(settings_for(data), again=again)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
) -> None:
    """Run the HTTP API (uvicorn) on the configured ledger (embedded SQLite by default)."""
    import uvicorn

    from api.http.app import create_app
    from api.http.container import check_safe_for
    from infrastructure.ledger import DataFolder

    local_only(server, "serve", "it serves the ledger in the data folder")
    settings = settings_for(data)
    check_safe_for(settings)  # before listening: production refuses development keys
    if not DataFolder(settings.data).ledger_key.exists():
        raise errors.NotInitialisedError(
            f"no ledger in {settings.data}: run 'docledger init --data {settings.data}'")
    # the API's own log (problems with an id, store faults) beside uvicorn's
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    render.err.print(f"serving the ledger in {settings.data} ({settings.backend}, "
                     f"{settings.env}) on http://{host}:{port}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


INTERNAL_ERROR = 10  # a fault in docledger itself, not in what it was given


def main() -> None:
    """Run the tool; every error ends in one line and a documented exit code."""
    try:
        with store_faults_as_errors():
            app()
    except DocLedgerError as exc:
        fail(exc.code, str(exc), exit_code_for(exc))
    except OSError as exc:  # a file named on the command line: missing, unreadable, …
        where = f": {exc.filename}" if exc.filename else ""
        fail("file", f"{exc.strerror or exc}{where}", 2)
    except Exception as exc:
        if os.environ.get("DOCLEDGER_DEBUG"):
            raise
        fail("internal-error", f"{type(exc).__name__}: {exc} (a fault in docledger; "
             "DOCLEDGER_DEBUG=1 shows the traceback)", INTERNAL_ERROR)


def fail(code: str, message: str, exit_code: int) -> NoReturn:
    render.err.print(f"[red]error[/] ({code}): {escape(message)}", highlight=False)
    raise SystemExit(exit_code) from None


def exit_code_for(exc: DocLedgerError) -> int:
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 1)
import api.cli_bundle  # noqa: E402,F401  (registers bundle commands)
import api.cli_views  # noqa: E402,F401  (registers the view commands)
