"""RFC 9162 Merkle tree hashing, proofs and their verification (pure functions).

Hashes: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right).
The tree over n leaves splits at k, the largest power of two smaller than n
(RFC 9162 §2.1.1). Subtrees are named by ``(level, index)``: the aligned block
of 2**level leaves starting at leaf index * 2**level. Only such complete
subtrees are ever stored; every root and proof is assembled from them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping

from domain.errors import VerificationError

EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32

NodeKey = tuple[int, int]  # (level, index)


class ProofError(VerificationError):
    """A Merkle proof does not verify or cannot be made."""

    code = "invalid-proof"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# ---- which stored subtrees a root or proof needs --------------------------------


def range_blocks(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees whose hashes make MTH(D[start:end]).

    ``start`` must be aligned the way RFC 9162's recursion aligns it.
    """
    n = end - start
    if n <= 0:
        raise ProofError(f"empty range [{start}, {end})")
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return [(level, start >> level)]
    k = split_point(n)
    return range_blocks(start, start + k) + range_blocks(start + k, end)


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from stored complete subtrees."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return nodes[(level, start >> level)]
    k = split_point(n)
    return node_hash(range_hash(start, start + k, nodes), range_hash(start + k, end, nodes))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs form PATH(index, D[0:size]), leaf to root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    return list(reversed(ranges))


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The ranges whose MTHs form PROOF(old, D[0:new]) (RFC 9162 §2.1.4.1)."""
    if not 0 < old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    if old == new:
        return []
    return _subproof(old, 0, new, True)


def _subproof(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
    n = end - start
    if m == n:
        return [] if complete else [(start, end)]
    k = split_point(n)
    if m <= k:
        return _subproof(m, start, start + k, complete) + [(start + k, end)]
    return _subproof(m - k, start + k, end, False) + [(start, start + k)]


def blocks_for(ranges: Iterable[tuple[int, int]]) -> set[NodeKey]:
    return {key for start, end in ranges for key in range_blocks(start, end)}


def assemble(ranges: list[tuple[int, int]], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    return [range_hash(start, end, nodes) for start, end in ranges]


# ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) -------------------------------


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that ``proof`` makes for ``leaf`` at ``index``; raises if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    _check_hashes([leaf, *proof])
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """Raise ProofError unless ``leaf`` is at ``index`` of the tree with ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """Raise ProofError unless the tree (new_size, new_root) extends (old_size, old_root)."""
    if old_size > new_size:
        raise ProofError(f"size {new_size} is older than size {old_size}")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError("same size but different roots (or a non-empty proof)")
        return
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    _check_hashes(proof)
    if not proof:
        raise ProofError("empty consistency proof")
    if old_size & (old_size - 1) == 0:
        proof = [old_root, *proof]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError(f"consistency proof does not reproduce the root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof does not reproduce the root of size {new_size}")


def _check_hashes(hashes: list[bytes]) -> None:
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ProofError("every hash in a proof must be 32 bytes")


# ---- building from leaves (auditor side) ----------------------------------------


class CompactRange:
    """Appends leaf hashes one by one, keeping only the O(log n) right edge.

    ``on_node`` is told of every complete subtree as it forms, so a store can
    persist exactly the nodes proofs need.
    """

    def __init__(
        self,
        size: int = 0,
        edge: list[bytes] | None = None,
        on_node: Callable[[int, int, bytes], None] | None = None,
    ) -> None:
        self.size = size
        self.edge = list(edge or [])  # hashes of the complete subtrees, largest first
        self.on_node = on_node

    def append(self, leaf: bytes) -> None:
        index = self.size
        self.edge.append(leaf)
        if self.on_node:
            self.on_node(0, index, leaf)
        level, n = 0, index
        while n & 1:
            right = self.edge.pop()
            left = self.edge.pop()
            level += 1
            n >>= 1
            merged = node_hash(left, right)
            self.edge.append(merged)
            if self.on_node:
                self.on_node(level, n, merged)
        self.size += 1

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        root = self.edge[-1]
        for h in reversed(self.edge[:-1]):
            root = node_hash(h, root)
        return root


def edge_keys(size: int) -> list[NodeKey]:
    """The complete subtrees on the right edge of a tree of ``size`` leaves."""
    keys, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def root_of(leaves: list[bytes]) -> bytes:
    tree = CompactRange()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()
