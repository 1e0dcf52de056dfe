"""The README's recipes run as written, and what a new user tripped on stays mended."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.api.test_cli import docledger

README = Path(__file__).resolve().parents[2] / "README.md"
RECIPE = re.compile(r"<!-- recipe:[^>]*-->\n```sh\n(.*?)```", re.S)


def recipes() -> list[str]:
    return RECIPE.findall(README.read_text())


def test_readme_recipes_run_as_written_on_a_new_data_folder(tmp_path: Path) -> None:
    blocks = recipes()
    assert len(blocks) == 2, "the README's usage and auditor recipes are marked for this test"
    (tmp_path / "qd.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    bin_dir = str(Path(sys.executable).parent)  # where `docledger` is installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCLEDGER_")}
    env |= {"PATH": bin_dir + os.pathsep + env.get("PATH", ""), "DOCLEDGER_DATA": "D",
            "COLUMNS": "200"}
    script = "set -euo pipefail\n" + "\n".join(blocks)
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "consistent" in run.stdout and "audit passed" in run.stdout
    assert (tmp_path / "D" / "keys" / "ledger.key").exists()


def test_version_is_printed() -> None:
    done = docledger("--version")
    assert done.returncode == 0 and re.fullmatch(r"docledger \d+\.\d+\.\d+\n", done.stdout)


def test_local_only_commands_do_not_offer_server_in_their_help() -> None:
    for command in ("serve", "demo", "audit", "init", "check-views", "verify-bundle"):
        shown = docledger(command, "--help")
        assert shown.returncode == 0 and "--server" not in shown.stdout, command
    assert "--server" in docledger("send", "--help").stdout


def test_second_demo_into_one_folder_is_refused_unless_asked_again(tmp_path: Path) -> None:
    data = str(tmp_path / "D")
    assert docledger("demo", "--data", data).returncode == 0
    size = (tmp_path / "D" / "ledger.sqlite").stat().st_size
    again = docledger("demo", "--data", data)
    assert again.returncode == 6 and "--again" in again.stderr
    assert (tmp_path / "D" / "ledger.sqlite").stat().st_size == size
    more = docledger("demo", "--again", "--data", data)
    assert more.returncode == 0, more.stderr
    assert docledger("audit", "--data", data).returncode == 0


def test_demo_never_writes_into_a_ledger_it_did_not_make(tmp_path: Path) -> None:
    data = str(tmp_path / "D")
    assert docledger("init", "--data", data).returncode == 0
    refused = docledger("demo", "--again", "--data", data)
    assert refused.returncode == 6 and "did not make" in refused.stderr
    assert not (tmp_path / "D" / "keys" / "DEVELOPMENT").exists()


def test_missing_attachment_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    data = str(tmp_path / "D")
    assert docledger("demo", "--data", data).returncode == 0
    sent = docledger("send", "--as", "000.22.31.H29", "--to", "000.01.31.H29", "--subject",
                     "Về việc thử", "--notation", "CV-SNV", "--attach",
                     str(tmp_path / "missing.pdf"), "--data", data)
    assert sent.returncode == 2
    assert "missing.pdf" in sent.stderr and "Traceback" not in sent.stderr


def test_a_missing_file_named_on_the_command_line_is_one_line_and_exit_2(
        tmp_path: Path) -> None:
    missing = str(tmp_path / "old.note")
    done = docledger("verify-consistency", missing, missing, "--proof", missing,
                     "--ledger-key", "x+y+z")
    assert done.returncode == 2, done.stderr
    assert "old.note" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_ci_runs_the_readmes_test_command_with_every_gate_before_the_tests() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README.read_text(), re.S)
    (readme_command,) = [b for b in blocks if "pytest" in b]
    ci_command = (README.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command == readme_command
    steps = readme_command.split(" && ")
    gates = [".venv/bin/ruff check .", ".venv/bin/lint-imports", ".venv/bin/mypy"]
    assert steps[-1].startswith(".venv/bin/python -m pytest") and set(gates) <= set(steps)
