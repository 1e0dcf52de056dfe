"""``docledger monitor``: what an agency runs to learn where its name and keys are used.

It follows the log (over the API, or a local data folder), trusting only the
ledger's verifier key: it verifies the latest checkpoint's signature, that the
checkpoint extends the one the previous run saved (``--since``), and each event
it is shown against the signed tree, then reports every event naming the agency
and flags what the agency's own system did not record (docs/ledger.md,
"Monitors"). Exit codes: 0 nothing flagged, 1 a finding, 2 the log itself
misbehaves (a checkpoint that fails its signature, a fork, an event not in the
tree), and the tool's usual codes for everything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from api import render
from api.cli_options import DataOpt, JsonOpt, KeyOpt, ReaderOpt, ServerOpt, open_session, read_vkey
from api.cli_policy import PolicyOpt, describe, ledger_vkey, read_policy
from api.session import LedgerSession
from domain.errors import InvalidInputError, NotFoundError
from domain.evidence.checkpoint import Checkpoint, CheckpointError, NoteKey, open_checkpoint
from domain.evidence.policy import Policy, QuorumError
from domain.evidence.tiles import TileError
from domain.exchange.codes import check_agency_code
from domain.verification.monitor import (
    KEY_CHANGE,
    UNKNOWN_COMMAND,
    Finding,
    LogMisbehaviourError,
    MonitorReport,
    check_extends,
    check_included,
    check_leaf,
    findings,
    naming,
    omissions,
    open_latest,
    page_events,
    parse_known,
    sighting,
    unshown_listed,
)
from infrastructure.remembered import RememberedCheckpoint
from infrastructure.tile_reader import TileReader

commands = typer.Typer()

LEDGER_MISBEHAVING = 2  # the ledger's log contradicts itself: not a finding about the agency
FINDING = 1


@commands.command()
def monitor(
    agency: Annotated[str, typer.Option("--agency", help="The agency watched (its code).")],
    ledger_key: Annotated[str | None, typer.Option(
        help="The ledger's verifier key (vkey text, or a file holding it): all it trusts; "
             "or give --policy, whose log line names it.")] = None,
    policy_file: PolicyOpt = None,
    since: Annotated[Path | None, typer.Option(
        help="Checkpoint note the previous run saved: the log must extend it, only later "
             "events are read, and the new checkpoint is written back (made if absent).")] = None,
    known: Annotated[Path | None, typer.Option(
        help="The command ids the agency's own system issued, one a line ('#' comments): "
             "any other act signed with its keys is flagged.")] = None,
    tiles: Annotated[str | None, typer.Option(
        "--tiles", help="The log's C2SP tlog-tiles (URL prefix or directory): proofs come "
                        "from them, and every public leaf on the agency's record is checked "
                        "to have been shown.")] = None,
    data: DataOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    party: ReaderOpt = None,
    limit: Annotated[int, typer.Option(help="Leaves asked for per page.", min=1,
                                       max=1000)] = 500,
    ask: Annotated[bool, typer.Option(
        "--ask", help="Ask about each act with the agency's keys not in --known, and each key "
                      "change; what is confirmed is added to the --known file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Report every event naming an agency; flag acts with its keys it did not record."""
    code = check_agency_code(agency)
    policy = read_policy(policy_file)
    note_key = verifier_key(ledger_vkey(None if ledger_key is None else read_vkey(ledger_key),
                                        policy))
    saved = saved_checkpoint(since, note_key)
    if ask and known is None:
        raise InvalidInputError("--ask writes what is confirmed to the --known file: give one")
    known_ids = None if known is None else parse_known(known.read_text())
    tile_reader = None if tiles is None else TileReader.open(tiles)
    session = open_session(data, server, key)
    try:
        report = watch(session, code, party or code, note_key, saved, known_ids, limit,
                       tile_reader, policy)
    except (LogMisbehaviourError, TileError) as exc:
        misbehaving(exc, as_json)
    finally:
        session.close()
        if tile_reader is not None:
            tile_reader.close()
    if ask and known is not None:
        report.findings = confirmed(report, known)
    if since is not None:
        RememberedCheckpoint(since).write(report.checkpoint)  # atomically, after verifying
    print_report(report, as_json)
    if report.findings:
        raise typer.Exit(FINDING)


