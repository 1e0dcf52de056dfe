"""Fill a ledger with a realistic signed history, quickly.

Many agencies, a few senders much busier than the rest (Zipf-like), documents to
1–5 recipients, and every status: accepted, refused, assigned, in progress,
completed, recalled (agreed and refused). Every event goes through the real
command path (signed, verified, replayable by the audit); many documents' lives
advance together, one group commit per step, which is what makes it quick.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from domain.evidence.keys import Ed25519Signer
from domain.exchange.signing import sign_command
from domain.ledger.application import DocLedger
from infrastructure.keyfiles import load_signer
from infrastructure.ledger import DataFolder, init_ledger
from infrastructure.settings import Settings

Step = tuple[str, str, dict[str, object]]  # (agency, command type, fields)
Life = Generator[Step, dict[str, object], None]  # yields commands, is sent their results


@dataclass
class HistoryGenerator:
    app: DocLedger
    registrar: Ed25519Signer
    rng: random.Random
    keys: dict[str, Ed25519Signer] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)  # the agencies ``fill`` registered
    commands: int = 0

    def run(self, lives: Iterable[Life], *, lockstep: int,
            progress: Callable[[int], None] | None = None,
            after_group: Callable[[], None] | None = None) -> None:
        """Run the lives ``lockstep`` at a time: each group commit takes the next
        command of every live one (they touch different documents), so the
        history is written at group-commit speed, not one transaction a command.
        ``after_group`` runs after each group commit."""
        source = iter(lives)
        running: list[tuple[Life, Step]] = []
        finished = 0

        def start(life: Life) -> None:
            running.append((life, next(life)))

        for life in source:
            start(life)
            if len(running) >= lockstep:
                break
        while running:
            raws = [self.signed(step) for _, step in running]
            results = self.app.execute_batch(raws)
            if after_group is not None:
                after_group()
            self.commands += len(raws)
            still: list[tuple[Life, Step]] = []
            for (life, step), result in zip(running, results, strict=True):
                if isinstance(result, Exception):
                    raise RuntimeError(f"{step[1]} by {step[0]} refused: {result}")
                try:
                    still.append((life, life.send(result.result)))
                except StopIteration:
                    finished += 1
                    if progress is not None:
                        progress(finished)
                    new = next(source, None)
                    if new is not None:
                        still.append((new, next(new)))
            running = still

    def signed(self, step: Step) -> bytes:
        agency, type, fields = step
        signer = self.registrar if agency == "registrar" else self.keys[agency]
        return sign_command(signer, type, fields, agency=agency, staff="văn thư")

    def agencies(self, count: int) -> list[str]:
        codes = [f"{i // 100:03d}.{i % 100:02d}.31.H29" for i in range(count)]
        for code in codes:
            self.keys[code] = Ed25519Signer.generate()

        def register(code: str) -> Life:
            yield ("registrar", "agency.register", {
                "code": code, "name": f"Cơ quan {code}",
                "keys": [self.keys[code].public_key.to_spec()]})

        self.run((register(code) for code in codes), lockstep=64)
        return codes

    def documents(self, codes: list[str], count: int, *, first: int = 0) -> Iterator[Life]:
        """``count`` documents' lives, numbered from ``first``: senders among
        ``codes`` by a Zipf-like weight, 1–5 other agencies as recipients."""
        weights = [1 / (rank + 1) for rank in range(len(codes))]
        for n in range(first, first + count):
            sender = self.rng.choices(codes, weights)[0]
            recipients = self.rng.sample([c for c in codes if c != sender],
                                         self.rng.randint(1, 5))
            yield self.document(sender, recipients, n)

    def document(self, sender: str, recipients: list[str], n: int) -> Life:
        """One document's whole life: drafted, signed, issued, sent; then each
        recipient's handling, one after another."""
        header = {
            "code_notation": "CV-UBND", "document_type": {"type": 1, "type_name": "Công văn"},
            "subject": f"Về việc triển khai nhiệm vụ số {n}", "promulgation_place": "Bình An",
            "promulgation_date": date.today().isoformat(),
            "signer": {"full_name": "Nguyễn Văn B", "position": "Chủ tịch"},
            "priority": self.rng.choice([0, 0, 0, 1, 2, 3]),
            "due_date": date.fromordinal(date.today().toordinal() + self.rng.randint(-5, 20))
            .isoformat(),
        }
        doc = str((yield (sender, "document.create", {"document_id": f"{sender},gen-{n}",
                                                       "header": header}))["document"])
        yield (sender, "document.sign", {"document": doc,
                                         "signer": {"full_name": "Nguyễn Văn B"}})
        yield (sender, "document.issue", {"document": doc})
        yield (sender, "document.send", {"document": doc, "recipients": recipients})
        for recipient in recipients:
            yield from self.handle(sender, doc, recipient, self.rng.random())

    def handle(self, sender: str, doc: str, recipient: str, roll: float) -> Life:
        ref = {"document": doc}
        if roll < 0.08:
            yield (recipient, "delivery.refuse", {**ref, "reason": "gửi nhầm"})
            return
        if roll < 0.12:
            return  # still waiting in the inbox
        yield (recipient, "delivery.accept", ref)
        if roll < 0.16:
            yield (sender, "delivery.recall", {**ref, "recipients": [recipient],
                                               "reason": "sai sót"})
            yield (recipient, "delivery.answer_recall", {**ref, "agree": roll < 0.14,
                                                         "reason": "đã xem"})
            return
        if roll < 0.25:
            return
        yield (recipient, "delivery.assign", {**ref, "lead_unit": "Phòng Nội vụ"})
        if roll < 0.4:
            return
        yield (recipient, "delivery.progress", {**ref, "note": "đang xử lý"})
        if roll < 0.55:
            return
        yield (recipient, "delivery.complete", {**ref, "note": "xong"})


