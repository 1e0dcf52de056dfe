"""C2SP tlog-tiles: paths, which tiles a tree has, and checking fetched tiles."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.evidence import merkle
from domain.evidence.tiles import (
    CheckedTiles,
    Tile,
    TileError,
    TilePathError,
    check_bundle,
    decode_bundle,
    encode_bundle,
    encode_index,
    parse_tile_path,
    tile_from_nodes,
    tiles_of,
)

# ---- paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "tile"), [
    ("tile/0/000", Tile(level=0, index=0)),
    ("tile/0/x001/x234/067", Tile(level=0, index=1234067)),
    ("tile/1/x001/x234/067.p/8", Tile(level=1, index=1234067, width=8)),
    ("tile/63/999", Tile(level=63, index=999)),
    ("tile/entries/x001/000.p/255", Tile(level=0, index=1000, width=255, entries=True)),
    ("tile/2/000.p/1", Tile(level=2, index=0, width=1)),
])
def test_paths_of_the_spec_parse_and_encode_back(path: str, tile: Tile) -> None:
    assert parse_tile_path(path) == tile
    assert tile.path() == path
    assert parse_tile_path(path.removeprefix("tile/")) == tile


@given(level=st.integers(0, 63), index=st.integers(0, 2**63 - 1), width=st.integers(1, 256),
       entries=st.booleans())
def test_every_tile_path_round_trips(level: int, index: int, width: int,
                                     entries: bool) -> None:
    tile = Tile(level=0 if entries else level, index=index, width=width, entries=entries)
    assert parse_tile_path(tile.path()) == tile


@pytest.mark.parametrize("path", [
    "tile/0/1", "tile/0/01", "tile/0/0001", "tile/00/000", "tile/01/000", "tile/64/000",
    "tile/-1/000", "tile/0/001/234", "tile/0/x000/001", "tile/0/x001", "tile/0/x001/",
    "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/010", "tile/0/000.p/", "tile/0/000.p",
    "tile/0/000.p/1/2", "tile/0", "tile/", "", "tile/0//000", "tile/entry/000",
    "tile/entries", "tile/0/../000", "tile/0/00a", "tile/0/+01", "tile/0/x001/x002/x003/x004"
    "/x005/x006/x007/000", "tile/0/x009/x223/x372/x036/x854/x775/808", "tile/0/٠٠٠",
    "tile/0/000 ", " tile/0/000",
])
def test_bad_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


def test_index_groups_of_three_digits() -> None:
    assert encode_index(0) == "000"
    assert encode_index(999) == "999"
    assert encode_index(1000) == "x001/000"
    assert encode_index(1234067) == "x001/x234/067"


# ---- which tiles a tree has ----------------------------------------------------------


def test_the_spec_example_tree_of_70000() -> None:
    tiles = list(tiles_of(70_000))
    level0 = [t for t in tiles if t.level == 0]
    assert sum(t.full for t in level0) == 273
    assert [(t.level, t.index, t.width) for t in tiles if not t.full] == [
        (0, 273, 112), (1, 1, 17), (2, 0, 1)]
    assert [(t.index, t.full) for t in tiles if t.level == 1] == [(0, True), (1, False)]
    assert len(tiles) == 273 + 1 + 2 + 1


def test_a_tree_of_256_has_a_full_tile_and_a_partial_one_above() -> None:
    assert [(t.level, t.index, t.width) for t in tiles_of(256)] == [(0, 0, 256), (1, 0, 1)]
    assert list(tiles_of(0)) == []


def test_only_new_and_grown_tiles_since_an_earlier_size() -> None:
    assert [(t.level, t.index, t.width) for t in tiles_of(70_000, since=69_900)] == [
        (0, 273, 112)]  # levels 1 and 2 unchanged
    assert [(t.level, t.index, t.width) for t in tiles_of(70_000, since=69_800)] == [
        (0, 272, 256), (0, 273, 112), (1, 1, 17)]  # level 2 is still width 1
    assert [(t.level, t.index, t.width) for t in tiles_of(512, since=300)] == [
        (0, 1, 256), (1, 0, 2)]
    assert list(tiles_of(70_000, since=70_000)) == []
    every = {t.path() for t in tiles_of(70_000)}
    assert {t.path() for t in tiles_of(70_000, since=1000)} <= every


# ---- checking tiles ------------------------------------------------------------------


def synthetic_tree(size: int) -> tuple[list[bytes], dict[merkle.NodeKey, bytes], bytes]:
    """Leaf data, every complete subtree hash, and the root of a tree of ``size``."""
    data = [b"entry %d" % i for i in range(size)]
    nodes: dict[merkle.NodeKey, bytes] = {}
    tree = merkle.CompactRange(on_node=lambda level, i, h: nodes.__setitem__((level, i), h))
    for d in data:
        tree.append(merkle.leaf_hash(d))
    return data, nodes, tree.root()


SIZE = 66_000  # three tile levels, partial tiles on each
DATA, NODES, ROOT = synthetic_tree(SIZE)


def served(changes: dict[str, bytes] | None = None) -> tuple[Callable[[Tile], bytes],
                                                             list[str]]:
    """A fetch function serving the synthetic tree's tiles, some replaced."""
    asked: list[str] = []

    def fetch(tile: Tile) -> bytes:
        asked.append(tile.path())
        if changes and tile.path() in changes:
            return changes[tile.path()]
        if tile.entries:
            return encode_bundle(DATA[tile.first:tile.first + tile.width])
        return tile_from_nodes(tile, NODES)

    return fetch, asked


