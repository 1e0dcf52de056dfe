"""Content-addressed blob store for attachments: bytes filed under SHA-256.

Bytes come in through a temporary file beside the blobs, hashed as they are
written, so an upload of any size costs the server a chunk of memory, not the
upload; they are filed under their digest by one atomic rename, or removed.
Stored blobs are read back and checked the same way, a chunk at a time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from domain.errors import DigestMismatchError, NotFoundError

CHUNK = 1 << 20
INCOMING_PREFIX = ".incoming-"


class IncomingBlob:
    """Bytes on their way into the store: a temporary file and the running SHA-256."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        store.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.root, prefix=INCOMING_PREFIX)
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.kept = False

    @property
    def sha256(self) -> str:
        return self.hash.hexdigest()

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)

    def keep(self, *, sha256: str | None = None) -> bool:
        """File the bytes under their digest (durably: fsync, then rename); True if they
        were not held before. If ``sha256`` is given it must be the bytes' digest."""
        actual = self.sha256
        if sha256 is not None and sha256 != actual:
            raise DigestMismatchError(f"declared sha256 {sha256} but the bytes hash to {actual}")
        target = self.store.path_for(actual)
        if target.exists():
            return False
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        self.kept = True
        return True

    def discard(self) -> None:
        """Remove the temporary file unless its bytes were filed."""
        self.file.close()
        if not self.kept:
            self.path.unlink(missing_ok=True)


class BlobStore:
    """Files under ``root/sha256/ab/cdef…``; a blob is written once, atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256[2:]

    @contextmanager
    def receive(self) -> Iterator[IncomingBlob]:
        """A blob to write chunk by chunk and ``keep``; whatever is not kept when the
        block ends (a refusal, a mismatch, a client gone) leaves no file behind."""
        incoming = IncomingBlob(self)
        try:
            yield incoming
        finally:
            incoming.discard()

    def put(self, data: bytes, *, sha256: str | None = None) -> str:
        """Store ``data``; if ``sha256`` is given it must be the bytes' digest."""
        with self.receive() as incoming:
            incoming.write(data)
            incoming.keep(sha256=sha256)
        return incoming.sha256

    def verified_path(self, sha256: str) -> Path:
        """The blob's file, once its bytes (read a chunk at a time) hash to ``sha256``."""
        path = self._read(sha256)
        digest = hashlib.sha256()
        with path.open("rb") as blob:
            while chunk := blob.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise DigestMismatchError(f"stored attachment {sha256} is corrupted")
        return path

    def check(self, sha256: str, size: int) -> None:
        """Raise unless the store holds bytes of this digest and size."""
        held = self.verified_path(sha256).stat().st_size
        if held != size:
            raise DigestMismatchError(
                f"attachment {sha256} has {held} bytes, the command says {size}"
            )

    def _read(self, sha256: str) -> Path:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFoundError(f"no attachment with sha256 {sha256}")
        return path
