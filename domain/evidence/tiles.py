"""C2SP tlog-tiles: tile paths, which tiles a tree has, and checking tiles a
client fetched against a checkpoint (pure functions; the fetching is the caller's).

A tile at tile level ``l``, index ``n`` holds up to 256 consecutive hashes of
Merkle level ``8·l``: entry ``i`` is the stored subtree ``(8·l, n·256 + i)``, the
MTH of leaves ``[(n·256+i)·256**l, (n·256+i+1)·256**l)``. Full tiles have 256
entries; the rightmost tile of a level in a tree of size ``s`` is partial, with
``floor(s / 256**l) mod 256`` entries (none: no tile). An entry bundle has the
same index and width as the level-0 tile it matches; its entries are the leaves'
``leaf_data``, each a big-endian uint16 length and the bytes.

Paths (c2sp.org/tlog-tiles)::

    tile/<L>/<N>[.p/<W>]        L: 0..63, W: 1..255, both decimal, no leading zeros
    tile/entries/<N>[.p/<W>]    N: 3-digit groups, all but the last prefixed "x"
                                (1234067 → x001/x234/067)

Checking follows the Go ``sumdb/tlog`` tile reader: the partial tiles of a tree
together hold exactly the subtrees its root is made of, so they are checked by
recomputing the checkpoint's root from them; a full tile is checked by its MTH,
which is an entry of the tile above it, checked the same way, up to a partial one.
No hash from a tile is used before its tile is checked.
"""

from __future__ import annotations

import re
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from domain.errors import InvalidInputError, VerificationError
from domain.evidence.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    NodeKey,
    assemble,
    blocks_for,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    range_blocks,
    range_hash,
    root_of,
)

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
MAX_LEVEL = 63
MAX_INDEX = 2**63 - 1  # tree sizes and indexes are 64-bit signed in the store
RECENT_LEAF_TILES = 16  # full level-0 tiles a reader keeps once checked
ENTRIES = "entries"
_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x?[0-9]{3}")


class TilePathError(InvalidInputError):
    """A tile path is not one of C2SP tlog-tiles' canonical paths."""

    code = "invalid-tile-path"


class TileError(VerificationError):
    """A tile or entry bundle does not match the checkpoint it was read for."""

    code = "invalid-tile"


