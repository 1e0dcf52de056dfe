"""What the ``docledger`` commands share: their options, opening a session, and
reading what they are given. The command modules import it; it imports none of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer

from api import render
from api.remote import MISSING_KEY, RemoteSession, note_size
from api.session import LedgerSession, LocalSession, local_only_error
from domain.errors import InvalidInputError
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings

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


def settings_for(data: Path | None) -> Settings:
    return Settings(data=data) if data is not None else Settings()


# the services opened while a command runs under ``closing_opened`` (the command
# line's main): closed before the process exits, whether the command ended well or
# not; outside it (a test invoking the commands) nothing is held here
_opened: list[LedgerService] | None = None


def open_service(data: Path | None) -> LedgerService:
    """The ledger service on the data folder, for the commands that run beside it."""
    service = bootstrap(settings_for(data))
    if _opened is not None:
        _opened.append(service)
    return service


@contextmanager
def closing_opened() -> Iterator[None]:
    """Close every service ``open_service`` opens within (a service closes once)."""
    global _opened
    outer, _opened = _opened, []
    try:
        yield
    finally:
        opened, _opened = _opened, outer
        while opened:
            opened.pop().close()


def open_session(data: Path | None, server: str | None, key: Path | None = None, *,
                 need_key: bool = True) -> LedgerSession:
    """The local ledger in the data folder, or the remote one at ``server``, which is
    given the key file of whoever acts or reads (not needed for its public log, and
    asked for by the first signed call when ``need_key`` is False)."""
    if server is None:
        return LocalSession(open_service(data))
    if need_key and key is None:
        raise InvalidInputError(MISSING_KEY)
    return RemoteSession(server, key)


def local_only(server: str | None, command: str, hint: str = "") -> None:
    """Refuse --server for commands that work on a local data folder or files only."""
    if server is not None:
        raise local_only_error(command, hint)


def document_ref(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError:
        raise InvalidInputError(f"{value!r} is not a document id") from None


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
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read JSON from {path}: {exc}") from None


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the {what} {path}: {exc}") from None


def read_vkey(value: str) -> str:
    path = Path(value)
    return path.read_text().strip() if "+" not in value and path.exists() else value


def act(data: Path | None, actor: str, type: str, fields: dict[str, Any],
        key: Path | None, staff: str, as_json: bool, server: str | None = None) -> None:
    """Sign and execute one command as ``actor`` and print what the ledger answered."""
    session = open_session(data, server, key)
    outcome = session.act(actor, type, fields, key=key, staff=staff)
    print_outcome(session, outcome, as_json)


def print_outcome(session: LedgerSession, outcome: Any, as_json: bool) -> None:
    """The outcome; with --json its ledger-signed receipt too."""
    receipt = session.receipt(outcome) if as_json else None
    render.print_outcome(outcome, as_json=as_json, receipt=receipt)
