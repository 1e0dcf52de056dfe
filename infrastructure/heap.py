"""How the processes that run long use CPython's cyclic garbage collector.

By default the collector looks at its youngest generation every 700 container
objects allocated (less those freed), and now and then at every object the
process tracks: a full collection. In ``docledger serve`` under 16 clients a
full collection took 90–110 ms on the benchmark machine and came every 5–6 s,
most of it spent on what the process keeps for life (its modules, pydantic's
and FastAPI's schemas, the open ledger: some 125,000 objects), and every
request in flight waited for it. The audit's replay spent about 7% of its time
in the collector. So these processes, once they have built what they keep:

- move it out of the collector's sight (``gc.freeze``): a full collection then
  looks only at what was made since (4–15 ms in the same server);
- look at the youngest generation every 10,000 allocations instead of 700.

Objects freed by reference counting (nearly all) are freed as before; garbage
in reference cycles is still collected, only later. BENCHMARKS.md has the
figures; docs/write-path.md ("The collector") and docs/audit.md say where
each process settles.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG = 10_000  # allocations between looks at the youngest generation (CPython: 700)


def settle() -> None:
    """For a process that has built what it keeps for life (the API server once
    its ledger is open, an audit worker once started): freeze what is alive now
    and look at young objects less often, for the rest of the process's life."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, oldest)


@contextmanager
def settled() -> Iterator[None]:
    """``settle`` for the length of the block, in a process that goes on after it
    (the auditing process: the command line, the demo, a benchmark); the
    collector is as it was afterwards. What the process had frozen before stays
    frozen. The collector's settings belong to the whole process: a block on one
    thread changes them for every thread."""
    threshold = gc.get_threshold()
    froze = gc.get_freeze_count() == 0
    if froze:
        settle()
    else:
        gc.set_threshold(YOUNG, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if froze:
            gc.unfreeze()