@dataclass(frozen=True, kw_only=True, order=True)
class Tile:
    """One tile (``entries=False``) or entry bundle (``entries=True``, level 0)."""

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL or (self.entries and self.level != 0):
            raise TilePathError(f"tile level {self.level} is not 0..{MAX_LEVEL}")
        if not 0 <= self.index <= MAX_INDEX:
            raise TilePathError(f"tile index {self.index} is out of range")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TilePathError(f"tile width {self.width} is not 1..{TILE_WIDTH}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def first(self) -> int:
        """Index of its first entry among the hashes of Merkle level 8·level."""
        return self.index * TILE_WIDTH

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""
        level = ENTRIES if self.entries else str(self.level)
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{partial}"

    def size_needed(self) -> int:
        """The smallest tree size that holds this tile as it is (at this width)."""
        return (self.first + self.width) << (TILE_HEIGHT * self.level)

    def bundle(self) -> Tile:
        """The entry bundle of a level-0 tile."""
        return Tile(level=0, index=self.index, width=self.width, entries=True)

    def hashes_tile(self) -> Tile:
        """The level-0 tile an entry bundle is checked against."""
        return Tile(level=0, index=self.index, width=self.width)


def encode_index(n: int) -> str:
    """1234067 → ``x001/x234/067``; 5 → ``005``."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """The tile a canonical path names (with or without the leading ``tile/``).

    Anything else is refused (TilePathError): other spellings of a level, index
    or width (leading zeros, an ``x000`` group, a missing ``x``), widths 0 or
    256 and above, levels above 63, empty or extra path elements.
    """
    rest = path.removeprefix("tile/")
    parts = rest.split("/")
    if len(parts) < 2:
        raise TilePathError(f"{path!r} is not tile/<L>/<N>[.p/<W>]")
    level_text, groups = parts[0], parts[1:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]) or int(groups[-1]) >= TILE_WIDTH:
            raise TilePathError(f"{path!r}: a partial tile's width is 1..255")
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2].removesuffix(".p")]
    if level_text == ENTRIES:
        level, entries = 0, True
    elif _LEVEL.fullmatch(level_text) and int(level_text) <= MAX_LEVEL:
        level, entries = int(level_text), False
    else:
        raise TilePathError(f"{path!r}: the level is 0..63 or 'entries'")
    if not groups or len(groups) > 7 or not all(_GROUP.fullmatch(g) for g in groups):
        raise TilePathError(f"{path!r}: the index is 3-digit groups, all but the last 'x…'")
    index = int("".join(g.removeprefix("x") for g in groups))
    tile = Tile(level=level, index=index, width=width, entries=entries)
    if tile.path() != "tile/" + rest:  # one spelling per tile: x-prefixes, no x000 head
        raise TilePathError(f"{path!r} is not the canonical path {tile.path()!r}")
    return tile


# ---- which tiles a tree has -----------------------------------------------------


def level_count(size: int, level: int) -> int:
    """How many hashes of Merkle level 8·level a tree of ``size`` leaves has."""
    return size >> (TILE_HEIGHT * level)


def tile_at(size: int, level: int, index: int) -> Tile:
    """Tile ``index`` of ``level`` as the tree of ``size`` leaves has it."""
    width = min(TILE_WIDTH, level_count(size, level) - index * TILE_WIDTH)
    if width <= 0:
        raise TileError(f"a tree of size {size} has no tile {index} at level {level}")
    return Tile(level=level, index=index, width=width)


def tiles_of(size: int, *, since: int = 0) -> Iterator[Tile]:
    """The tiles of a tree of ``size`` leaves, level by level; with ``since``,
    only those that a tree of ``since`` leaves lacks or has narrower (new full
    tiles and partial ones that grew). Entry bundles mirror level 0 (``bundle()``)."""
    if not 0 <= since <= size:
        raise InvalidInputError(f"no tiles from size {since} to size {size}")
    level = 0
    while level <= MAX_LEVEL and level_count(size, level):
        new, old = level_count(size, level), level_count(since, level)
        for index in range(old // TILE_WIDTH, -(-new // TILE_WIDTH)):
            tile = tile_at(size, level, index)
            if tile.width != min(TILE_WIDTH, max(0, old - tile.first)):
                yield tile
        level += 1


def partial_tiles(size: int) -> list[Tile]:
    """The partial tiles of a tree of ``size`` leaves: they hold its root's subtrees."""
    return [t for t in tiles_of(size) if not t.full]


# ---- tile and entry bundle bytes ------------------------------------------------


def tile_hashes(data: bytes, width: int) -> list[bytes]:
    """The hashes of a tile's bytes, which must be ``width`` × 32 bytes."""
    if len(data) != width * HASH_SIZE:
        raise TileError(f"a tile of width {width} is {width * HASH_SIZE} bytes, not {len(data)}")
    return [data[i:i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries, each prefixed with its length as a big-endian uint16."""
    out = bytearray()
    for entry in entries:
        if len(entry) > 0xFFFF:
            raise InvalidInputError(f"an entry of {len(entry)} bytes does not fit a bundle")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; TileError if it is cut or malformed."""
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileError("entry bundle ends inside a length prefix")
        (n,) = struct.unpack_from(">H", data, at)
        if at + 2 + n > len(data):
            raise TileError("entry bundle ends inside an entry")
        entries.append(data[at + 2:at + 2 + n])
        at += 2 + n
    return entries


def check_bundle(data: bytes, hashes: list[bytes]) -> list[bytes]:
    """The entries of a bundle whose entries hash (RFC 9162 leaf hash) to the
    checked level-0 ``hashes``, one for one; TileError otherwise."""
    entries = decode_bundle(data)
    if len(entries) != len(hashes):
        raise TileError(f"entry bundle holds {len(entries)} entries, its tile {len(hashes)}")
    for i, (entry, expected) in enumerate(zip(entries, hashes, strict=True)):
        if leaf_hash(entry) != expected:
            raise TileError(f"entry {i} of the bundle does not hash to its level-0 tile entry")
    return entries


# ---- checking tiles against a checkpoint --------------------------------------------


class CheckedTiles:
    """The tiles of one tree (``size``, ``root``, as a verified checkpoint states
    it), each fetched once through ``fetch`` and checked before use.

    ``fetch(tile)`` returns the bytes served at ``tile.path()``. Every tile is
    fetched at the width the tree of ``size`` has, so only partial tiles the
    checkpoint requires are asked for. Raises TileError on any mismatch.
    """

    def __init__(self, *, size: int, root: bytes, fetch: Callable[[Tile], bytes]) -> None:
        if size < 0:
            raise InvalidInputError(f"tree size {size} is negative")
        self.size = size
        self.root = root
        self._fetch = fetch
        # checked tiles: all above level 0 (few), and the last few of level 0, so
        # that reading a large log entry by entry keeps memory flat
        self._checked: dict[tuple[int, int], list[bytes]] = {}
        self._recent: OrderedDict[int, list[bytes]] = OrderedDict()
        if size == 0:
            if root != EMPTY_ROOT:
                raise TileError("the empty tree's root is SHA-256 of nothing")
            return
        # 1. the partial tiles, all fetched, must make the checkpoint's root
        unchecked = {(t.level, t.index): tile_hashes(fetch(t), t.width)
                     for t in partial_tiles(size)}
        nodes = _nodes_from(range_blocks(0, size), lambda lvl, i: unchecked[(lvl, i)])
        if range_hash(0, size, nodes) != root:
            raise TileError(f"the partial tiles of size {size} do not make the checkpoint's root")
        self._checked.update(unchecked)

    def tile(self, level: int, index: int) -> list[bytes]:
        """The checked hashes of tile ``index`` at ``level`` in this tree."""
        key = (level, index)
        if key in self._checked:
            return self._checked[key]
        if level == 0 and index in self._recent:
            self._recent.move_to_end(index)
            return self._recent[index]
        tile = tile_at(self.size, level, index)
        if not tile.full:
            raise TileError(f"tile {tile.path()} should have been checked with the root")
        hashes = tile_hashes(self._fetch(tile), tile.width)
        # 2. a full tile's MTH is entry (index mod 256) of the tile above it
        parent = self.tile(level + 1, index // TILE_WIDTH)
        if root_of(hashes) != parent[index % TILE_WIDTH]:
            raise TileError(f"tile {tile.path()} does not hash to its entry in the tile above")
        if level == 0:
            self._recent[index] = hashes
            if len(self._recent) > RECENT_LEAF_TILES:
                self._recent.popitem(last=False)
        else:
            self._checked[key] = hashes
        return hashes

    def node(self, key: NodeKey) -> bytes:
        """The hash of the complete subtree ``(level, index)`` (level 0 = leaf hashes)."""
        return _nodes_from([key], self.tile)[key]

    def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return _nodes_from(keys, self.tile)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        self._check_range(start, end)
        return [self.tile(0, i // TILE_WIDTH)[i % TILE_WIDTH] for i in range(start, end)]

    def root_of_size(self, size: int) -> bytes:
        """MTH of the first ``size`` leaves (``size`` up to this tree's)."""
        self._check_range(0, size)
        if size == 0:
            return EMPTY_ROOT
        return range_hash(0, size, self.nodes(range_blocks(0, size)))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]) from checked tiles."""
        self._check_range(0, size)
        ranges = inclusion_ranges(index, size)
        return assemble(ranges, self.nodes(blocks_for(ranges)))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 PROOF(old, D[0:new]) from checked tiles."""
        self._check_range(0, new)
        ranges = consistency_ranges(old, new)
        return assemble(ranges, self.nodes(blocks_for(ranges)))

    def _check_range(self, start: int, end: int) -> None:
        if not 0 <= start <= end <= self.size:
            raise TileError(f"[{start}, {end}) is not within the tree of size {self.size}")


def _nodes_from(keys: Iterable[NodeKey],
                tile: Callable[[int, int], list[bytes]]) -> dict[NodeKey, bytes]:
    """Subtree hashes from tile entries: level 8·l + r is the MTH of 2**r aligned
    entries of a tile at level l (r = 0: one entry itself)."""
    found: dict[NodeKey, bytes] = {}
    for level, index in keys:
        tile_level, r = divmod(level, TILE_HEIGHT)
        first = index << r
        hashes = tile(tile_level, first // TILE_WIDTH)
        at = first % TILE_WIDTH
        found[(level, index)] = root_of(hashes[at:at + (1 << r)])
    return found


def tile_from_nodes(tile: Tile, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """A tile's bytes from stored subtree hashes (server side, and tests)."""
    level = TILE_HEIGHT * tile.level
    return b"".join(nodes[(level, tile.first + i)] for i in range(tile.width))
