"""The leaf encoding of a stored event (version 1), as in docs/ledger.md.

    leaf_data = 0x01                                  encoding version
              || originator_id                        16 bytes (UUID, big-endian)
              || originator_version                   8 bytes, unsigned big-endian
              || len(topic)                           2 bytes, unsigned big-endian
              || topic                                UTF-8
              || SHA-256(state)                       32 bytes

    leaf_hash = SHA-256(0x00 || leaf_data)            (RFC 9162 §2.1.1)

``state`` is the event's stored bytes exactly as the event store holds them.
The notification id is left out: leaves are ordered by it, but its gaps and
values belong to the database, not to the history.
"""

from __future__ import annotations

import hashlib
import struct
from uuid import UUID

from domain.errors import VerificationError
from domain.evidence.merkle import leaf_hash

LEAF_VERSION = 1


def leaf_data(originator_id: UUID, originator_version: int, topic: str, state: bytes) -> bytes:
    encoded_topic = topic.encode()
    return b"".join((
        bytes([LEAF_VERSION]),
        originator_id.bytes,
        struct.pack(">Q", originator_version),
        struct.pack(">H", len(encoded_topic)),
        encoded_topic,
        hashlib.sha256(state).digest(),
    ))


def event_leaf_hash(
    originator_id: UUID | str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The RFC 9162 leaf hash of one stored event.

    The event store types ids as ``UUID | str``; every aggregate of the ledger has a
    UUID id, and the leaf holds its 16 bytes, so any other id is refused."""
    if not isinstance(originator_id, UUID):
        raise VerificationError(f"stored event id {originator_id!r} is not a UUID: "
                                "no leaf encodes it")
    return leaf_hash(leaf_data(originator_id, originator_version, topic, state))
