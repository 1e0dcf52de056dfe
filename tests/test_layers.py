"""The import contracts (pyproject.toml, import-linter): domain/ imports neither
infrastructure/ nor api/, nor a recorder module of eventsourcing; infrastructure/
never imports api/; domain's subjects are layered; the modules of a package import
one another without circles; the CLI's command modules import neither each other
nor the module that assembles them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = (
    "layers: api -> infrastructure -> domain",
    "domain subjects: verification -> ledger -> exchange -> evidence",
    "domain imports no recorder module of the event-store library",
    "no circles among the modules of a package",
    "cli commands: no command module imports another; api.cli assembles them",
    "cli assembly: what the commands use never imports api.cli",
)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a dev dependency; install .[dev]"
    return subprocess.run([lint], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept() -> None:
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in CONTRACTS:
        assert f"{name} KEPT" in run.stdout, run.stdout
    assert f"{len(CONTRACTS)} kept, 0 broken" in run.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The packages and their contracts, copied: a place to break them."""
    for package in ("domain", "infrastructure", "api"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def broken(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode != 0, run.stdout
    return run.stdout.split("Broken contracts", 1)[1]


def test_domain_module_importing_a_recorder_module_breaks_a_contract(copy: Path) -> None:
    (copy / "domain" / "stored.py").write_text("import eventsourcing.sqlite  # noqa: F401\n")
    found = broken(lint_imports(copy))
    assert CONTRACTS[2] in found
    assert "domain.stored -> eventsourcing.sqlite" in found


def test_modules_importing_each_other_break_a_contract(copy: Path) -> None:
    evidence = copy / "domain" / "evidence"
    (evidence / "first.py").write_text("from domain.evidence import second  # noqa: F401\n")
    (evidence / "second.py").write_text("from domain.evidence import first  # noqa: F401\n")
    found = broken(lint_imports(copy))
    assert CONTRACTS[3] in found
    assert "domain.evidence" in found
