"""Content-addressed blob store for attachments: bytes filed under SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from domain.errors import DigestMismatchError, NotFoundError

CHUNK = 1 << 20


class BlobStore:
    """Files under ``root/sha256/ab/cdef…``; a blob is written once, atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256[2:]

    def put(self, data: bytes, *, sha256: str | None = None) -> str:
        """Store ``data``; if ``sha256`` is given it must be the bytes' digest."""
        actual = hashlib.sha256(data).hexdigest()
        if sha256 is not None and sha256 != actual:
            raise DigestMismatchError(f"declared sha256 {sha256} but the bytes hash to {actual}")
        target = self.path_for(actual)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        return actual

    def get(self, sha256: str) -> bytes:
        try:
            data = self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no attachment with sha256 {sha256}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DigestMismatchError(f"stored attachment {sha256} is corrupted")
        return data

    def check(self, sha256: str, size: int) -> None:
        """Raise unless the store holds bytes of this digest and size."""
        data = self.get(sha256)
        if len(data) != size:
            raise DigestMismatchError(
                f"attachment {sha256} has {len(data)} bytes, the command says {size}"
            )
