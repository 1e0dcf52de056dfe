"""``docledger monitor`` and ``/v1/log/events``: what an agency learns about its name
and keys, and what it refuses to believe.

One ledger for the module (SQLite; the endpoint's reads also run on PostgreSQL in
test_an_agency_reads_only_the_events_naming_it_and_an_auditor_reads_all): agencies
A (G22) and B (H41) send each other documents, the registrar adds a key for A, and
A's key signs one command A's own system never recorded.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.remote import RemoteSession
from domain.evidence.checkpoint import Checkpoint, NoteKey, sign_note
from domain.evidence.keys import Ed25519Signer
from domain.exchange.agency import Agency
from domain.exchange.delivery import Delivery
from domain.verification.monitor import (
    KEY_CHANGE,
    OMISSION,
    UNKNOWN_COMMAND,
    LogEvent,
    LogMisbehaviourError,
    naming,
    parse_known,
)
from infrastructure.keyfiles import load_signer, write_key_pair
from infrastructure.ledger import DataFolder
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings
from tests.api.conftest import LiveServer
from tests.api.http_support import api_for, client_for
from tests.api.test_http_reads import AUDITOR, auditor_client, register_auditor
from tests.cli_support import run_cli
from tests.conftest import sqlite_settings
from tests.factories import OTHER, RECIPIENT, SENDER, ManualClock, World, header

A, B = SENDER, RECIPIENT


@pytest.fixture
def backend_env() -> dict[str, str]:
    """The live server runs on the module's ledger: the embedded default."""
    return {}
STOLEN = "stolen-key-send-1"  # signed with A's key; A's system never issued it


@dataclass
class Ledger:
    world: World
    service: LedgerService
    data: Path
    vkey: Path
    known: Path  # A's own list of the commands it issued
    a_commands: set[str]
    key_command: str
    documents: dict[str, str]
    auditor: Ed25519Signer

    @property
    def settings(self) -> Settings:
        return self.world.settings


def act(world: World, agency: str, type: str, fields: dict[str, Any], command_id: str) -> Any:
    return world.act(agency, type, fields, command_id=command_id)


def send(world: World, sender: str, recipients: list[str], tag: str) -> tuple[str, list[str]]:
    """A document created, signed, issued and sent; its id and the command ids used."""
    ids = [f"{tag}-{step}" for step in ("create", "sign", "issue", "send")]
    doc = str(act(world, sender, "document.create", {
        "document_id": f"{sender},{tag}", "header": header()}, ids[0]).result["document"])
    act(world, sender, "document.sign", {"document": doc,
                                         "signer": {"full_name": "Nguyễn Văn B"}}, ids[1])
    act(world, sender, "document.issue", {"document": doc}, ids[2])
    act(world, sender, "document.send", {"document": doc, "recipients": recipients}, ids[3])
    return doc, ids


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    tmp = tmp_path_factory.mktemp("monitor")
    world = World.create(sqlite_settings(tmp), clock=ManualClock(), agencies=(A, B, OTHER))
    a_doc, a_ids = send(world, A, [B], "a-to-b")
    b_doc, _ = send(world, B, [A, OTHER], "b-to-a")
    act(world, A, "delivery.accept", {"document": b_doc}, "a-accepts")
    act(world, B, "delivery.accept", {"document": a_doc}, "b-accepts")
    send(world, OTHER, [B], "other-to-b")  # names neither A's record nor a delivery to A
    key_command = "registrar-adds-a-key"
    act(world, "registrar", "agency.add_key",
        {"code": A, "key": Ed25519Signer.generate().public_key.to_spec()}, key_command)
    stolen = str(act(world, A, "document.create", {"document_id": f"{A},stolen",
                                                   "header": header()}, STOLEN).result["document"])
    auditor = register_auditor(world)
    service = bootstrap(world.settings, app=world.app)
    service.log.catch_up()
    service.log.issue_checkpoint(force=True)
    data = world.settings.data
    vkey = tmp / "ledger.vkey"
    vkey.write_text(service.log.note_key.vkey() + "\n")
    known = tmp / "a-known.txt"
    a_commands = {*a_ids, "a-accepts"}
    known.write_text("# commands issued by A's document system\n"
                     + "\n".join(sorted(a_commands)) + "\n")
    yield Ledger(world=world, service=service, data=data, vkey=vkey, known=known,
                 a_commands=a_commands, key_command=key_command,
                 documents={"a": a_doc, "b": b_doc, "stolen": stolen}, auditor=auditor)
    world.app.close()


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str) -> tuple[int, str, str]:
    """``docledger monitor ARGS`` in this process: its exit code and output."""
    return run_cli(capsys, monkeypatch, "monitor", *args)


