"""``docledger`` commands that set a ledger up: the ledger itself, key pairs,
agencies and auditors, and the trust anchors agency certificates chain to."""

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
    open_service,
    open_session,
    print_outcome,
    settings_for,
)
from domain import errors
from domain.evidence.certificates import b64, certificates_from_file, fingerprint
from domain.evidence.keys import Ed25519Signer
from infrastructure.keyfiles import load_public_key, write_key_pair
from infrastructure.ledger import init_ledger
from infrastructure.revocation_fetch import refresh

commands = typer.Typer()
agency_app = typer.Typer(help="Register agencies and manage their keys.", no_args_is_help=True)
auditor_app = typer.Typer(help="Register auditors and manage their keys.", no_args_is_help=True)
trust_app = typer.Typer(help="The CA certificates agency certificates must chain to "
                        "(docs/trust.md).", no_args_is_help=True)
revocation_app = typer.Typer(help="Revocation evidence for certificate-backed keys "
                             "(docs/trust.md).", no_args_is_help=True)
CertArg = Annotated[Path, typer.Argument(help="Certificate file (PEM or DER).", exists=True,
                                         dir_okay=False, readable=True)]


def _certificates(path: Path, what: str) -> list[bytes]:
    try:
        return certificates_from_file(path.read_bytes())
    except OSError as exc:
        raise errors.InvalidInputError(f"cannot read the {what} {path}: {exc}") from None


def _one_certificate(path: Path, what: str) -> bytes:
    found = _certificates(path, what)
    if len(found) != 1:
        raise errors.InvalidInputError(f"the {what} {path} holds {len(found)} certificates, "
                                       "not one")
    return found[0]


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


@agency_app.command("add-cert")
def agency_add_cert(
    code: str,
    cert: CertArg,
    chain: Annotated[Path | None, typer.Option(
        help="The intermediate CA certificates (PEM, one or more), leaf's issuer first.",
        exists=True, dir_okay=False, readable=True)] = None,
    algorithm: Annotated[str | None, typer.Option(
        help="Signature scheme of the key: rsa-pkcs1-sha256 (RSA default), rsa-pss-sha256, "
             "ecdsa-p256-sha256, ecdsa-p384-sha384, ed25519.")] = None,
    registrar_binding: Annotated[bool, typer.Option(
        "--registrar-binding", help="The registrar vouches the certificate is the "
        "agency's though its subject does not hold the code (registrar only).")] = False,
    actor: KeyActorOpt = "registrar",
    key: KeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add the key of an X.509 certificate to an agency: the ledger validates the path
    to the trust anchors in force, the key usage, the validity period and that the
    certificate names the agency. The agency then signs with the certificate's
    private key (--key FILE)."""
    fields: dict[str, object] = {
        "code": code, "certificate": b64(_one_certificate(cert, "certificate")),
        "chain": [b64(c) for c in _certificates(chain, "chain")] if chain else []}
    if algorithm is not None:
        fields["algorithm"] = algorithm
    if registrar_binding:
        fields["registrar_binding"] = True
    session = open_session(data, server, key)
    print_outcome(session, session.act(actor, "agency.add_cert", fields, key=key), as_json)


@trust_app.command("add")
def trust_add(
    cert: CertArg,
    code_attribute: Annotated[str | None, typer.Option(
        help="The subject attribute this CA's certificates hold the agency code in: UID, "
             "serialNumber or OU. Default: the setting certificate_code_attribute (UID).")
    ] = None,
    key: RegistrarKeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Trust a CA certificate (a root, such as the state CA's) from now on: a
    registrar-signed command, so the change is history."""
    attribute = code_attribute or settings_for(data).certificate_code_attribute
    fields = {"certificate": b64(_one_certificate(cert, "CA certificate")),
              "code_attribute": attribute}
    act(data, "registrar", "trust.add_anchor", fields, key, "registrar", as_json, server)


@trust_app.command("remove")
def trust_remove(
    anchor: Annotated[str, typer.Argument(
        help="The anchor's SHA-256 fingerprint (from 'trust list'), or its certificate file.")],
    reason: Annotated[str, typer.Option(help="Why the anchor is no longer trusted.")],
    key: RegistrarKeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop trusting an anchor from now on: certificates already registered under it
    keep their keys; no new one is accepted."""
    path = Path(anchor)
    sha256 = (fingerprint(_one_certificate(path, "CA certificate")) if path.is_file()
              else anchor.lower())
    fields = {"sha256": sha256, "reason": reason}
    act(data, "registrar", "trust.remove_anchor", fields, key, "registrar", as_json, server)


@trust_app.command("list")
def trust_list(data: DataOpt = None, server: ServerOpt = None, as_json: JsonOpt = False) -> None:
    """Every trust anchor ever added, with the times it was in force."""
    rows = open_session(data, server, need_key=False).trust_anchors()
    if as_json:
        render.print_json(rows)
    else:
        render.print_anchors(rows)


@revocation_app.command("refresh")
def revocation_refresh(
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="A CRL URL or file (repeatable); default: each certificate's CRL "
        "distribution points.")] = None,
    ocsp: Annotated[bool, typer.Option(
        help="Ask each certificate's OCSP responder (AIA).")] = True,
    crl: Annotated[bool, typer.Option(help="Fetch CRLs.")] = True,
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch CRLs and OCSP responses for every live certificate-backed key and record
    them (a registrar-signed revocation.record); signatures are judged against the
    evidence the ledger held at their time."""
    local_only(server, "revocation refresh", "it reads the certificates the ledger holds")
    service = open_service(data)
    try:
        outcome = refresh(service, sources=source or (), ocsp_on=ocsp, crl_on=crl)
    finally:
        service.close()
    render.print_outcome(outcome, as_json=as_json, receipt=None)


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

