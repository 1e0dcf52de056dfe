"""RFC 9162 hashing and proofs: published vectors and exhaustive round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.evidence import merkle
from domain.evidence.merkle import ProofError

VECTORS = json.loads((Path(__file__).parent.parent / "assets" / "rfc9162_vectors.json").read_text())
LEAVES = [merkle.leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]]


def store_for(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    nodes: dict[tuple[int, int], bytes] = {}
    tree = merkle.CompactRange(on_node=lambda lvl, i, h: nodes.__setitem__((lvl, i), h))
    for leaf in leaves:
        tree.append(leaf)
    return nodes


def inclusion(index: int, size: int, leaves: list[bytes]) -> list[bytes]:
    return merkle.assemble(merkle.inclusion_ranges(index, size), store_for(leaves[:size]))


def consistency(old: int, new: int, leaves: list[bytes]) -> list[bytes]:
    return merkle.assemble(merkle.consistency_ranges(old, new), store_for(leaves[:new]))


@pytest.mark.parametrize("size", range(9))
def test_published_roots(size: int) -> None:
    assert merkle.root_of(LEAVES[:size]).hex() == VECTORS["roots"][size]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-{c['size']}")
def test_published_inclusion_proofs(case: dict) -> None:
    proof = inclusion(case["index"], case["size"], LEAVES)
    assert [p.hex() for p in proof] == case["proof"]
    root = bytes.fromhex(VECTORS["roots"][case["size"]])
    merkle.verify_inclusion(case["index"], case["size"], LEAVES[case["index"]], proof, root)


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['old']}-{c['new']}")
def test_published_consistency_proofs(case: dict) -> None:
    proof = consistency(case["old"], case["new"], LEAVES)
    assert [p.hex() for p in proof] == case["proof"]
    roots = VECTORS["roots"]
    merkle.verify_consistency(case["old"], case["new"], bytes.fromhex(roots[case["old"]]),
                              bytes.fromhex(roots[case["new"]]), proof)


TREE = [merkle.leaf_hash(b"leaf-%d" % i) for i in range(40)]


def test_every_inclusion_proof_round_trips_and_a_wrong_leaf_fails() -> None:
    for size in range(1, len(TREE) + 1):
        root = merkle.root_of(TREE[:size])
        for index in range(size):
            proof = inclusion(index, size, TREE)
            merkle.verify_inclusion(index, size, TREE[index], proof, root)
            if size > 1:
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(index, size, TREE[(index + 1) % size], proof, root)
                with pytest.raises(ProofError):
                    merkle.verify_inclusion((index + 1) % size, size, TREE[index], proof, root)


def test_every_consistency_proof_round_trips_and_a_forked_tree_fails() -> None:
    forked = TREE[:]
    for new in range(1, len(TREE) + 1):
        new_root = merkle.root_of(TREE[:new])
        for old in range(1, new + 1):
            old_root = merkle.root_of(TREE[:old])
            proof = consistency(old, new, TREE)
            merkle.verify_consistency(old, new, old_root, new_root, proof)
            if old < new:
                forked[old - 1] = merkle.leaf_hash(b"rewritten")
                with pytest.raises(ProofError):
                    merkle.verify_consistency(old, new, merkle.root_of(forked[:old]), new_root,
                                              proof)
                forked[old - 1] = TREE[old - 1]


@pytest.mark.parametrize("mutate", ["drop-last", "extra", "flip-bit", "empty"])
def test_tampered_proofs_are_refused(mutate: str) -> None:
    proof = inclusion(5, 8, LEAVES)
    cproof = consistency(6, 8, LEAVES)
    roots = [bytes.fromhex(r) for r in VECTORS["roots"]]
    if mutate == "drop-last":
        proof, cproof = proof[:-1], cproof[:-1]
    elif mutate == "extra":
        proof, cproof = proof + [roots[8]], cproof + [roots[8]]
    elif mutate == "flip-bit":
        proof = [bytes([proof[0][0] ^ 8]) + proof[0][1:], *proof[1:]]
        cproof = [bytes([cproof[0][0] ^ 16]) + cproof[0][1:], *cproof[1:]]
    else:
        proof, cproof = [], []
    with pytest.raises(ProofError):
        merkle.verify_inclusion(5, 8, LEAVES[5], proof, roots[8])
    with pytest.raises(ProofError):
        merkle.verify_consistency(6, 8, roots[6], roots[8], cproof)


def test_degenerate_sizes() -> None:
    root = merkle.root_of(TREE[:3])
    merkle.verify_consistency(3, 3, root, root, [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(3, 3, root, merkle.EMPTY_ROOT, [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, root, [])
    with pytest.raises(ProofError):
        merkle.verify_consistency(4, 3, root, root, [])
    with pytest.raises(ProofError):
        merkle.inclusion_ranges(3, 3)
    assert merkle.edge_keys(13) == [(3, 0), (2, 2), (0, 12)]
