"""Proof generation at 1,000,000 leaves, served from stored subtrees.

Fills the Merkle log tables of a fresh SQLite ledger (or PostgreSQL with
DOCLEDGER_BACKEND=postgres) with N synthetic leaves, then times inclusion proofs
for random leaves and consistency proofs for random sizes. Baseline, measured in
the same run: fetching one leaf row by primary key, the floor of any proof the
database serves.
"""

from __future__ import annotations

import argparse
import hashlib
import random

from bench.scratch import scratch_settings
from bench.stats import median, percentile, timed
from domain.evidence import merkle
from infrastructure.ledger import init_ledger, open_log

BATCH = 50_000


def fill_leaves(log, n: int) -> None:  # type: ignore[no-untyped-def]
    """Append n synthetic leaves (with their subtrees) in large transactions."""
    store = log.store
    start = store.size()
    offset = store.last_notification_id() + 1_000_000  # clear of real notifications
    keys = merkle.edge_keys(start)
    edge = store.nodes(keys)  # a dict in the store's order; the edge is largest first
    tree = merkle.CompactRange(start, [edge[k] for k in keys])
    while tree.size < start + n:
        formed: list[tuple[int, int, bytes]] = []
        tree.on_node = lambda lvl, i, h, into=formed: into.append((lvl, i, h))
        leaves = []
        for _ in range(min(BATCH, start + n - tree.size)):
            leaf = merkle.leaf_hash(hashlib.sha256(b"%d" % tree.size).digest())
            leaves.append((offset + tree.size, leaf))
            tree.append(leaf)
        store.append(tree.size - len(leaves), leaves, [f for f in formed if f[0] > 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    settings = scratch_settings("bench-proofs-")
    app = init_ledger(settings)
    log = open_log(settings, app)
    log.catch_up()
    fill_leaves(log, args.leaves - log.store.size())
    size = log.store.size()
    root = log.root(size)
    rng = random.Random(1)

    def inclusion() -> None:
        index = rng.randrange(size)
        proof = log.inclusion_proof(index, size)
        leaf = log.store.nodes([(0, index)])[(0, index)]
        merkle.verify_inclusion(index, size, leaf, proof, root)

    def consistency() -> None:
        old = rng.randrange(1, size)
        log.consistency_proof(old, size)

    def row_lookup() -> None:
        log.store.leaves(rng.randrange(size), 1)

    base = timed(row_lookup, args.samples)
    inc = timed(inclusion, args.samples)
    con = timed(consistency, args.samples)
    ms = 1000
    print(f"tree size {size:,} ({settings.backend}), {args.samples} samples each")
    print(f"{'figure':38} {'median ms':>10} {'p99 ms':>8} {'× baseline':>11}")
    for name, samples in (("baseline: one leaf row by key", base),
                          ("inclusion proof + verify (random leaf)", inc),
                          ("consistency proof (random old size)", con)):
        print(f"{name:38} {median(samples) * ms:10.3f} {percentile(samples, 99) * ms:8.3f} "
              f"{median(samples) / median(base):11.1f}")


if __name__ == "__main__":
    main()
