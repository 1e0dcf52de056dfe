"""A command closes the ledger it opened before the process ends, however it ended.

Left to the garbage collector at the interpreter's exit, closing a PostgreSQL
ledger waited on a lock a frozen daemon thread held, and the process hung after
printing its error (seen once in some dozens of runs against a store that was
down); closed by the command line while its threads still run, it cannot.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from api import cli_options
from infrastructure.service import LedgerService
from tests.cli_support import run_cli


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[LedgerService]:
    """Every service the commands run here open (the real ones, on a real store)."""
    services: list[LedgerService] = []
    real = cli_options.bootstrap

    def bootstrap(settings: object) -> LedgerService:
        services.append(real(settings))  # type: ignore[arg-type]
        return services[-1]

    monkeypatch.setattr(cli_options, "bootstrap", bootstrap)
    return services


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "D"
    code, _, err = run_cli(capsys, monkeypatch, "init", "--data", str(folder))
    assert code == 0, err
    return folder


def test_a_command_that_succeeds_closes_the_ledger_it_opened(
        data: Path, opened: list[LedgerService], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "inbox", "000.00.00.X99", "--data",
                           str(data))
    assert code == 0, err
    assert opened and all(service.closed for service in opened)


def test_a_command_that_fails_closes_the_ledger_it_opened(
        data: Path, opened: list[LedgerService], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    code, _, err = run_cli(capsys, monkeypatch, "history", unknown, "--data", str(data))
    assert code == 4 and "(not-found)" in err, err
    assert opened and all(service.closed for service in opened)


def test_a_service_opened_outside_the_command_lines_main_is_not_held_open(
        data: Path) -> None:
    # commands invoked without main (a test's CliRunner, a caller of the module)
    # leave their service to whoever holds it: nothing keeps it, or its
    # connections, alive
    service = cli_options.open_service(data)
    gone = weakref.ref(service)
    del service
    gc.collect()
    assert gone() is None
