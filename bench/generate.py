"""Fill a ledger with a realistic signed history, quickly.

Many agencies, a few senders much busier than the rest (Zipf-like), documents to
1–5 recipients, and every status: accepted, refused, assigned, in progress,
completed, recalled (agreed and refused).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from domain.application import DocLedger
from domain.keys import Ed25519Signer
from domain.signing import sign_command
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger
from infrastructure.settings import Settings


@dataclass
class Generator:
    app: DocLedger
    registrar: Ed25519Signer
    rng: random.Random
    keys: dict[str, Ed25519Signer] = field(default_factory=dict)
    commands: int = 0

    def act(self, agency: str, type: str, fields: dict[str, object]) -> dict[str, object]:
        signer = self.registrar if agency == "registrar" else self.keys[agency]
        outcome = self.app.execute(sign_command(signer, type, fields, agency=agency,
                                                staff="văn thư"))
        self.commands += 1
        return outcome.result

    def agencies(self, count: int) -> list[str]:
        codes = [f"{i // 100:03d}.{i % 100:02d}.31.H29" for i in range(count)]
        for code in codes:
            signer = Ed25519Signer.generate()
            self.keys[code] = signer
            self.act("registrar", "agency.register", {
                "code": code, "name": f"Cơ quan {code}", "keys": [signer.public_key.to_spec()]})
        return codes

    def document(self, sender: str, recipients: list[str], n: int) -> str:
        header = {
            "code_notation": "CV-UBND", "document_type": {"type": 1, "type_name": "Công văn"},
            "subject": f"Về việc triển khai nhiệm vụ số {n}", "promulgation_place": "Bình An",
            "promulgation_date": date.today().isoformat(),
            "signer": {"full_name": "Nguyễn Văn B", "position": "Chủ tịch"},
            "priority": self.rng.choice([0, 0, 0, 1, 2, 3]),
            "due_date": date.fromordinal(date.today().toordinal() + self.rng.randint(-5, 20))
            .isoformat(),
        }
        doc = self.act(sender, "document.create", {"document_id": f"{sender},gen-{n}",
                                                   "header": header})["document"]
        self.act(sender, "document.sign", {"document": doc,
                                           "signer": {"full_name": "Nguyễn Văn B"}})
        self.act(sender, "document.issue", {"document": doc})
        self.act(sender, "document.send", {"document": doc, "recipients": recipients})
        return str(doc)

    def handle(self, sender: str, doc: str, recipient: str) -> None:
        ref = {"document": doc}
        roll = self.rng.random()
        if roll < 0.08:
            self.act(recipient, "delivery.refuse", {**ref, "reason": "gửi nhầm"})
            return
        if roll < 0.12:
            return  # still waiting in the inbox
        self.act(recipient, "delivery.accept", ref)
        if roll < 0.16:
            self.act(sender, "delivery.recall", {**ref, "recipients": [recipient],
                                                 "reason": "sai sót"})
            self.act(recipient, "delivery.answer_recall", {**ref, "agree": roll < 0.14,
                                                           "reason": "đã xem"})
            return
        if roll < 0.25:
            return
        self.act(recipient, "delivery.assign", {**ref, "lead_unit": "Phòng Nội vụ"})
        if roll < 0.4:
            return
        self.act(recipient, "delivery.progress", {**ref, "note": "đang xử lý"})
        if roll < 0.55:
            return
        self.act(recipient, "delivery.complete", {**ref, "note": "xong"})


def fill(settings: Settings, *, documents: int, agencies: int = 60, seed: int = 7,
         progress: Callable[[int], None] | None = None) -> Generator:
    """Initialise a ledger in ``settings`` and write ``documents`` documents' history."""
    app = init_ledger(settings)
    gen = Generator(app=app, registrar=load_signer(DataFolder(settings.data).registrar_key),
                    rng=random.Random(seed))
    codes = gen.agencies(agencies)
    weights = [1 / (rank + 1) for rank in range(len(codes))]
    for n in range(documents):
        sender = gen.rng.choices(codes, weights)[0]
        recipients = gen.rng.sample([c for c in codes if c != sender], gen.rng.randint(1, 5))
        doc = gen.document(sender, recipients, n)
        for recipient in recipients:
            gen.handle(sender, doc, recipient)
        if progress is not None:
            progress(n + 1)
    return gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--agencies", type=int, default=60)
    args = parser.parse_args()
    started = time.perf_counter()
    gen = fill(Settings(data=args.data), documents=args.documents, agencies=args.agencies)
    seconds = time.perf_counter() - started
    events = gen.app.recorder.max_notification_id() or 0
    print(f"{gen.commands} commands, {events} events in {seconds:.1f} s "
          f"({gen.commands / seconds:.0f} commands/s)")


if __name__ == "__main__":
    main()
