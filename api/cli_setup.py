"""``docledger`` commands that set a ledger up: the ledger itself, key pairs,
agencies and auditors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import render
from api.cli_options import (
    DataOpt,
    JsonOpt,
    KeyActorOpt,
    KeyOpt,
    LocalOnlyServerOpt,
    RegistrarKeyOpt,
    ServerOpt,
    act,
    local_only,
    open_session,
    print_outcome,
    settings_for,
)
from domain import errors
from domain.evidence.keys import Ed25519Signer
from infrastructure.keyfiles import load_public_key, write_key_pair
from infrastructure.ledger import init_ledger

commands = typer.Typer()
agency_app = typer.Typer(help="Register agencies and manage their keys.", no_args_is_help=True)
auditor_app = typer.Typer(help="Register auditors and manage their keys.", no_args_is_help=True)


@commands.command()
def init(data: DataOpt = None, server: LocalOnlyServerOpt = None) -> None:
    """Create a data folder with a new ledger key and registrar key."""
    local_only(server, "init", "a ledger is initialised where it runs")
    settings = settings_for(data)
    ledger = init_ledger(settings)
    ledger.close()
    render.out.print(f"initialised ledger {settings.origin} in {settings.data}")
    render.out.print(f"registrar key: {settings.data / 'keys' / 'registrar.key'} (keep it safe)")


@commands.command()
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
    # the registrar key is asked for when signing, after a missing --pubkey is named
    session = open_session(data, server, key, need_key=False)
    spec = load_public_key(pubkey or session.new_agency_key(code)).to_spec()
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
    session = open_session(data, server, key)
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
    session = open_session(data, server, key)
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
    act(data, "registrar", "auditor.register", fields, key, "registrar", as_json, server)


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
    act(data, "registrar", "auditor.revoke_key", fields, key, "registrar", as_json, server)

