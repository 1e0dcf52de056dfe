"""Key files: PEM private keys (mode 0600) and PEM public keys beside them."""

from __future__ import annotations

import os
from pathlib import Path

from domain.errors import InvalidInputError, NotFoundError
from domain.evidence.keys import (
    Ed25519Signer,
    KeySigner,
    PublicKey,
    Signer,
    public_key_from_pem,
    public_key_pem,
)


def write_key_pair(signer: Ed25519Signer, path: Path) -> Path:
    """Write ``path`` (private, 0600) and ``path.pub``; refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(signer.private_pem())
    public_path(path).write_bytes(public_key_pem(signer.public_key))
    return path


def public_path(path: Path) -> Path:
    return path.with_name(path.name + ".pub") if path.suffix != ".pub" else path


def _private_pem(path: Path) -> bytes:
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"key file {path} does not exist") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise InvalidInputError(
            f"private key {path} is readable by others (mode {mode:o}); chmod 600 it"
        )
    return pem


def load_signer(path: Path) -> Ed25519Signer:
    """An Ed25519 key: the ledger's, the registrar's, a witness's, an agency's own."""
    return Ed25519Signer.from_pem(_private_pem(path))


def load_command_signer(path: Path, algorithm: str | None = None) -> Signer:
    """A key that signs commands: Ed25519, or the RSA or ECDSA key of an agency's
    certificate (``algorithm`` chooses PSS for RSA; docs/trust.md)."""
    pem = _private_pem(path)
    try:
        return Ed25519Signer.from_pem(pem)
    except InvalidInputError:
        return KeySigner.from_pem(pem, algorithm)


def load_public_key(path: Path) -> PublicKey:
    """Load a public key from ``path`` (or from ``path.pub`` if given the private key)."""
    target = path if path.suffix == ".pub" else public_path(path)
    try:
        return public_key_from_pem(target.read_bytes())
    except FileNotFoundError:
        raise NotFoundError(f"public key file {target} does not exist") from None