def test_tiles_recompute_roots_and_proofs_of_every_size() -> None:
    fetch, asked = served()
    tree = CheckedTiles(size=SIZE, root=ROOT, fetch=fetch)
    assert sorted(asked) == sorted(t.path() for t in tiles_of(SIZE) if not t.full)
    for old in (1, 255, 256, 257, 4096, 65_535, 65_536, SIZE):
        ranges = merkle.consistency_ranges(old, SIZE)
        assert tree.consistency_proof(old, SIZE) == merkle.assemble(ranges, NODES)
        assert tree.root_of_size(old) == merkle.range_hash(0, old, NODES)
    for index in (0, 300, 65_535, SIZE - 1):
        ranges = merkle.inclusion_ranges(index, SIZE)
        proof = tree.inclusion_proof(index, SIZE)
        assert proof == merkle.assemble(ranges, NODES)
        merkle.verify_inclusion(index, SIZE, merkle.leaf_hash(DATA[index]), proof, ROOT)
    assert tree.leaf_hashes(512, 520) == [merkle.leaf_hash(d) for d in DATA[512:520]]


def test_reading_every_leaf_fetches_each_tile_once() -> None:
    fetch, asked = served()
    tree = CheckedTiles(size=SIZE, root=ROOT, fetch=fetch)
    assert tree.leaf_hashes(0, SIZE) == [merkle.leaf_hash(d) for d in DATA]
    assert sorted(asked) == sorted(t.path() for t in tiles_of(SIZE))


def test_tile_swapped_by_a_cdn_is_detected() -> None:
    other = bytearray(tile_from_nodes(Tile(level=0, index=5), NODES))
    other[40] ^= 1  # one hash of a full level-0 tile changed
    fetch, _ = served({"tile/0/005": bytes(other)})
    tree = CheckedTiles(size=SIZE, root=ROOT, fetch=fetch)
    with pytest.raises(TileError, match="tile above"):
        tree.leaf_hashes(5 * 256, 5 * 256 + 1)
    tree.leaf_hashes(0, 1)  # the other tiles still check


def test_full_tile_served_for_another_index_is_detected() -> None:
    fetch, _ = served({"tile/0/005": tile_from_nodes(Tile(level=0, index=6), NODES)})
    with pytest.raises(TileError):
        CheckedTiles(size=SIZE, root=ROOT, fetch=fetch).leaf_hashes(5 * 256, 5 * 256 + 1)


def test_forged_partial_tile_fails_the_checkpoint_root() -> None:
    partial = next(t for t in tiles_of(SIZE) if t.level == 0 and not t.full)
    forged = bytearray(tile_from_nodes(partial, NODES))
    forged[-1] ^= 1
    fetch, _ = served({partial.path(): bytes(forged)})
    with pytest.raises(TileError, match="root"):
        CheckedTiles(size=SIZE, root=ROOT, fetch=fetch)


def test_truncated_tile_is_refused() -> None:
    fetch, _ = served({"tile/1/000": tile_from_nodes(Tile(level=1, index=0), NODES)[:-32]})
    with pytest.raises(TileError, match="bytes"):
        CheckedTiles(size=SIZE, root=ROOT, fetch=fetch).leaf_hashes(0, 1)


def test_checkpoint_for_another_tree_fails() -> None:
    fetch, _ = served()
    with pytest.raises(TileError):
        CheckedTiles(size=SIZE, root=hashlib.sha256(b"other").digest(), fetch=fetch)
    with pytest.raises(TileError):
        CheckedTiles(size=0, root=ROOT, fetch=fetch)


def test_entry_bundle_with_an_altered_entry_is_detected() -> None:
    hashes = [merkle.leaf_hash(d) for d in DATA[:256]]
    assert check_bundle(encode_bundle(DATA[:256]), hashes) == DATA[:256]
    altered = [*DATA[:256]]
    altered[17] = b"entry 17!"
    with pytest.raises(TileError, match="entry 17"):
        check_bundle(encode_bundle(altered), hashes)
    with pytest.raises(TileError, match="holds 255"):
        check_bundle(encode_bundle(DATA[:255]), hashes)
    with pytest.raises(TileError):
        check_bundle(encode_bundle(DATA[:256])[:-1], hashes)


def test_bundle_entries_are_uint16_length_prefixed() -> None:
    assert encode_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    assert decode_bundle(b"\x00\x02ab\x00\x00") == [b"ab", b""]
    with pytest.raises(TileError):
        decode_bundle(b"\x00")
