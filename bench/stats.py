"""Timing helpers shared by the benchmarks: medians and percentiles of repeats,
and the CPU time PostgreSQL spends."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds per call, one figure per repeat."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields of /proc/PID/stat after the name) of every
    process visible now; nothing where there is no /proc."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                head, _, rest = f.read().rpartition(")")
        except OSError:
            continue  # the process ended meanwhile
        yield int(name), head.partition("(")[2], rest.split()


def postgres_cpu_seconds() -> float | None:
    """CPU seconds used so far by the PostgreSQL processes on this machine (its
    server processes, with the ended backends their parent collected), read from
    /proc; None where none are visible (a remote server, or no /proc)."""
    ticks = [sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
             for _, comm, fields in processes() if comm.startswith("postgres")]
    return sum(ticks) / os.sysconf("SC_CLK_TCK") if ticks else None