def monitor_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                 ledger: Ledger, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, monkeypatch, "--agency", A, "--ledger-key", str(ledger.vkey),
                         "--data", str(ledger.data), "--json", *args)
    return code, json.loads(out) if out else {"stderr": err}


def test_monitor_lists_the_agencys_sends_deliveries_to_it_and_keys_added_for_it(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger) -> None:
    code, report = monitor_json(capsys, monkeypatch, ledger)
    events = report["events"]
    seen = {(e["event"], e["why"], e["document"]) for e in events}
    docs = ledger.documents
    assert ("Document.Sent", "signed", docs["a"]) in seen  # sent in its name
    assert ("Delivery.Dispatched", "delivery", docs["b"]) in seen  # a delivery to it
    assert ("Delivery.Arrived", "delivery", docs["b"]) in seen
    assert ("Delivery.Accepted", "signed", docs["b"]) in seen  # its own act on it
    assert ("Agency.KeyAdded", "agency", None) in seen  # a key added for it
    assert ("Agency.Registered", "agency", None) in seen
    assert any(e["why"] == "command record" for e in events)
    # nothing of B's acts on A's document, nor of OTHER's document to B
    assert not any(e["actor"] == B and e["document"] == docs["a"] for e in events)
    assert not any(e["actor"] == OTHER and e["why"] == "signed" for e in events)
    assert report["known_list"] is False
    # without a known list acts are listed, not judged; the key added is flagged
    assert {f["kind"] for f in report["findings"]} == {KEY_CHANGE}
    assert code == 1


def test_key_used_without_the_agency_knowing_is_flagged(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger) -> None:
    code, report = monitor_json(capsys, monkeypatch, ledger, "--known", str(ledger.known))
    assert code == 1
    unknown = [f for f in report["findings"] if f["kind"] == UNKNOWN_COMMAND]
    assert [f["command_id"] for f in unknown] == [STOLEN]
    assert ledger.world.keys[A].keyid in unknown[0]["message"]
    # the known list also clears the registrar's key change once A lists it
    listed = ledger.known.parent / "a-known-all.txt"
    listed.write_text(ledger.known.read_text() + f"{STOLEN}\n{ledger.key_command}  # our IT\n")
    code, report = monitor_json(capsys, monkeypatch, ledger, "--known", str(listed))
    assert (code, report["findings"]) == (0, [])


def test_the_report_for_people_names_what_when_which_document_and_key(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger) -> None:
    code, out, _ = run(capsys, monkeypatch, "--agency", A, "--ledger-key",
                       ledger.vkey.read_text().strip(), "--data", str(ledger.data))
    assert code == 1
    assert "no --known list" in out and "finding (key-change)" in out
    line = next(line for line in out.splitlines()
                if f"command {STOLEN}" in line and "(signed)" in line)
    assert "Document.Created" in line and ledger.documents["stolen"] in line
    assert f"signed by {A} key {ledger.world.keys[A].keyid}" in line


def test_since_reads_only_what_is_new_and_saves_the_new_checkpoint(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger, tmp_path: Path) -> None:
    saved = tmp_path / "a.note"
    code, first = monitor_json(capsys, monkeypatch, ledger, "--since", str(saved))
    assert code == 1 and first["events"]
    assert saved.read_text() == first["checkpoint"]
    code, again = monitor_json(capsys, monkeypatch, ledger, "--since", str(saved))
    assert (code, again["events"], again["since"]) == (0, [], first["tree_size"])
    assert any("extends the saved checkpoint" in v for v in again["verified"])


