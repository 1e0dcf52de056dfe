"""The import contracts in pyproject.toml: domain/ imports neither infrastructure/ nor
api/; infrastructure/ never imports api/; domain's subjects are layered; the CLI's
command modules import neither each other nor the module that assembles them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_layer_contract_is_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a dev dependency; install .[dev]"
    run = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " kept, 0 broken" in run.stdout
