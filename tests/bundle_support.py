"""Shared by the audit-bundle tests: the scenario, an in-memory Merkle log, tampering."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.evidence.checkpoint import Checkpoint, NoteKey, sign_note
from domain.evidence.keys import Ed25519Signer
from domain.evidence.leaf import event_leaf_hash
from domain.evidence.merkle import CompactRange, assemble, blocks_for, inclusion_ranges
from domain.ledger.application import DocLedger
from tests.factories import OTHER, RECIPIENT, SENDER, World


@dataclass
class Story:
    document: str
    old_key: Ed25519Signer
    new_key: Ed25519Signer


def rotate_key(world: World, code: str) -> tuple[Ed25519Signer, Ed25519Signer]:
    """The agency adds a new key (signed with the old), then revokes the old (with the new)."""
    clock = world.app.clock
    old, new = world.keys[code], Ed25519Signer.generate()
    world.act(code, "agency.add_key", {"code": code, "key": new.public_key.to_spec()})
    clock.advance(seconds=5)  # type: ignore[attr-defined]
    world.act(code, "agency.revoke_key", {"code": code, "keyid": old.keyid,
                                          "reason": "rotation"}, signer=new)
    world.keys[code] = new
    clock.advance(seconds=5)  # type: ignore[attr-defined]
    return old, new


def story(world: World) -> Story:
    """A document sent to two recipients; one rotates its key half way through."""
    clock = world.app.clock
    doc = world.sent(SENDER, (RECIPIENT, OTHER))
    clock.advance(seconds=5)  # type: ignore[attr-defined]
    world.act(RECIPIENT, "delivery.accept", {"document": doc})
    clock.advance(seconds=5)  # type: ignore[attr-defined]
    old, new = rotate_key(world, RECIPIENT)
    world.act(RECIPIENT, "delivery.assign", {
        "document": doc, "lead_unit": "Phòng Tư pháp", "officer": "Lê Văn D",
        "co_units": [], "instructions": "xử lý", "due_date": None})
    clock.advance(seconds=5)  # type: ignore[attr-defined]
    world.act(RECIPIENT, "delivery.complete", {"document": doc, "note": "đã xong"})
    world.act(OTHER, "delivery.refuse", {"document": doc, "reason": "sai thẩm quyền"})
    clock.advance(seconds=5)  # type: ignore[attr-defined]
    return Story(document=doc, old_key=old, new_key=new)


# ---- an in-memory Merkle log (for ledgers on eventsourcing's in-memory store) -----------


@dataclass
class MemoryCheckpoint:
    size: int
    note: str
    timestamp_token: bytes | None = None


class MemoryLog:
    """Stands in for LedgerLog over all stored notifications; ``rewrite`` forges rows first.

    ``rewrite`` models a ledger operator who alters stored events and then signs a
    new tree over them with the real ledger key.
    """

    def __init__(self, app: DocLedger, signer: Ed25519Signer, origin: str,
                 rewrite: Callable[[list[Notification]], list[Notification]] | None = None):
        self.app, self.signer, self.rewrite = app, signer, rewrite
        self.note_key = NoteKey.from_public_key(origin, signer.public_key)
        self.store = self
        self.checkpoint: MemoryCheckpoint | None = None

    def issue_checkpoint(self, *, force: bool = False) -> MemoryCheckpoint:
        rows = list(self.app.recorder.select_notifications(1, 1_000_000))
        if self.rewrite is not None:
            rows = self.rewrite(rows)
        self.rows = rows
        self.index = {n.id: i for i, n in enumerate(rows)}
        self.nodes: dict[tuple[int, int], bytes] = {}
        tree = CompactRange(on_node=lambda lvl, i, h: self.nodes.__setitem__((lvl, i), h))
        for n in rows:
            tree.append(event_leaf_hash(n.originator_id, n.originator_version, n.topic, n.state))
        body = Checkpoint(origin=self.note_key.name, size=len(rows), root=tree.root()).body()
        self.checkpoint = MemoryCheckpoint(size=len(rows),
                                           note=sign_note(body, self.note_key, self.signer))
        return self.checkpoint

    def latest_checkpoint(self) -> MemoryCheckpoint | None:
        return self.checkpoint

    def publish(self) -> MemoryCheckpoint | None:
        """Published as signed: a ledger without witnesses."""
        return self.checkpoint

    def leaf_index_of(self, *, notification_id: int) -> int:
        return self.index[notification_id]

    def notifications_of(self, events: Any) -> list[Notification]:
        by_key = {(str(n.originator_id), n.originator_version): n for n in self.rows}
        return [by_key[(a, v)] for a, v in events]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        ranges = inclusion_ranges(index, size)
        return assemble(ranges, {k: self.nodes[k] for k in blocks_for(ranges)})


def with_state(n: Notification, state: dict[str, Any]) -> Notification:
    return Notification(id=n.id, originator_id=n.originator_id,
                        originator_version=n.originator_version, topic=n.topic,
                        state=json.dumps(state, separators=(",", ":")).encode())


# ---- looking into and changing a bundle ---------------------------------------------------


def state_of(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(event["state"]))  # type: ignore[no-any-return]


def find(bundle: dict[str, Any], aggregate: UUID | str, version: int) -> dict[str, Any]:
    return next(e for e in bundle["events"]
                if e["aggregate_id"] == str(aggregate) and e["version"] == version)


def without(bundle: dict[str, Any], *drop: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    keys = {(e["aggregate_id"], e["version"]) for e in drop}
    changed["events"] = [e for e in changed["events"]
                         if (e["aggregate_id"], e["version"]) not in keys]
    return changed


def padded_with_agency(bundle: dict[str, Any], donor: dict[str, Any],
                       code: str) -> dict[str, Any]:
    """``bundle`` with agency ``code``'s key history (and the records of the commands
    that wrote it) taken from ``donor``, a bundle against the same checkpoint."""
    from domain.exchange.ids import agency_id, command_record_id

    assert donor["checkpoint"] == bundle["checkpoint"]
    agency = [e for e in donor["events"] if e["aggregate_id"] == str(agency_id(code))]
    assert agency, f"the donor holds no history of {code}"
    records = set()
    for e in agency:
        payload = json.loads(base64.b64decode(state_of(e)["envelope"]["payload"]))
        records.add(str(command_record_id(payload["command_id"])))
    extra = agency + [e for e in donor["events"] if e["aggregate_id"] in records]
    padded = copy.deepcopy(bundle)
    have = {(e["aggregate_id"], e["version"]) for e in padded["events"]}
    padded["events"] += [copy.deepcopy(e) for e in extra
                         if (e["aggregate_id"], e["version"]) not in have]
    padded["events"].sort(key=lambda e: e["leaf_index"])
    return padded