def forked_note(ledger: Ledger, size: int) -> str:
    """A checkpoint of ``size`` leaves with a root of another history, signed with the
    real ledger key: what an operator who forked the log would have shown."""
    signer = load_signer(DataFolder(ledger.data).ledger_key)
    key = NoteKey.parse(ledger.vkey.read_text())
    other = Checkpoint(origin=key.name, size=size, root=bytes(32))
    return sign_note(other.body(), NoteKey.from_public_key(key.name, signer.public_key), signer)


@pytest.mark.parametrize("shift", [-3, 0, 5], ids=["older", "same-size", "larger"])
def test_monitor_refuses_a_log_that_forked_since_the_saved_checkpoint(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger, tmp_path: Path, shift: int) -> None:
    latest = ledger.service.log.store.latest_checkpoint()
    assert latest is not None
    saved = tmp_path / "a.note"
    saved.write_text(forked_note(ledger, latest.size + shift))
    before = saved.read_text()
    code, out, err = run(capsys, monkeypatch, "--agency", A, "--ledger-key", str(ledger.vkey),
                         "--data", str(ledger.data), "--since", str(saved))
    assert code == 2, out + err
    assert "log misbehaves" in err and ("forked" in err or "shrank" in err)
    assert saved.read_text() == before  # the evidence of the fork is kept as it was


def test_a_checkpoint_that_is_not_the_ledgers_is_refused(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger, tmp_path: Path) -> None:
    impostor = Ed25519Signer.generate()
    vkey = NoteKey.from_public_key(NoteKey.parse(ledger.vkey.read_text()).name,
                                   impostor.public_key).vkey()
    code, _, err = run(capsys, monkeypatch, "--agency", A, "--ledger-key", vkey,
                       "--data", str(ledger.data))
    assert code == 2 and "does not verify with the ledger key" in err


# ---- over the API ----------------------------------------------------------------------


def events_as(http: Any, client: Any, start: int = 0, limit: int = 1000) -> dict[str, Any]:
    answer = http.get("/v1/log/events", params={"start": start, "limit": limit},
                      auth=None if client is None else client.auth)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_an_agency_reads_only_the_events_naming_it_and_an_auditor_reads_all(
        world: World) -> None:
    doc = world.sent(SENDER, (RECIPIENT,))
    world.sent(OTHER, (RECIPIENT,))
    auditor = register_auditor(world)
    service = bootstrap(world.settings, app=world.app)
    service.log.catch_up()
    service.log.issue_checkpoint(force=True)
    with api_for(world) as http:
        everything = events_as(http, auditor_client(http, auditor))
        size = everything["tree_size"]
        assert everything["end"] == size
        assert [e["leaf_index"] for e in everything["events"]] == list(range(size))
        all_events = [LogEvent.from_dict(e) for e in everything["events"]]
        for code in (SENDER, RECIPIENT, OTHER):
            mine = events_as(http, client_for(http, world, code))
            assert mine["events"] == [e.as_dict() for e, _ in naming(all_events, code)]
        sender_sees = {e["aggregate_id"] for e in events_as(
            http, client_for(http, world, SENDER))["events"]}
        assert str(Agency.id_for(OTHER)) not in sender_sees
        assert str(Agency.id_for(SENDER)) in sender_sees
        # paged: the same events, a whole command at a time
        paged, start = [], 0
        while start < size:
            page = events_as(http, client_for(http, world, RECIPIENT), start, 7)
            paged += page["events"]
            start = page["end"]
        assert paged == events_as(http, client_for(http, world, RECIPIENT))["events"]
        delivery = str(Delivery.id_for(UUID(doc), RECIPIENT))
        assert {e["topic"].rsplit(".", 1)[1] for e in paged
                if e["aggregate_id"] == delivery} == {"Dispatched", "Arrived"}
        refused = http.get("/v1/log/events", auth=client_for(http, world, "registrar").auth)
        assert refused.status_code == 403
        assert http.get("/v1/log/events").status_code == 401


