"""The ``docledger`` command-line tool: its commands assembled into one ``app``, and
``main``, which turns every error into one line and a documented exit code.

The commands live in modules by what they do (api/cli_setup.py, cli_exchange.py,
cli_audit.py, cli_monitor.py, cli_run.py, cli_bundle.py, cli_views.py, cli_tiles.py,
cli_witness.py, cli_axis.py, cli_edxml.py); what they share is in api/cli_options.py, so
none of them imports this module or another command module.
"""

from __future__ import annotations

import os
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from api import (
    cli_audit,
    cli_axis,
    cli_bundle,
    cli_edxml,
    cli_exchange,
    cli_gateway,
    cli_monitor,
    cli_run,
    cli_setup,
    cli_tiles,
    cli_views,
    cli_witness,
    render,
)
from api.cli_options import closing_opened
from domain import errors
from domain.errors import DocLedgerError
from infrastructure.store_faults import store_faults_as_errors

app = typer.Typer(
    help="Tamper-evident ledger for the exchange of official documents between agencies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# in the order 'docledger --help' lists them
for module in (cli_setup, cli_exchange, cli_audit, cli_monitor, cli_run, cli_bundle,
               cli_views):
    app.add_typer(module.commands)
app.add_typer(cli_setup.agency_app, name="agency")
app.add_typer(cli_setup.auditor_app, name="auditor")
app.add_typer(cli_setup.trust_app, name="trust")
app.add_typer(cli_setup.revocation_app, name="revocation")
app.add_typer(cli_tiles.tiles_app, name="tiles")
app.add_typer(cli_witness.witness_app, name="witness")
app.add_typer(cli_axis.axis_app, name="axis")
app.add_typer(cli_edxml.edxml_app, name="edxml")
app.add_typer(cli_gateway.gateway_app, name="gateway")


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


INTERNAL_ERROR = 10  # a fault in docledger itself, not in what it was given


def main() -> None:
    """Run the tool; every error ends in one line and a documented exit code."""
    try:
        # closed while the process's threads still run: left to the garbage
        # collector at exit, closing can wait on a thread already frozen
        with store_faults_as_errors(), closing_opened():
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
