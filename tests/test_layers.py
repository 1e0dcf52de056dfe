"""The import contracts of pyproject.toml hold: the layers api -> infrastructure -> domain,
and inside domain/ verification -> ledger -> exchange -> evidence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def contract_names() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [c["name"] for c in config["tool"]["importlinter"]["contracts"]]


def test_every_import_contract_is_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a dev dependency; install .[dev]"
    run = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    names = contract_names()
    assert "layers: api -> infrastructure -> domain" in names
    for name in names:
        assert f"{name} KEPT" in run.stdout, run.stdout
    assert f"{len(names)} kept, 0 broken" in run.stdout
