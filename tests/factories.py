"""Test factories: a ledger with agencies and sensible default documents."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger, Outcome
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger
from infrastructure.settings import Settings

SENDER = "000.00.00.G22"
RECIPIENT = "000.00.00.H41"
OTHER = "000.00.15.H51"
THIRD = "001.00.20.TT2"

_numbers = itertools.count(1)


def header(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code_notation": "QĐ-UBND",
        "document_type": {"type": 1, "type_name": "Quyết định"},
        "subject": "Về việc phê duyệt kế hoạch chuyển đổi số năm 2027",
        "promulgation_place": "Hà Nội",
        "promulgation_date": "2026-11-27",
        "signer": {"competence": "KT. CHỦ TỊCH", "position": "Phó Chủ tịch",
                   "full_name": "Nguyễn Văn B"},
        "priority": 1,
        "due_date": "2026-12-15",
    }
    base.update(overrides)
    return base


class ManualClock:
    """A clock the test moves by hand, which also moves on a microsecond at
    every reading, as a real one does between two readings (the ledger stamps
    each command strictly after the previous one, so a clock that stood still
    would fall behind the times the ledger records)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@dataclass
class World:
    """A ledger with its registrar and the agencies' signing keys."""

    app: DocLedger
    settings: Settings
    registrar: Ed25519Signer
    keys: dict[str, Ed25519Signer] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        clock: ManualClock | None = None,
        agencies: tuple[str, ...] = (SENDER, RECIPIENT, OTHER),
    ) -> World:
        app = init_ledger(settings, clock=clock or ManualClock())
        world = cls(app=app, settings=settings,
                    registrar=load_signer(DataFolder(settings.data).registrar_key))
        for code in agencies:
            world.register(code)
        return world

    def signed(self, agency: str, type: str, fields: dict[str, Any], *,
               signer: Ed25519Signer | None = None, **kw: Any) -> bytes:
        key = signer or (self.registrar if agency == "registrar" else self.keys[agency])
        kw.setdefault("issued_at", self.app.clock())
        staff = kw.pop("staff", "Trần Thị C")
        return sign_command(key, type, fields, agency=agency, staff=staff, **kw)

    def act(self, agency: str, type: str, fields: dict[str, Any], **kw: Any) -> Outcome:
        return self.app.execute(self.signed(agency, type, fields, **kw))

    def register(self, code: str, name: str | None = None) -> Ed25519Signer:
        signer = Ed25519Signer.generate()
        self.act("registrar", "agency.register",
                 {"code": code, "name": name or f"Agency {code}",
                  "keys": [signer.public_key.to_spec()]})
        self.keys[code] = signer
        return signer

    def draft(self, sender: str = SENDER, **header_overrides: Any) -> str:
        outcome = self.act(sender, "document.create", {
            "document_id": f"{sender},2026/11/27,doc-{next(_numbers)}",
            "header": header(**header_overrides),
        })
        return str(outcome.result["document"])

    def issued(self, sender: str = SENDER) -> str:
        doc = self.draft(sender)
        self.act(sender, "document.sign", {"document": doc,
                                           "signer": {"full_name": "Nguyễn Văn B"}})
        self.act(sender, "document.issue", {"document": doc})
        return doc

    def sent(self, sender: str = SENDER, recipients: tuple[str, ...] = (RECIPIENT,)) -> str:
        doc = self.issued(sender)
        self.act(sender, "document.send", {"document": doc, "recipients": list(recipients)})
        return doc

    def event_count(self) -> int:
        return self.app.recorder.max_notification_id() or 0
