"""Make a golden ledger with the code as it is: ``python -m tests.golden.make DIR``.

DIR gets a small but complete SQLite ledger (what ``docledger demo`` makes: agencies,
documents sent, accepted, refused, assigned, completed, recalled), its keys (with the
remembered ``keys/ledger.checkpoint`` and the DEVELOPMENT marker), a saved
``checkpoint.note``, the audit bundle of one document (``bundle.json``) and
``manifest.json`` with the figures an audit of it must report.

A golden ledger is made once, committed under tests/assets/golden/ and never made
again: it stands for history written by older code, which every later version must
still audit (tests/test_golden_ledger.py; docs/changing-commands.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from domain.exchange.document import Document
from infrastructure.bundle import build_bundle
from infrastructure.ledger import run_audit, trust_anchors
from infrastructure.service import LedgerService, bootstrap
from infrastructure.settings import Settings

FORMAT = 1  # the golden ledger's format version: a new one gets a folder of its own


def make(target: Path) -> dict[str, Any]:
    settings = Settings(data=target, backend="sqlite", group_commit=False)
    # in a process of its own, which leaves nothing open on the file when it ends
    subprocess.run([sys.executable, "-m", "api", "demo", "--data", str(target)], check=True,
                   env={**os.environ, "DOCLEDGER_BACKEND": "sqlite"})
    service = bootstrap(settings)
    checkpoint = service.log.store.latest_checkpoint()
    assert checkpoint is not None  # the demo signs one at its end
    (target / "checkpoint.note").write_text(checkpoint.note)
    document = first_document(service)
    bundle = build_bundle(service.app, service.log, document)
    (target / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False) + "\n")
    registrar, ledger = trust_anchors(settings)
    report = run_audit(service.app, registrar_key=registrar, ledger_key=ledger,
                       trusted_checkpoints=[checkpoint.note])
    manifest = {
        "format": FORMAT,
        "events": report.events,
        "commands": report.commands,
        "documents": documents_of(service),
        "bundle_document": str(document),
        "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex()},
    }
    service.app.close()
    shutil.rmtree(target / "demo-attachments", ignore_errors=True)
    (target / "keys" / "ledger.checkpoint.lock").unlink(missing_ok=True)
    compact(target / "ledger.sqlite")
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def first_document(service: LedgerService) -> UUID:
    return UUID(created_documents(service)[0])


def documents_of(service: LedgerService) -> int:
    return len(created_documents(service))


def created_documents(service: LedgerService) -> list[str]:
    """Ids of the documents created, in log order."""
    created = f"{Document.Created.__module__}:{Document.Created.__qualname__}"
    found = service.app.recorder.select_notifications(start=1, limit=100_000,
                                                       topics=[created])
    return [str(n.originator_id) for n in found]


def compact(db: Path) -> None:
    """One self-contained file: the write-ahead log folded in, free pages dropped."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM")
    conn.close()
    for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        assert not leftover.exists(), leftover


if __name__ == "__main__":
    print(json.dumps(make(Path(sys.argv[1])), indent=1))
