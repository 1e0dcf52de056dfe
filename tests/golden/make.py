"""Make a golden ledger with the code as it is: ``python -m tests.golden.make DIR``.

DIR gets a small but complete SQLite ledger (what ``docledger demo`` makes: agencies,
documents sent, accepted, refused, assigned, completed, recalled), its keys (with the
remembered ``keys/ledger.checkpoint`` and the DEVELOPMENT marker), a saved
``checkpoint.note``, the audit bundle of one document (``bundle.json``) and
``manifest.json`` with the figures an audit of it must report.

From format 2 on, after the demo (so the first golden's recipe is unchanged), the
schema-2 commands of edXML messages imported by their senders
(tests/golden/edxml_history.py): each names its message as ``source`` with what
its XML signature said (valid, invalid, absent); their messages' bytes stay in
``blobs/``; ``bundle.json`` is the bundle of the document they act on, and the
manifest names a delivery of the demo still open to new commands
(``live_document``, ``live_recipient``).

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
from tests.golden.edxml_history import edxml_history

FORMAT = 2  # the golden ledger's format version: a new one gets a folder of its own
# 1: tests/assets/golden (the demo); 2: tests/assets/golden-v2 (and edXML imports)


def make(target: Path) -> dict[str, Any]:
    settings = Settings(data=target, backend="sqlite", group_commit=False)
    # in a process of its own, which leaves nothing open on the file when it ends
    subprocess.run([sys.executable, "-m", "api", "demo", "--data", str(target)], check=True,
                   env={**os.environ, "DOCLEDGER_BACKEND": "sqlite"})
    service = bootstrap(settings)
    extra: dict[str, Any] = {}
    if FORMAT >= 2:
        extra = edxml_history(service)
        service.log.issue_checkpoint(force=True)
    # from format 2 the bundle is of the document the edXML messages act on
    document = UUID(extra.pop("bundle_document", None) or first_document(service))
    bundle = build_bundle(service.app, service.log, document)
    (target / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False) + "\n")
    checkpoint = service.log.store.latest_checkpoint()  # the demo's, or the bundles'
    assert checkpoint is not None
    (target / "checkpoint.note").write_text(checkpoint.note)
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
        **extra,
    }
    service.app.close()
    shutil.rmtree(target / "demo-attachments", ignore_errors=True)
    (target / "keys" / "ledger.checkpoint.lock").unlink(missing_ok=True)
    (target / "ledger.sqlite.schema-lock").unlink(missing_ok=True)
    compact(target / "ledger.sqlite")
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def first_document(service: LedgerService) -> UUID:
    return UUID(created_documents(service)[0])


def documents_of(service: LedgerService) -> int:
    return len(created_documents(service))


def created_documents(service: LedgerService) -> list[str]:
    """Ids of the documents created, in log order."""
    found = service.app.recorder.select_notifications(start=1, limit=100_000,
                                                       topics=[Document.Created.TOPIC])
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
