"""Serving C2SP tlog-tiles over HTTP from a tree of 1,000,000 leaves.

A fresh SQLite ledger (or PostgreSQL with DOCLEDGER_BACKEND=postgres) gets a
realistic signed history of about a thousand events, whose entry bundles are
served from the stored events, and then synthetic leaves up to N, whose tiles
come from the stored subtree hashes exactly as real ones do (bench/proofs.py
fills them the same way); a checkpoint of size N is signed. The API runs in
uvicorn (1 worker); one client asks, in turn, for a random full level-0 tile,
a random full level-1 tile, the partial top tile, a full entry bundle (gzip),
and the baseline: GET /healthz on the same server, which touches no database.
For comparison, one level-1 tile recomputed from its 65,536 leaf hashes, in
process, without HTTP: what serving it would cost without the stored nodes.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import httpx

from bench.generate import fill
from bench.http import UVICORN, server
from bench.proofs import fill_leaves
from bench.scratch import scratch_settings
from bench.stats import median, percentile
from domain.evidence import merkle
from domain.evidence.checkpoint import Checkpoint, sign_note
from domain.evidence.tiles import TILE_WIDTH, Tile, tiles_of
from infrastructure.ledger import open_ledger, open_log
from infrastructure.log_store import StoredCheckpoint
from infrastructure.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--documents", type=int, default=30, help="real history first")
    args = parser.parse_args()
    settings = scratch_settings("bench-tiles-")
    gen = fill(settings, documents=args.documents, progress=lambda _: None)
    log = open_log(settings, gen.app)
    log.catch_up()
    real = log.store.size()
    fill_leaves(log, args.leaves - real)
    size = log.store.size()
    root = log.root(size)
    note = sign_note(Checkpoint(origin=log.origin, size=size, root=root).body(), log.note_key,
                     log.signer)
    log.store.save_checkpoint(StoredCheckpoint(size=size, root=root, note=note,
                                               issued_at=log.clock().isoformat()))
    gen.app.close()

    top = max((t for t in tiles_of(size) if not t.full), key=lambda t: t.level)
    rng = random.Random(1)
    level0, level1 = size // TILE_WIDTH, size // TILE_WIDTH**2
    paths: list[tuple[str, Callable[[], str]]] = [
        ("baseline: GET /healthz (same server)", lambda: "/healthz"),
        ("GET full level-0 tile (8 KiB)",
         lambda: "/" + Tile(level=0, index=rng.randrange(level0)).path()),
        ("GET full level-1 tile (8 KiB)",
         lambda: "/" + Tile(level=1, index=rng.randrange(level1)).path()),
        (f"GET partial level-{top.level} tile (width {top.width})", lambda: "/" + top.path()),
        ("GET full entry bundle (gzip)",
         lambda: "/" + Tile(level=0, index=rng.randrange(real // TILE_WIDTH),
                            entries=True).path()),
    ]
    samples: dict[str, list[float]] = {name: [] for name, _ in paths}
    env = {"DOCLEDGER_DATA": str(settings.data), "DOCLEDGER_BACKEND": settings.backend,
           "DOCLEDGER_PG_DB": settings.pg_db, "DOCLEDGER_PG_SCHEMA": settings.pg_schema}
    with server([*UVICORN, "--factory", "api.http.app:create_app"], env) as url, \
            httpx.Client(base_url=url, timeout=60,
                         headers={"Accept-Encoding": "gzip, identity"}) as http:
        for _, path in paths:  # warm: the first request of each kind opens things
            http.get(path()).raise_for_status()
        for _ in range(args.samples):  # in turn, so a slow spell slows every kind alike
            for name, path in paths:
                wanted = path()
                start = time.perf_counter()
                response = http.get(wanted)
                samples[name].append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {wanted}: {response.status_code} {response.text}")

    samples["level-1 tile recomputed from 65,536 leaf hashes (no HTTP)"] = recompute(
        settings, level1, min(args.samples, 10))

    base = median(samples[paths[0][0]])
    print(f"tree size {size:,} ({settings.backend}); {real:,} real events, the rest "
          f"synthetic; {args.samples} samples each, 1 client, uvicorn 1 worker")
    print(f"{'figure':58} {'median ms':>10} {'p99 ms':>8} {'× baseline':>11}")
    for name, times in samples.items():
        print(f"{name:58} {median(times) * 1000:10.3f} {percentile(times, 99) * 1000:8.3f} "
              f"{median(times) / base:11.1f}")


def recompute(settings: Settings, level1: int, repeats: int) -> list[float]:
    """Seconds to rebuild one full level-1 tile from the leaf hashes alone."""
    app = open_ledger(settings)
    store = open_log(settings, app).store
    rng = random.Random(2)
    times = []
    for _ in range(repeats):
        index = rng.randrange(level1)
        start = time.perf_counter()
        first = index * TILE_WIDTH**2
        leaves = store.level_hashes(0, first, first + TILE_WIDTH**2)
        tile = b"".join(merkle.root_of(leaves[i:i + TILE_WIDTH])
                        for i in range(0, len(leaves), TILE_WIDTH))
        times.append(time.perf_counter() - start)
        assert tile == b"".join(store.level_hashes(8, index * TILE_WIDTH,
                                                   (index + 1) * TILE_WIDTH))
    app.close()
    return times


if __name__ == "__main__":
    main()
