"""Group commit: concurrent commands committed together, one transaction per group.

Callers on many threads hand in signed commands, each first checking its own
command's signature on its own thread (verification releases the GIL, so they
run in parallel on every core). The first to arrive when no
group is open leads: it waits a few milliseconds for others to join, then
executes the group with ``DocLedger.execute_batch`` (one transaction), hands
each caller its own outcome or error, and goes on with whatever arrived
meanwhile. Every caller gets exactly what ``execute`` would have given it, and
the log reads as if the commands had been committed one by one.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

from domain.errors import DocLedgerError
from domain.ledger.application import DocLedger, Outcome


class GroupCommitter:
    """Funnels concurrent ``execute`` calls into few transactions."""

    def __init__(self, app: DocLedger, *, max_wait: float = 0.003, max_group: int = 64) -> None:
        self.app = app
        self.max_wait = max_wait
        self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[tuple[bytes, frozenset[bytes], Future[Outcome | DocLedgerError]]] = []
        self._leading = False
        self.groups = 0  # how many transactions were used, for the benchmarks

    def execute(self, raw: bytes) -> Outcome:
        """Execute one signed command as part of a group; raise its error if refused."""
        future: Future[Outcome | DocLedgerError] = Future()
        verified = self.app.preverify(raw)
        with self._lock:
            self._queue.append((raw, verified, future))
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        result = future.result()
        if isinstance(result, DocLedgerError):
            raise result
        return result

    def _lead(self) -> None:
        time.sleep(self.max_wait)  # let concurrent callers join this group
        while True:
            with self._lock:
                group = self._queue[: self.max_group]
                del self._queue[: self.max_group]
                if not group:
                    self._leading = False
                    return
            try:
                results = self.app.execute_batch(
                    [raw for raw, _, _ in group],
                    verified=frozenset().union(*(v for _, v, _ in group)))
            except BaseException as exc:  # not a refusal: every caller must hear of it
                for _, _, future in group:
                    future.set_exception(exc)
                continue
            self.groups += 1
            for (_, _, future), result in zip(group, results, strict=True):
                future.set_result(result)
