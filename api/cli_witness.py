"""``docledger witness …``: run a C2SP tlog-witness for other parties' logs.

See docs/witness.md for its files and its HTTP API. The module imports nothing of
the ledger's, so that ``python -m api.cli_witness serve …`` starts a witness
quickly (the tests start many); ``docledger witness …`` is the same sub-app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from infrastructure.witness_folder import WitnessFolder
from infrastructure.witness_store import WitnessStore

WitnessDataOpt = Annotated[Path, typer.Option("--data", help="The witness's folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

witness_app = typer.Typer(help="Run a witness that cosigns other logs' checkpoints "
                               "(C2SP tlog-witness).", no_args_is_help=True)


@witness_app.command("init")
def init(
    name: Annotated[str, typer.Option(
        help="The witness's key name, a schema-less URL such as witness.example/w1.")],
    data: WitnessDataOpt,
    log: Annotated[list[str] | None, typer.Option(
        "--log", help="A log's verifier key to cosign for (repeatable).")] = None,
) -> None:
    """Create a witness: a new key, its verifier key (printed) and its list of logs."""
    key = WitnessFolder(data).init(name, list(log or []))
    typer.echo(f"initialised witness {key.name} in {data}; its verifier key:", err=True)
    typer.echo(key.vkey())


@witness_app.command("add-log")
def add_log(
    vkey: Annotated[str, typer.Argument(help="The log's verifier key.")],
    data: WitnessDataOpt,
    url: Annotated[str | None, typer.Argument(help="Where the log is (informative).")] = None,
) -> None:
    """Trust one more log: cosign its checkpoints (a running witness sees it at once)."""
    WitnessFolder(data).add_log(vkey, url)
    typer.echo(f"the witness in {data} now cosigns for {vkey.split('+')[0]}", err=True)


@witness_app.command("vkey")
def vkey(data: WitnessDataOpt) -> None:
    """Print the witness's verifier key (for the logs' and verifiers' policies)."""
    typer.echo(WitnessFolder(data).vkey().vkey())


@witness_app.command("serve")
def serve(
    data: WitnessDataOpt,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8780,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the witness's HTTP API (tlog-witness add-checkpoint, checkpoints, evidence)."""
    import uvicorn

    from api.witness_app import create_witness_app

    folder = WitnessFolder(data)
    app = create_witness_app(folder)  # reads the key and the logs before listening
    typer.echo(f"witness {folder.vkey().name} serving on http://{host}:{port}", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@witness_app.command("evidence")
def evidence(data: WitnessDataOpt, as_json: JsonOpt = False) -> None:
    """Print the checkpoints refused as forks or rollbacks, with the ones they conflict with."""
    folder = WitnessFolder(data)
    folder.vkey()
    kept = WitnessStore(folder.db_file).evidence()
    if as_json:
        typer.echo(json.dumps([k.as_dict() for k in kept], ensure_ascii=False, indent=2))
        return
    if not kept:
        typer.echo("no evidence kept")
    for k in kept:
        e = k.evidence
        typer.echo(f"{e.kind} of {e.origin} at {k.recorded_at}: {e.reason}\n"
                   f"-- cosigned:\n{e.cosigned_note}-- offered:\n{e.offered_note}")


if __name__ == "__main__":
    witness_app()
