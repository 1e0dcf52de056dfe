"""``docledger`` run in the test's own process: its exit code, stdout and stderr.

A process of its own costs about a second of start-up; tests of what a command
says and does run it here instead (tests/api/test_cli.py keeps real processes
for what only a process shows)."""

from __future__ import annotations

import sys

import pytest

from api.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            *args: str) -> tuple[int, str, str]:
    """``docledger ARGS``: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["docledger", *args])
    with pytest.raises(SystemExit) as ended:
        main()
    captured = capsys.readouterr()
    return int(ended.value.code or 0), captured.out, captured.err
