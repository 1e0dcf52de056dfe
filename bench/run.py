"""Run one benchmark module as ``__main__`` and record its peak memory.

    python -m bench.run OUT.json bench.audit --documents 1000

Runs the module exactly as ``python -m bench.audit --documents 1000`` would (same
output, same exit status), then writes to OUT.json the peak resident set size of
this process (``ru_maxrss`` of RUSAGE_SELF) and of the processes it started and
waited for (RUSAGE_CHILDREN: the uvicorn server of bench.http), in bytes, with
the user and system CPU seconds of each. bench/__main__.py runs every benchmark
this way, one process each, so one benchmark's memory never counts toward another.
"""

from __future__ import annotations

import json
import resource
import runpy
import sys
import time


def usage(who: int) -> dict[str, float]:
    r = resource.getrusage(who)
    # Linux reports ru_maxrss in KiB
    return {"max_rss_bytes": r.ru_maxrss * 1024, "user_s": r.ru_utime, "system_s": r.ru_stime}


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    started = time.perf_counter()
    status: object = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        status = exit_.code
    finally:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"module": module, "args": args,
                       "wall_s": time.perf_counter() - started,
                       "self": usage(resource.RUSAGE_SELF),
                       "children": usage(resource.RUSAGE_CHILDREN)}, f)
    sys.exit(status)


if __name__ == "__main__":
    main()
