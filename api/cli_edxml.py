"""``docledger edxml``: edXML messages in (each as the acting agency's signed
commands) and out (a document, or a delivery's status)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from api import render
from api.cli_options import (
    AsOpt,
    DataOpt,
    DocArg,
    JsonOpt,
    KeyOpt,
    ReaderOpt,
    ServerOpt,
    document_ref,
    open_session,
    read_bytes,
    settings_for,
)
from domain.errors import InvalidInputError

edxml_app = typer.Typer(help="edXML (QCVN 102:2016) messages in and out.",
                        no_args_is_help=True)


@edxml_app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="edXML message files.")],
    agency: AsOpt,
    key: KeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
    organ_id: Annotated[list[str] | None, typer.Option(
        "--organ-id", metavar="ORGANID=CODE",
        help="An OrganId that is not a 13-character code (28.22.H17) and the agency "
             "code it stands for; repeatable (also DOCLEDGER_EDXML_ORGAN_IDS).")] = None,
) -> None:
    """Record each message as the acting agency's signed commands: a document message
    by its sender (0 send, 1 recall, 2 update, 3 replace), a status message by the
    agency reporting it. A message imported again writes nothing."""
    from api.edxml_import import import_edxml  # the parser (lxml) only for this command

    organ_ids = settings_for(data).edxml_organ_ids | organ_id_pairs(organ_id or [])
    session = open_session(data, server, key)
    results = []
    try:
        for path in files:
            imported = import_edxml(session, read_bytes(path, "edXML message"), agency,
                                    key=key, organ_ids=organ_ids)
            results.append({"file": str(path), **imported.as_dict()})
            if not as_json:
                done = [c["type"] for c in imported.commands if not c["recorded_before"]]
                before = len(imported.commands) - len(done)
                render.err.print(
                    f"[green]imported[/] {path.name}: document {imported.document}; "
                    f"{', '.join(done) or 'no new command'}"
                    + (f"; {before} recorded before" if before else "")
                    + f"; XML signature {imported.signature.get('status', 'not checked')}"
                    + (f" ({imported.note})" if imported.note else ""))
    finally:
        session.close()
    if as_json:
        render.print_json(results)


@edxml_app.command("export")
def export(
    doc: DocArg,
    to: Annotated[str | None, typer.Option(
        "--to", help="A recipient: its delivery's status message instead.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here.")] = None,
    reader: ReaderOpt = None,
    key: KeyOpt = None,
    data: DataOpt = None,
    server: ServerOpt = None,
) -> None:
    """The document as an edXML message (its sender's latest act), or with --to the
    status message of that recipient's delivery."""
    session = open_session(data, server, key)
    try:
        message = session.edxml(reader, document_ref_uuid(doc), to)
    finally:
        session.close()
    if output is None:
        sys.stdout.buffer.write(message)
    else:
        output.write_bytes(message)


def organ_id_pairs(given: list[str]) -> dict[str, str]:
    """``ORGANID=CODE`` options as a mapping; the code is checked when it is used."""
    pairs = {}
    for item in given:
        organ, sep, code = item.partition("=")
        if not sep or not organ.strip() or not code.strip():
            raise InvalidInputError(f"--organ-id {item!r}: expected ORGANID=CODE")
        pairs[organ.strip()] = code.strip()
    return pairs


def document_ref_uuid(value: str) -> UUID:
    return UUID(document_ref(value))
