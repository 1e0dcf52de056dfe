"""``docledger demo`` and ``docledger serve``: a ledger to try, and the HTTP API."""

from __future__ import annotations

import contextlib
import logging
from typing import Annotated

import typer

from api import render
from api.cli_options import DataOpt, LocalOnlyServerOpt, local_only, settings_for
from domain import errors

commands = typer.Typer()


@commands.command()
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


@commands.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    reuse_port: Annotated[bool, typer.Option(
        "--reuse-port", help="Share the port with other 'docledger serve --reuse-port' "
        "processes on this machine (SO_REUSEPORT): the kernel spreads connections over them.")
    ] = False,
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
) -> None:
    """Run the HTTP API and the web desk (/desk/) (uvicorn) on the configured ledger
    (embedded SQLite by default)."""
    import uvicorn

    from api.desk.mount import create_served_app
    from api.http.container import check_safe_for
    from infrastructure.heap import settle
    from infrastructure.ledger import DataFolder, check_witness_policy

    local_only(server, "serve", "it serves the ledger in the data folder")
    settings = settings_for(data)
    check_safe_for(settings)  # before listening: production refuses development keys
    if not DataFolder(settings.data).ledger_key.exists():
        raise errors.NotInitialisedError(
            f"no ledger in {settings.data}: run 'docledger init --data {settings.data}'")
    check_witness_policy(settings)  # before listening: a policy of another ledger
    # the API's own log (problems with an id, store faults) beside uvicorn's
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    render.err.print(f"serving the ledger in {settings.data} ({settings.backend}, "
                     f"{settings.env}) on http://{host}:{port}")
    # the server lives long: what it keeps is frozen out of the collector's sight
    # once the ledger is open, and young objects are looked at less often
    app = create_served_app(settings, on_open=settle)
    if not reuse_port:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    from api.listening import reuse_port_socket

    # as uvicorn.run does: a SIGINT after the graceful shutdown ends it with 0
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn.Config(app, log_level=log_level)).run(
            sockets=[reuse_port_socket(host, port)])

