"""Helpers for ledgers whose agencies hold certificate-backed keys (tests/pki.py)."""

from __future__ import annotations

import base64
from typing import Any

from domain.evidence.keys import KeySigner
from domain.ledger.application import Outcome
from tests.factories import SENDER, World
from tests.pki import Issued


def b64(issued: Issued) -> str:
    return base64.b64encode(issued.der).decode()


def trust(world: World, root: Issued, code_attribute: str = "UID") -> Outcome:
    return world.act("registrar", "trust.add_anchor",
                     {"certificate": b64(root), "code_attribute": code_attribute})


def add_cert_fields(leaf: Issued, chain: tuple[Issued, ...] = (), *, code: str = SENDER,
                    **extra: Any) -> dict[str, Any]:
    return {"code": code, "certificate": b64(leaf), "chain": [b64(c) for c in chain],
            **extra}


def use_certificate(world: World, leaf: Issued, chain: tuple[Issued, ...], *,
                    code: str = SENDER, algorithm: str | None = None,
                    actor: str | None = None) -> KeySigner:
    """Register ``leaf``'s key for ``code`` (signed by the agency's current key, or
    ``actor``) and make it the key the world signs the agency's commands with."""
    extra = {} if algorithm is None else {"algorithm": algorithm}
    world.act(actor or code, "agency.add_cert", add_cert_fields(leaf, chain, code=code, **extra))
    signer = KeySigner(leaf.key, algorithm)
    world.keys[code] = signer  # type: ignore[assignment]
    return signer