def test_an_agency_cannot_read_another_agencys_events_through_the_log(
        world: World) -> None:
    world.sent(SENDER, (OTHER,))  # between G22 and H51 only
    service = bootstrap(world.settings, app=world.app)
    service.log.catch_up()
    service.log.issue_checkpoint(force=True)
    with api_for(world) as http:
        seen = events_as(http, client_for(http, world, RECIPIENT))["events"]
        # its own registration and the registrar's record of it, nothing else
        assert {e["topic"].rsplit(":", 1)[1] for e in seen} == {
            "Agency.Registered", "CommandRecord.Accepted"}
        assert {e["aggregate_id"] for e in seen if "Agency" in e["topic"]} == {
            str(Agency.id_for(RECIPIENT))}
        states = b"".join(base64.b64decode(e["state"]) for e in seen)
        assert SENDER.encode() not in states and OTHER.encode() not in states
        # nor can its key sign a read in another agency's name
        impostor = client_for(http, world, RECIPIENT)
        impostor.auth.keyid = f"{SENDER}:{world.keys[RECIPIENT].keyid}"
        assert http.get("/v1/log/events", auth=impostor.auth).status_code == 401


class TamperingSession(RemoteSession):
    """The API as a monitor sees it through a hostile network: the recipient's
    acceptance (03) of one delivery turned into a refusal (02) on the way."""

    def log_events(self, party: str | None, start: int, limit: int) -> dict[str, Any]:
        page = super().log_events(party, start, limit)
        for event in page["events"]:
            if event["topic"].endswith("Delivery.Accepted"):
                state = base64.b64decode(event["state"])
                assert b'"03"' in state
                event["state"] = base64.b64encode(state.replace(b'"03"', b'"02"')).decode()
        return page


def test_an_event_altered_in_transit_fails_its_inclusion_check(
        ledger: Ledger, tmp_path: Path) -> None:
    from api.cli_monitor import watch

    key_file = tmp_path / "a.key"
    write_key_pair(ledger.world.keys[A], key_file)
    note_key = NoteKey.parse(ledger.vkey.read_text())
    with api_for(ledger.world) as http:
        honest = RemoteSession("http://testserver", key_file, http=http)  # type: ignore[arg-type]
        report = watch(honest, A, A, note_key, None, None, 500)
        assert any(s.event == "Delivery.Accepted" for s in report.sightings)
        hostile = TamperingSession("http://testserver", key_file,
                                   http=http)  # type: ignore[arg-type]
        with pytest.raises(LogMisbehaviourError, match="not in the log"):
            watch(hostile, A, A, note_key, None, None, 500)


def test_monitor_runs_from_cron_against_a_live_server(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, ledger: Ledger, serve: Callable[[Path], LiveServer]) -> None:
    """As a cron job runs it: --server, the agency's own key, --since, --known."""
    key_file = tmp_path / "a.key"
    write_key_pair(ledger.world.keys[A], key_file)
    server = serve(ledger.data)
    code, out, err = run(capsys, monkeypatch, "--agency", A, "--server", server.url,
                         "--key", str(key_file), "--ledger-key", str(ledger.vkey),
                         "--since", str(tmp_path / "a.note"), "--known", str(ledger.known),
                         "--json")
    assert code == 1, err
    report = json.loads(out)
    assert [f["command_id"] for f in report["findings"]
            if f["kind"] == UNKNOWN_COMMAND] == [STOLEN]
    assert (tmp_path / "a.note").read_text() == report["checkpoint"]


class GapSession(RemoteSession):
    """An operator leaving one event out of what an auditor is shown."""

    def log_events(self, party: str | None, start: int, limit: int) -> dict[str, Any]:
        page = super().log_events(party, start, limit)
        page["events"] = [e for e in page["events"] if e["leaf_index"] != start + 1]
        return page