def verifier_key(vkey: str) -> NoteKey:
    try:
        return NoteKey.parse(vkey)
    except CheckpointError as exc:
        raise InvalidInputError(f"--ledger-key: {exc}") from None


def saved_checkpoint(since: Path | None, key: NoteKey) -> Checkpoint | None:
    """The checkpoint the previous run saved; None on the first run."""
    if since is None or not since.exists():
        return None
    try:
        return open_checkpoint(since.read_text(), key)
    except CheckpointError as exc:
        raise InvalidInputError(f"--since {since}: not a checkpoint signed by the ledger "
                                f"key: {exc}") from None


def watch(session: LedgerSession, code: str, reader: str, key: NoteKey,
          saved: Checkpoint | None, known: frozenset[str] | None, limit: int,
          tiles: TileReader | None = None, policy: Policy | None = None) -> MonitorReport:
    """Verify the log up to its latest checkpoint and collect what names ``code``,
    reading the events as ``reader`` (the agency itself, or ``auditor/<id>``)."""
    note = session.checkpoint()
    latest = open_latest(note, key)
    verified = [f"checkpoint of size {latest.size} signed by the ledger key"]
    if policy is not None:
        try:
            verified.append(describe(policy.check(note, key)))
        except (QuorumError, CheckpointError) as exc:
            raise LogMisbehaviourError(
                f"the ledger's latest checkpoint does not meet the witness policy: {exc}"
            ) from None
    if tiles is not None:
        note, latest = agree_with_tiles(session, tiles, key, latest, verified)
    report = MonitorReport(agency=code, checkpoint=note, size=latest.size,
                           since=0 if saved is None else saved.size, known_list=known is not None,
                           verified=verified)
    if saved is not None:
        check_extends(saved, latest, consistency(session, tiles, saved.size, latest))
        verified.append(f"it extends the saved checkpoint of size {saved.size}")
    every = reader.startswith("auditor/")  # an auditor is shown every event: all checked
    start = report.since
    while start < latest.size:
        events, end = page_events(session.log_events(reader, start, limit), start)
        if end <= start:
            raise LogMisbehaviourError(f"the log served nothing from leaf {start}, below its "
                                       f"checkpoint's size {latest.size}")
        if every and [e.leaf_index for e in events] != list(range(start, end)):
            raise LogMisbehaviourError(f"the auditor's page of leaves [{start}, {end}) does "
                                       "not hold every one of them")
        stop = min(end, latest.size)
        shown = [(e, why) for e, why in naming(events, code) if e.leaf_index < stop]
        # an auditor proves every event: one left unproved could stand in for one that
        # named the agency
        proved = [e for e in (events if every else [e for e, _ in shown]) if e.leaf_index < stop]
        if tiles is None:
            for event in proved:
                check_included(event, inclusion(session, event.leaf_hash.hex(), latest.size,
                                                event.leaf_index), latest)
        else:
            hashes = tiles.leaf_hashes(latest, start, stop)
            for event in proved:
                check_leaf(event, hashes[event.leaf_index - start])
            report.findings += omissions(tiles.leaf_data(latest, start, stop), start,
                                         [e for e, _ in shown], code)
        report.sightings += [sighting(e, why) for e, why in shown]
        report.findings += unshown_listed(shown, code)
        start = end
    verified.append(f"{len(report.sightings)} event(s) naming {code} in leaves "
                    f"[{report.since}, {latest.size}) proved in the signed tree"
                    + (f"; every public leaf on {code}'s record shown" if tiles else ""))
    report.findings = findings(report.sightings, code, known) + report.findings
    return report


def agree_with_tiles(session: LedgerSession, tiles: TileReader, key: NoteKey,
                     api: Checkpoint, verified: list[str]) -> tuple[str, Checkpoint]:
    """The tiles' checkpoint, checked to agree with the API's (one history shown to
    both); the monitor proves against it."""
    note = tiles.checkpoint_note()
    published = open_latest(note, key)
    if api.size <= published.size:
        if tiles.root(published, api.size) != api.root:
            raise LogMisbehaviourError(
                f"the API's checkpoint of size {api.size} and the tiles' of size "
                f"{published.size} are two histories")
    else:
        check_extends(published, api, consistency(session, None, published.size, api))
    verified.append(f"the tiles' checkpoint of size {published.size} signed by the ledger key "
                    f"and one history with the API's of size {api.size}")
    return note, published


