"""DSSE envelopes (Dead Simple Signing Envelope, secure-systems-lab/dsse v1).

Signatures are over the pre-authentication encoding (PAE)::

    "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where LEN is the ASCII decimal byte length. We sign and verify bytes: the
payload bytes received are the bytes kept, so nothing is re-serialised.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidEnvelopeError, InvalidSignatureError
from domain.evidence.keys import PublicKey, Signer

COMMAND_TYPE = "application/vnd.docledger.command+json"
STATEMENT_TYPE = "application/vnd.docledger.statement+json"
MAX_SIGNATURES = 4


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True, kw_only=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """A DSSE envelope: payload type, payload bytes and signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    @classmethod
    def sign(cls, payload_type: str, payload: bytes, signer: Signer) -> Envelope:
        sig = signer.sign(pae(payload_type, payload))
        return cls(
            payload_type=payload_type,
            payload=payload,
            signatures=(Signature(keyid=signer.keyid, sig=sig),),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse the DSSE JSON form; raise InvalidEnvelopeError on any defect."""
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidEnvelopeError(f"envelope is not JSON: {exc}") from None
        except RecursionError:
            raise InvalidEnvelopeError("envelope JSON is nested too deeply") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> Envelope:
        if not isinstance(doc, dict):
            raise InvalidEnvelopeError("envelope must be a JSON object")
        payload_type = doc.get("payloadType")
        payload_b64 = doc.get("payload")
        sigs = doc.get("signatures")
        if not isinstance(payload_type, str) or not isinstance(payload_b64, str):
            raise InvalidEnvelopeError("payloadType and payload must be strings")
        if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
            raise InvalidEnvelopeError(
                f"signatures must be a list of 1 to {MAX_SIGNATURES} entries"
            )
        parsed = []
        for entry in sigs:
            if not isinstance(entry, dict):
                raise InvalidEnvelopeError("each signature must be an object")
            keyid, sig = entry.get("keyid"), entry.get("sig")
            if not isinstance(keyid, str) or not isinstance(sig, str):
                raise InvalidEnvelopeError("signature keyid and sig must be strings")
            parsed.append(Signature(keyid=keyid, sig=_b64decode(sig, "sig")))
        return cls(
            payload_type=payload_type,
            payload=_b64decode(payload_b64, "payload"),
            signatures=tuple(parsed),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode(),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()}
                for s in self.signatures
            ],
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @property
    def payload_digest(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    def signature_by(self, keyid: str) -> Signature | None:
        return next((s for s in self.signatures if s.keyid == keyid), None)

    def verify_with(self, key: PublicKey) -> None:
        """Raise unless a signature under ``key.keyid`` verifies over the PAE."""
        signature = self.signature_by(key.keyid)
        if signature is None:
            raise InvalidSignatureError(f"no signature by key {key.keyid}")
        key.verify(signature.sig, pae(self.payload_type, self.payload))


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEnvelopeError(f"{what} is not valid base64") from None