def test_an_auditor_sees_what_the_agency_sees_and_every_leaf_is_accounted_for(
        ledger: Ledger, tmp_path: Path) -> None:
    from api.cli_monitor import watch

    agency_key, auditor_key = tmp_path / "a.key", tmp_path / "auditor.key"
    write_key_pair(ledger.world.keys[A], agency_key)
    write_key_pair(ledger.auditor, auditor_key)
    note_key = NoteKey.parse(ledger.vkey.read_text())
    reader = f"auditor/{AUDITOR}"
    with api_for(ledger.world) as http:
        own = watch(RemoteSession("http://testserver", agency_key, http=http),  # type: ignore[arg-type]
                    A, A, note_key, None, None, 500)
        audited = watch(RemoteSession("http://testserver", auditor_key,
                                      http=http),  # type: ignore[arg-type]
                        A, reader, note_key, None, None, 500)
        assert audited.sightings == own.sightings
        hidden = GapSession("http://testserver", auditor_key, http=http)  # type: ignore[arg-type]
        with pytest.raises(LogMisbehaviourError, match="not hold every one"):
            watch(hidden, A, reader, note_key, None, None, 500)


# ---- with tiles --------------------------------------------------------------------------


class HidingSession(RemoteSession):
    """An operator hiding the key added for A from A's feed, with its command record."""

    def log_events(self, party: str | None, start: int, limit: int) -> dict[str, Any]:
        page = super().log_events(party, start, limit)
        hidden = {e["leaf_index"] for e in page["events"] if e["topic"].endswith("KeyAdded")}
        page["events"] = [e for e in page["events"] if e["leaf_index"] not in hidden
                          and e["leaf_index"] + 1 not in hidden]
        return page


@pytest.mark.parametrize("operator", [RemoteSession, HidingSession, TamperingSession],
                         ids=["honest", "hiding", "tampering"])
def test_with_tiles_events_are_proved_and_a_hidden_key_change_is_an_omission(
        ledger: Ledger, tmp_path: Path, operator: type[RemoteSession]) -> None:
    from api.cli_monitor import watch
    from infrastructure.tile_reader import TileReader

    key_file = tmp_path / "a.key"
    write_key_pair(ledger.world.keys[A], key_file)
    note_key = NoteKey.parse(ledger.vkey.read_text())
    with api_for(ledger.world) as http:
        session = operator("http://testserver", key_file, http=http)  # type: ignore[arg-type]
        tiles = TileReader.open("http://testserver", http=http)  # type: ignore[arg-type]
        if operator is TamperingSession:
            with pytest.raises(LogMisbehaviourError, match="not the leaf the tiles hold"):
                watch(session, A, A, note_key, None, None, 500, tiles)
            return
        report = watch(session, A, A, note_key, None, None, 500, tiles)
    assert any("one history with the API's" in v for v in report.verified)
    omitted = [f for f in report.findings if f.kind == OMISSION]
    if operator is RemoteSession:
        assert omitted == [] and any(s.event == "Agency.KeyAdded" for s in report.sightings)
    else:
        assert len(omitted) == 1 and "Agency.KeyAdded" in omitted[0].message


def test_monitor_reads_tiles_exported_to_a_directory(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger, tmp_path: Path) -> None:
    from infrastructure.tiles import export_tiles

    export_tiles(ledger.service, tmp_path / "tiles")
    code, report = monitor_json(capsys, monkeypatch, ledger, "--tiles", str(tmp_path / "tiles"),
                                "--known", str(ledger.known))
    assert code == 1
    assert [(f["kind"], f["command_id"]) for f in report["findings"]] == [
        (KEY_CHANGE, ledger.key_command), (UNKNOWN_COMMAND, STOLEN)]
    assert any("tiles' checkpoint" in v for v in report["verified"])


def test_asked_the_agency_confirms_what_its_system_did_and_the_rest_stays_flagged(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        ledger: Ledger, tmp_path: Path) -> None:
    known = tmp_path / "known.txt"
    known.write_text(ledger.known.read_text().rstrip("\n"))  # no final newline
    # the registrar's key change: yes, requested by us; the stolen command: no
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\nn\n"))
    code, report = monitor_json(capsys, monkeypatch, ledger, "--known", str(known), "--ask")
    assert code == 1
    assert [(f["kind"], f["command_id"]) for f in report["findings"]] == [
        (UNKNOWN_COMMAND, STOLEN)]
    assert parse_known(known.read_text()) == {*ledger.a_commands, ledger.key_command}
    code, again = monitor_json(capsys, monkeypatch, ledger, "--known", str(known))
    assert [f["command_id"] for f in again["findings"]] == [STOLEN]