def consistency(session: LedgerSession, tiles: TileReader | None, old: int,
                latest: Checkpoint) -> list[str]:
    """The proof that ``latest`` extends the tree of ``old`` leaves (none needed for an
    empty, equal or larger one: check_extends decides those)."""
    if old == 0 or old >= latest.size:
        return []
    if tiles is not None:
        return [h.hex() for h in tiles.consistency_proof(latest, old)]
    proof = session.consistency_proof(old, latest.size)
    if (proof.get("old_size"), proof.get("new_size")) != (old, latest.size):
        raise LogMisbehaviourError(f"asked for a proof from {old} to {latest.size}, the log "
                                   f"answered one from {proof.get('old_size')} to "
                                   f"{proof.get('new_size')}")
    return list(proof.get("proof", []))


def inclusion(session: LedgerSession, leaf_hash: str, size: int, index: int) -> dict[str, object]:
    try:
        return session.inclusion_proof(leaf_hash=leaf_hash, notification=None, size=size)
    except NotFoundError as exc:
        raise LogMisbehaviourError(f"the event shown at leaf {index} is not in the log: it was "
                                   f"altered after it was stored or on its way ({exc})") from None


def confirmed(report: MonitorReport, known: Path) -> list[Finding]:
    """The findings left once the person running the monitor has said, command by
    command, which acts and key changes the agency's own system did issue; those are
    appended to the known list, so the next run knows them."""
    answers: dict[str | None, bool] = {}
    for finding in report.findings:
        if finding.kind in (UNKNOWN_COMMAND, KEY_CHANGE) and finding.command_id not in answers:
            answers[finding.command_id] = typer.confirm(
                f"{finding.message}.\nDid {report.agency}'s own system issue command "
                f"{finding.command_id}?", default=False, err=True)
    issued = [command for command, yes in answers.items() if yes and command]
    if issued:
        text = known.read_text(encoding="utf-8")
        with known.open("a", encoding="utf-8") as out:
            if text and not text.endswith("\n"):
                out.write("\n")
            out.writelines(f"{command}  # confirmed by docledger monitor --ask\n"
                           for command in issued)
    return [f for f in report.findings if not answers.get(f.command_id, False)
            or f.kind not in (UNKNOWN_COMMAND, KEY_CHANGE)]


def misbehaving(exc: LogMisbehaviourError | TileError, as_json: bool) -> NoReturn:
    if as_json:
        render.print_json({"ok": False, "log_misbehaving": str(exc)})
    render.err.print(f"[red]the ledger's log misbehaves[/] ({exc.code}): {escape(str(exc))}",
                     highlight=False)
    raise typer.Exit(LEDGER_MISBEHAVING)


def print_report(report: MonitorReport, as_json: bool) -> None:
    if as_json:
        render.print_json({"ok": not report.findings, **report.as_dict()})
        return
    out = render.out
    for line in report.verified:
        out.print(f"[green]verified[/]: {escape(line)}", highlight=False)
    for s in report.sightings:
        signed = (f"signed by {s.actor} key {', '.join(s.keyids)}" if s.actor != "ledger"
                  else "stated by the ledger")
        out.print(f"{s.at[:19].replace('T', ' ')}  leaf {s.leaf_index}  {s.event} ({s.why})  "
                  f"document {s.document or '-'}  command {render.shown(s.command_id or '-')}  "
                  f"{signed}", highlight=False)
    if not report.known_list:
        acts = len({s.command_id for s in report.sightings if s.why == "signed"})
        out.print(f"[yellow]no --known list[/]: {acts} command(s) signed in {report.agency}'s "
                  "name are listed, not checked against its own records")
    for f in report.findings:
        out.print(f"[red]finding[/] ({f.kind}): {escape(f.message)}", highlight=False)
    if not report.findings:
        out.print(f"[green]nothing flagged[/] for {report.agency} up to size {report.size}")
