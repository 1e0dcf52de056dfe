"""``docledger axis …``: the connector to the national document exchange axis.

``axis sync`` pulls the messages waiting for an agency, imports them and
acknowledges them, pushes what the ledger has to send, and refreshes the agency
directory; ``--follow`` does so every ``--interval`` seconds until stopped.
``axis refused`` lists the messages refused on import, kept with their reason;
``axis directory`` the agency directory as last fetched.
The interface the axis must offer, the state kept and why a run killed at any
point is finished by the next without doubling anything: docs/axis.md.

``axis gateway-key`` makes (once) and shows the connector's own key, and ``axis
register CODE…`` registers agencies reached only through the axis with it
(infrastructure/axis_gateway.py).

What a message means to the ledger is the seam's business (``Importer`` and
``Exporter`` in infrastructure/axis_sync.py): the ledger's edXML mapping
(api/axis_seam.py) unless ``--seam MODULE:FACTORY`` (or ``DOCLEDGER_AXIS_SEAM``)
names another callable ``(LedgerService, agency) -> (importer, exporter)``.
``DOCLEDGER_AXIS_CRASH_AT=POINT`` makes the process kill itself
(SIGKILL) at that point of a run, for the crash tests (docs/axis.md lists them).
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from api import render
from api.cli_options import DataOpt, JsonOpt, RegistrarKeyOpt, open_service, settings_for
from domain.errors import InvalidInputError, NotInitialisedError, StoreUnavailableError
from domain.exchange.codes import check_agency_code
from infrastructure.axis_client import AxisClient
from infrastructure.axis_gateway import gateway_key, register_external
from infrastructure.axis_state import AxisState
from infrastructure.axis_sync import AxisSync, Exporter, Hook, Importer, Summary
from infrastructure.keyfiles import public_path
from infrastructure.ledger import DataFolder
from infrastructure.service import LedgerService

SECRET_ENV = "DOCLEDGER_AXIS_SECRET"
SEAM_ENV = "DOCLEDGER_AXIS_SEAM"
CRASH_ENV = "DOCLEDGER_AXIS_CRASH_AT"
DEFAULT_SEAM = "api.axis_seam:seam"  # imported when a sync runs: the edXML stack is heavy

axis_app = typer.Typer(help="Exchange edXML messages with the national document exchange "
                            "axis.", no_args_is_help=True)

AgencyOpt = Annotated[str, typer.Option("--as", help="The agency the ledger acts for.")]

Seam = Callable[[LedgerService, str], tuple[Importer, Exporter]]


@axis_app.command("sync")
def sync(
    agency: AgencyOpt,
    axis: Annotated[str, typer.Option("--axis", help="The axis endpoint (URL).")],
    system_id: Annotated[str, typer.Option(
        "--system-id", help="The connected system's id on the axis (the SDK's systemId).")],
    secret_file: Annotated[Path | None, typer.Option(
        "--secret-file", help=f"File holding the system's secret (else ${SECRET_ENV}).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Keep synchronising every --interval seconds until stopped.")] = False,
    interval: Annotated[float, typer.Option(
        "--interval", min=0.1, help="Seconds between runs with --follow.")] = 30.0,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=0.1, help="Seconds the axis may take to answer a request.")] = 10.0,
    seam: Annotated[str | None, typer.Option("--seam", hidden=True)] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pull, import and acknowledge received messages; push outgoing ones; fetch the
    agency directory. Prints what it did: pulled, imported, acknowledged, refused, pushed."""
    code = check_agency_code(agency)
    make_seam = load_seam(seam or os.environ.get(SEAM_ENV))
    client = AxisClient(axis, system_id=system_id, secret=read_secret(secret_file),
                        timeout=timeout)
    service = open_service(data)
    try:
        importer, exporter = make_seam(service, code)
        runner = AxisSync(client=client, state=AxisState.beside(service.app), importer=importer,
                          exporter=exporter, agency=code, hook=crash_hook(),
                          progress=lambda line: render.err.print(escape(line), highlight=False),
                          notary=service)
        if follow:
            keep_following(runner, interval, as_json)
        else:
            print_summary(runner.run(), as_json)
    finally:
        client.close()
        service.close()