def fill(settings: Settings, *, documents: int, agencies: int = 60, seed: int = 7,
         lockstep: int = 64, progress: Callable[[int], None] | None = None
         ) -> HistoryGenerator:
    """Initialise a ledger in ``settings`` and write ``documents`` documents' history,
    ``lockstep`` documents' lives at a time, each step of them in one transaction.
    ``progress`` is told how many documents' lives are complete (default: a line
    on standard error at every tenth of them)."""
    if progress is None:
        progress = Tenths(documents)
    app = init_ledger(settings)
    gen = HistoryGenerator(app=app, registrar=load_signer(DataFolder(settings.data).registrar_key),
                           rng=random.Random(seed))
    gen.codes = gen.agencies(agencies)
    gen.run(gen.documents(gen.codes, documents), lockstep=lockstep, progress=progress)
    return gen


class Tenths:
    """Reports a long generation on standard error, a line each tenth of the way
    (standard output stays the benchmarks' figures)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.perf_counter()
        self.shown = 0

    def __call__(self, finished: int) -> None:
        tenth = finished * 10 // max(self.total, 1)
        if tenth > self.shown:
            self.shown = tenth
            print(f"generating: {finished:,} of {self.total:,} documents "
                  f"({time.perf_counter() - self.started:.0f} s)", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--agencies", type=int, default=60)
    parser.add_argument("--lockstep", type=int, default=64,
                        help="documents whose lives advance together, one group commit a step")
    args = parser.parse_args()
    started = time.perf_counter()
    gen = fill(Settings(data=args.data), documents=args.documents, agencies=args.agencies,
               lockstep=args.lockstep)
    seconds = time.perf_counter() - started
    events = gen.app.recorder.max_notification_id() or 0
    print(f"{gen.commands} commands, {events} events in {seconds:.1f} s "
          f"({gen.commands / seconds:.0f} commands/s, {events / seconds:.0f} events/s)")


if __name__ == "__main__":
    main()
