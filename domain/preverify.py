"""Bulk signature verification, cheap to import in worker processes.

The audit hands pages of stored events to other cores; each worker verifies
every envelope signature it can and returns digests of the valid ones. The
replay then skips those. Anything a worker cannot verify is left to the replay,
which verifies it itself and names the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from domain.envelope import Envelope, pae
from domain.errors import DocLedgerError, VerificationError
from domain.keys import PublicKey


def signature_digest(spki_der: bytes, message: bytes, sig: bytes) -> bytes:
    """Names one (key, message, signature) triple found valid."""
    return hashlib.sha256(b"%d:" % len(spki_der) + spki_der + sig + message).digest()


def key_specs_in(rows: Iterable[tuple[str, bytes]]) -> dict[str, bytes]:
    """keyid -> SPKI DER of every key registered by the given (topic, state) rows."""
    found: dict[str, bytes] = {}
    for topic, state in rows:
        if not topic.startswith(("domain.agency:Agency.", "domain.auditor:Auditor.",
                                  "domain.root:LedgerRoot.")):
            continue
        try:
            doc = json.loads(state)
        except ValueError:
            continue  # the replay names the bad event
        specs = [*doc.get("keys", []), doc.get("key"), doc.get("registrar_key"),
                 doc.get("ledger_key")]
        for spec in specs:
            if isinstance(spec, dict):
                try:
                    key = PublicKey.from_spec(spec)
                except DocLedgerError:
                    continue
                found[key.keyid] = key.spki_der
    return found


def preverify(rows: list[bytes], keys: dict[str, bytes]) -> set[bytes]:
    """Digests of every envelope signature in ``rows`` (stored states) that verifies
    with a known key. Invalid or unknown ones are simply left out: the replay
    then verifies them itself and names the event."""
    found: set[bytes] = set()
    for state in rows:
        try:
            envelope = Envelope.from_dict(json.loads(state)["envelope"])
        except (ValueError, KeyError, TypeError, DocLedgerError):
            continue
        message = pae(envelope.payload_type, envelope.payload)
        for sig in envelope.signatures:
            spki = keys.get(sig.keyid)
            if spki is None:
                continue
            key = PublicKey(keyid=sig.keyid, algorithm="ed25519", spki_der=spki)
            try:
                key.verify(sig.sig, message)
            except VerificationError:
                continue
            found.add(signature_digest(spki, message, sig.sig))
    return found
