"""The log as C2SP tlog-tiles, made from the stored subtree hashes: tiles and
entry bundles for the HTTP API, and an incremental export to a directory that
any static web server or CDN can serve (docs/ledger.md, "Tiles").

A tile at level ``l`` is a range of ``ledger_nodes`` rows at level ``8·l`` (level
0: ``ledger_leaves``), read in one query; nothing is hashed again. An entry
bundle is the ``leaf_data`` of its leaves' events, read in one join.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from domain.errors import InvalidInputError, NotFoundError
from domain.evidence.checkpoint import Checkpoint, CheckpointError
from domain.evidence.leaf import leaf_data
from domain.evidence.tiles import TILE_HEIGHT, Tile, encode_bundle, tiles_of
from infrastructure.log_store import LogStore, PublishedCheckpoint
from infrastructure.service import LedgerService

CHECKPOINT_FILE = "checkpoint"


def tile_checkpoint(service: LedgerService) -> PublishedCheckpoint | None:
    """The checkpoint the tiles are published for: served at ``/checkpoint``,
    written last by the export, and the largest tree whose partial tiles are served:
    the latest published one (with a witness policy, cosigned by its quorum)."""
    return service.log.published_checkpoint()


class TileSource:
    """Tile and entry bundle bytes from the log's tables, for sizes up to the
    checkpoint ``published`` names (read when a tile lies beyond the last one seen)."""

    def __init__(self, store: LogStore,
                 published: Callable[[], PublishedCheckpoint | None]) -> None:
        self.store = store
        self.published = published
        self._size = 0  # the largest published size seen; sizes only grow

    def check_published(self, tile: Tile) -> None:
        """NotFoundError unless a published checkpoint covers ``tile`` at its width."""
        needed = tile.size_needed()
        if needed > self._size:
            latest = self.published()
            self._size = max(self._size, 0 if latest is None else latest.size)
        if needed > self._size:
            raise NotFoundError(f"{tile.path()} is beyond the published tree "
                                f"(size {self._size})")

    def tile(self, tile: Tile) -> bytes:
        """The hashes of a tile (not a bundle), 32 bytes each."""
        self.check_published(tile)
        return tile_bytes(self.store, tile)

    def bundle(self, tile: Tile) -> bytes:
        """An entry bundle: each leaf's ``leaf_data``, uint16-length-prefixed."""
        self.check_published(tile)
        return bundle_bytes(self.store, tile)


def tile_bytes(store: LogStore, tile: Tile) -> bytes:
    if tile.entries:
        raise InvalidInputError(f"{tile.path()} is an entry bundle, not a tile")
    return b"".join(store.level_hashes(TILE_HEIGHT * tile.level, tile.first,
                                       tile.first + tile.width))


def bundle_bytes(store: LogStore, tile: Tile) -> bytes:
    if not tile.entries:
        raise InvalidInputError(f"{tile.path()} is a tile, not an entry bundle")
    events = store.leaf_events(tile.first, tile.first + tile.width)
    return encode_bundle(leaf_data(_uuid(n.originator_id), n.originator_version, n.topic,
                                   n.state) for n in events)


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


# ---- export to a directory ---------------------------------------------------------


def exported_checkpoint(directory: Path, origin: str) -> Checkpoint | None:
    """The checkpoint a previous export left in ``directory`` (its signatures are
    this ledger's business, its body says how far the export got); InvalidInputError
    if it is another log's or no checkpoint."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        checkpoint = Checkpoint.parse(text.partition("\n\n")[0] + "\n")
    except CheckpointError as exc:
        raise InvalidInputError(f"{path} is not a checkpoint ({exc}); not exporting over "
                                "it") from None
    if checkpoint.origin != origin:
        raise InvalidInputError(f"{directory} holds the tiles of log {checkpoint.origin!r}, "
                                f"not {origin!r}")
    return checkpoint


def export_tiles(service: LedgerService, directory: Path, *,
                 progress: Callable[[int, int], None] | None = None) -> tuple[int, int, int]:
    """Write the tiles and entry bundles of the published tree under ``directory``
    that the previous export (its ``checkpoint`` file) lacks, then that checkpoint.

    Each file is written to a temporary name and renamed, so a reader never sees
    half a tile; the checkpoint goes last, after everything is flushed to disk, so
    it never names tiles that are not there. An interrupted export leaves the old
    checkpoint, and the next one writes from it again (same bytes). Returns
    (old size, new size, files written); ``progress(done, total)`` after each tile.
    """
    log = service.log
    log.issue_checkpoint()  # only if policy says one is due, as /v1/log/checkpoint does
    published = tile_checkpoint(service)
    if published is None:
        raise NotFoundError("the ledger has published no checkpoint yet")
    directory.mkdir(parents=True, exist_ok=True)
    previous = exported_checkpoint(directory, log.origin)
    old = 0 if previous is None else previous.size
    if old > published.size:
        raise InvalidInputError(f"{directory} holds a checkpoint of size {old}, newer than "
                                f"the published one ({published.size})")
    if previous is not None and old and log.root(old) != previous.root:
        raise InvalidInputError(f"{directory} holds a checkpoint of size {old} with another "
                                "root than this log's: not exporting over it")
    tiles = list(tiles_of(published.size, since=old))
    total = len(tiles) + sum(1 for t in tiles if t.level == 0)
    written = done = 0
    for tile in tiles:
        written += _write(directory, tile.path(), tile_bytes(log.store, tile))
        done += 1
        if tile.level == 0:
            bundle = tile.bundle()
            written += _write(directory, bundle.path(), bundle_bytes(log.store, bundle))
            done += 1
        if progress is not None:
            progress(done, total)
    if written:
        os.sync()  # every tile on disk before the checkpoint that names them
    written += _write(directory, CHECKPOINT_FILE, published.note.encode(), durable=True)
    return old, published.size, written


def _write(directory: Path, relative: str, data: bytes, *, durable: bool = False) -> int:
    """Write ``data`` at ``relative`` atomically (temp file + rename); 0 if the
    file already holds exactly these bytes (a resumed export), else 1."""
    path = directory / relative
    try:
        if path.read_bytes() == data:
            return 0
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if durable:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return 1
