"""The latest checkpoint this ledger signed, remembered outside its database.

A file beside the ledger key holds the signed note of the newest checkpoint, as
published. It is written (temporary file, fsync, rename, fsync of the folder)
before the checkpoint is stored or shown to anyone, so whatever later happens to
the database — restored from an old backup, its Merkle tables emptied — the
ledger still knows the tree it must extend, and refuses to sign one that does
not (``LedgerLog.issue_checkpoint``).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RememberedCheckpoint:
    """The file holding the newest signed checkpoint note (C2SP signed-note text)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._cached: tuple[tuple[int, int, int], str] | None = None

    def read(self) -> str | None:
        """The remembered note, or None before the first checkpoint. Read again
        only when the file changed: the sequencer asks after every command."""
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1]
            note = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        self._cached = (key, note)
        return note

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the file for one check-sign-remember step: two issuers (the API and
        a command-line run, say) must not remember out of order."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def write(self, note: str) -> None:
        """Replace the remembered note durably: after this returns, a crash leaves
        either the old note or the new one, never a torn file or none."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(note)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