@axis_app.command("refused")
def refused(
    agency: AgencyOpt,
    save: Annotated[Path | None, typer.Option(
        "--save", help="Write each refused message's bytes to DIR/<axis id>.edxml.",
        file_okay=False)] = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The messages refused on import for an agency, with the reason, kept for the operator."""
    service = open_service(data)
    try:
        rows = AxisState.beside(service.app).refused(check_agency_code(agency))
    finally:
        service.close()
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for row in rows:
            if row.data is not None:  # a message too large to read was not kept
                (save / f"{safe_name(row.doc_id)}.edxml").write_bytes(row.data)
    if as_json:
        render.print_json([{"doc_id": r.doc_id, "sender": r.sender, "service_type":
                            r.service_type, "state": r.state, "reason": r.error,
                            "sha256": r.sha256, "at": r.updated_at} for r in rows])
        return
    for r in rows:
        render.out.print(f"{r.updated_at}  {r.doc_id}  from {r.sender}  ({r.state}): "
                         f"{escape(r.error or '')}", highlight=False)


@axis_app.command("gateway-key")
def show_gateway_key(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Make the gateway's key if there is none, and show it: the key the agencies
    reached only through the axis are registered with."""
    folder = DataFolder(settings_for(data).data)
    if not folder.ledger_key.exists():
        raise NotInitialisedError(f"no ledger in {folder.root}: the gateway's key is kept "
                                  "beside a ledger's")
    key = gateway_key(folder, create=True)
    assert key is not None
    path = public_path(folder.gateway_key)
    if as_json:
        render.print_json({"keyid": key.keyid, "public_key": str(path)})
        return
    render.out.print(f"gateway key {key.keyid} ({path})", highlight=False)


@axis_app.command("register")
def register(
    codes: Annotated[list[str], typer.Argument(help="Agency codes reached only through the axis.")],
    name: Annotated[str | None, typer.Option(
        "--name", help="The agency's name (one code only; else the directory's).")] = None,
    key: RegistrarKeyOpt = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register agencies reached only through the axis, with the gateway's key (signed by
    the registrar); their names from --name or the axis directory as last fetched."""
    if name is not None and len(codes) != 1:
        raise InvalidInputError("--name names one agency: give one code with it")
    service = open_service(data)
    try:
        names = {e.code: e.name for e in AxisState.beside(service.app).directory()}
        done = []
        for code in codes:
            found = name or names.get(code)
            if not found:
                raise InvalidInputError(
                    f"{code} is not in the axis directory as last fetched: run 'docledger "
                    "axis sync' first, or give --name")
            outcome = register_external(service, code, found, registrar_key=key)
            done.append({"code": code, "name": found, "registered": outcome is not None})
            render.err.print(f"{code} {escape(found)}: " + (
                "registered, reached through the axis" if outcome else
                "already registered, reached through the axis"), highlight=False)
    finally:
        service.close()
    if as_json:
        render.print_json(done)


@axis_app.command("directory")
def directory(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """The agency directory as the last sync fetched it from the axis."""
    service = open_service(data)
    try:
        entries = AxisState.beside(service.app).directory()
    finally:
        service.close()
    if as_json:
        render.print_json([{"code": e.code, "name": e.name, "parent": e.parent}
                           for e in entries])
        return
    for e in entries:
        render.out.print(f"{e.code}  {render.shown(e.name)}"
                         + (f"  (under {e.parent})" if e.parent else ""), highlight=False)


def safe_name(doc_id: str) -> str:
    """The axis's id as a file name: anything but letters, digits, '-', '_' and '.' as '_'."""
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in doc_id)
    return name.lstrip(".") or "_"


def keep_following(runner: AxisSync, interval: float, as_json: bool) -> None:
    """Run every ``interval`` seconds until SIGINT or SIGTERM; an axis or store that is
    down is reported and tried again at the next run."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        try:
            print_summary(runner.run(), as_json)
        except StoreUnavailableError as exc:  # the axis unreachable, or the ledger's store
            render.err.print(f"[yellow]will retry[/] ({exc.code}): {escape(str(exc))}",
                             highlight=False)
        stop.wait(interval)


def print_summary(summary: Summary, as_json: bool) -> None:
    counts = summary.counts()
    if as_json:
        render.print_json(counts)
    else:
        render.out.print(", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()),
                         highlight=False)


def read_secret(path: Path | None) -> str:
    if path is not None:
        try:
            secret = path.read_text().strip()
        except OSError as exc:
            raise InvalidInputError(f"cannot read --secret-file {path}: {exc.strerror}") from None
    else:
        secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise InvalidInputError(f"the axis secret is missing: give --secret-file or ${SECRET_ENV}")
    return secret


def load_seam(name: str | None) -> Seam:
    """The factory of the importer and exporter, ``MODULE:FACTORY``; by default the
    ledger's edXML mapping (``api.axis_seam:seam``)."""
    module, _, attribute = (name or DEFAULT_SEAM).partition(":")
    try:
        found: Any = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidInputError(f"--seam {name}: {exc}") from None
    if not callable(found):
        raise InvalidInputError(f"--seam {name} is not callable")
    return found  # type: ignore[no-any-return]


def crash_hook() -> Hook:
    """Kill this process (SIGKILL: nothing runs after it) at the point the environment names."""
    point = os.environ.get(CRASH_ENV)

    def hook(name: str) -> None:
        if name == point:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
