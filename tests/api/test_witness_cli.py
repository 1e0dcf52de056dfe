"""``docledger witness`` commands that need no server: init, vkey, add-log, and the
clear refusals of a folder they cannot use (run in-process: the sub-app itself)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli_witness import witness_app
from domain.errors import DuplicateError, InvalidInputError, NotInitialisedError
from domain.evidence.cosignature import CosignerKey
from infrastructure.witness_folder import WitnessFolder
from tests.witness_support import ToyLog

runner = CliRunner()
A_LOG = ToyLog("some.log.test/ledger").vkey


def test_init_makes_a_private_key_and_prints_the_vkey(tmp_path: Path) -> None:
    log = ToyLog("a.log.test/ledger")
    data = tmp_path / "W"
    made = runner.invoke(witness_app, ["init", "--name", "w.test/w1", "--data", str(data),
                                       "--log", log.vkey])
    assert made.exit_code == 0, made.output
    key = CosignerKey.parse(made.stdout.strip().splitlines()[-1])
    assert key.name == "w.test/w1"
    assert (data / "witness.key").stat().st_mode & 0o777 == 0o600
    assert runner.invoke(witness_app, ["vkey", "--data", str(data)]).stdout == key.vkey() + "\n"
    assert WitnessFolder(data).logs().keys_for(log.key.name) == [log.key]

    other = ToyLog("b.log.test/ledger")
    added = runner.invoke(witness_app, ["add-log", other.vkey, "--data", str(data),
                                        "https://b.log.test"])
    assert added.exit_code == 0, added.output
    assert [t.url for t in WitnessFolder(data).logs().logs] == [None, "https://b.log.test"]
    again = runner.invoke(witness_app, ["add-log", other.vkey, "--data", str(data)])
    assert isinstance(again.exception, InvalidInputError)
    twice = runner.invoke(witness_app, ["init", "--name", "w.test/w1", "--data", str(data)])
    assert isinstance(twice.exception, DuplicateError)


@pytest.mark.parametrize("args", [["vkey"], ["evidence"], ["add-log", A_LOG], ["serve"]])
def test_commands_on_a_folder_without_a_witness_say_so(tmp_path: Path,
                                                      args: list[str]) -> None:
    done = runner.invoke(witness_app, [*args, "--data", str(tmp_path / "none")])
    assert isinstance(done.exception, NotInitialisedError), done.output
    assert not (tmp_path / "none").exists()


def test_a_world_readable_key_or_a_broken_list_of_logs_is_refused(tmp_path: Path) -> None:
    folder = WitnessFolder(tmp_path / "W")
    folder.init("w.test/w1", [])
    folder.logs_file.write_text("log nonsense\n")
    with pytest.raises(InvalidInputError, match="logs line 1"):
        folder.logs()
    folder.key_file.chmod(0o644)
    with pytest.raises(InvalidInputError, match="readable by others"):
        folder.signer()


def test_bad_witness_name_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        WitnessFolder(tmp_path / "W").init("has space", [])
    assert not (tmp_path / "W").exists()


def test_init_adds_the_logs_given_to_a_list_written_beforehand(tmp_path: Path) -> None:
    first, second = ToyLog("first.log.test/l"), ToyLog("second.log.test/l")
    folder = WitnessFolder(tmp_path / "W")
    folder.path.mkdir()
    folder.logs_file.write_text(f"log {first.vkey}\n")
    folder.init("w.test/w1", [second.vkey])
    assert folder.logs().origins() == {first.key.name, second.key.name}
    again = WitnessFolder(tmp_path / "W2")
    again.path.mkdir()
    again.logs_file.write_text(f"log {first.vkey}\n")
    with pytest.raises(InvalidInputError, match="twice"):
        again.init("w.test/w2", [first.vkey])
    assert sorted(p.name for p in again.path.iterdir()) == ["logs"]
