"""``docledger tiles``: the log as C2SP tlog-tiles, exported to a directory that
any static web server or CDN can serve (docs/ledger.md, "Tiles")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api import render
from api.cli_options import (
    DataOpt,
    JsonOpt,
    LocalOnlyServerOpt,
    local_only,
    open_service,
    read_vkey,
)
from api.cli_policy import PolicyOpt, describe, ledger_vkey, read_policy
from domain.evidence.checkpoint import NoteKey
from infrastructure.tile_reader import TileReader, check_log
from infrastructure.tiles import export_tiles

tiles_app = typer.Typer(help="The log as C2SP tlog-tiles (checkpoint, tiles, entry bundles).",
                        no_args_is_help=True)


@tiles_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(
        help="Where to write checkpoint and tile/…; served as is by a static web server.",
        file_okay=False)],
    data: DataOpt = None,
    server: LocalOnlyServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the tiles and entry bundles that are new or grew since the last export
    to DIRECTORY, then the published checkpoint (last, atomically). Safe to repeat
    and to resume after an interruption."""
    local_only(server, "tiles export", "the API serves the same tiles at /tile/ itself")
    service = open_service(data)
    try:
        with Progress(TextColumn("exporting tiles"), BarColumn(), MofNCompleteColumn(),
                      console=render.err, disable=as_json, transient=True) as bar:
            task = bar.add_task("tiles", total=None)
            old, new, written = export_tiles(
                service, directory,
                progress=lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        service.close()
    if as_json:
        render.print_json({"directory": str(directory), "old_size": old, "size": new,
                           "files_written": written})
    else:
        render.out.print(f"tiles of the tree of size {new} in {directory} (was {old}); "
                         f"{written} file(s) written, checkpoint last")


@tiles_app.command("verify")
def verify(
    source: Annotated[str, typer.Argument(
        help="The tiles' URL prefix (http(s)://…, where /checkpoint is) or a directory.")],
    ledger_key: Annotated[str | None, typer.Option(
        help="The ledger's verifier key (vkey text, or a file holding it); or give "
             "--policy, whose log line names it.")] = None,
    saved: Annotated[list[Path] | None, typer.Option(
        "--checkpoint", help="A signed checkpoint you saved earlier (repeatable): the "
                             "served tree must extend it.")] = None,
    policy_file: PolicyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a log published as tiles, trusting only the ledger key: the checkpoint's
    signature (and with --policy its witnesses' quorum), every tile and every entry
    against it, and that it extends the checkpoints you saved. Exit 0 if all holds, 3
    on the first mismatch."""
    policy = read_policy(policy_file)
    key = NoteKey.parse(ledger_vkey(None if ledger_key is None else read_vkey(ledger_key),
                                    policy))
    notes = [path.read_text() for path in saved or []]
    with TileReader.open(source) as reader, \
            Progress(TextColumn("checking entries"), BarColumn(), MofNCompleteColumn(),
                     console=render.err, disable=as_json, transient=True) as bar:
        task = bar.add_task("entries", total=None)
        checkpoint = check_log(reader, key, notes, progress=lambda n: bar.advance(task, n))
        witnessed = None if policy is None else describe(
            policy.check(reader.checkpoint_note(), key))
    if as_json:
        render.print_json({"ok": True, "size": checkpoint.size,
                           "root": checkpoint.root.hex(), "saved_checkpoints": len(notes),
                           "witnesses": witnessed})
    else:
        render.out.print(f"[green]tiles hold[/]: {checkpoint.size} entries, every tile and "
                         f"entry matches the signed checkpoint, which extends {len(notes)} "
                         "saved checkpoint(s)")
        if witnessed is not None:
            render.out.print(f"[green]{witnessed}[/]", highlight=False)
