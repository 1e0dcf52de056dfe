"""Reading a log published as C2SP tlog-tiles, over HTTP(S) or from a directory,
with every tile and entry checked against a checkpoint the caller verified.

    reader = TileReader.open("https://ledger.example/")  # or "/srv/tiles", "file:///srv/tiles"
    note = reader.checkpoint_note()                      # untrusted text, as served
    cp = open_checkpoint(note, NoteKey.parse(vkey))      # the caller verifies it
    entries = reader.leaf_data(cp, 0, cp.size)           # list[bytes], leaf_data per leaf
    proof = reader.consistency_proof(cp, old.size)       # RFC 9162, to old.size from cp.size
    verify_consistency(old.size, cp.size, old.root, cp.root, proof)
    reader.root(cp, old.size) == old.root                # the same check, straight

Interface (every method but ``checkpoint_note`` takes the verified
``domain.evidence.checkpoint.Checkpoint`` whose tree it reads):

- ``TileReader.open(source, *, http=None, timeout=30)``: ``source`` is an
  ``http://`` or ``https://`` URL prefix (``/checkpoint`` and ``/tile/…`` below
  it) or a directory path (``file://`` allowed); ``http`` an ``httpx.Client`` to
  use instead of a new one (tests pass the API's TestClient);
- ``checkpoint_note() -> str``: the ``checkpoint`` resource, unverified;
- ``leaf_data(checkpoint, start, end) -> list[bytes]``: entries ``start … end-1``
  from entry bundles, each checked to hash to its level-0 tile entry;
- ``leaf_hashes(checkpoint, start, end) -> list[bytes]``: the level-0 hashes;
- ``root(checkpoint, size=None) -> bytes``: MTH of the first ``size`` leaves
  (default: the whole tree, which equals ``checkpoint.root`` once checked);
- ``consistency_proof(checkpoint, old, new=None) -> list[bytes]`` and
  ``inclusion_proof(checkpoint, index, size=None) -> list[bytes]``: RFC 9162
  proofs computed from the tiles, ``new``/``size`` at most ``checkpoint.size``;
- ``close()``.

Errors: ``TileError`` (a tile or bundle does not match the checkpoint: a
tampered or swapped resource), ``NotFoundError`` (a resource is missing: 404
or no file), ``StoreUnavailableError`` (the server failed or could not be
reached). Tiles are checked as in domain/evidence/tiles.py; of the last
checkpoint read, the checked tiles above level 0 and the last 16 of level 0 are
kept, so walking the whole log fetches each tile once, in flat memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import httpx

from domain.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from domain.evidence.checkpoint import Checkpoint, NoteKey, open_checkpoint
from domain.evidence.tiles import (
    TILE_WIDTH,
    CheckedTiles,
    TileError,
    check_bundle,
    tile_at,
)

Fetch = Callable[[str], bytes]  # a resource's bytes by its path below the prefix


class TileReader:
    """A tiled log at a URL prefix or in a directory (see the module's docstring)."""

    def __init__(self, fetch: Fetch, *, close: Callable[[], None] = lambda: None) -> None:
        self._fetch = fetch
        self._close = close
        self._tree: CheckedTiles | None = None

    @classmethod
    def open(cls, source: str, *, http: httpx.Client | None = None,
             timeout: float = 30.0) -> TileReader:
        if source.startswith(("http://", "https://")):
            client = http or httpx.Client(timeout=timeout)
            return cls(_http_fetch(client, source.rstrip("/")),
                       close=client.close if http is None else lambda: None)
        if source.startswith("file://"):
            source = urlparse(source).path
        directory = Path(source)
        if not directory.is_dir():
            raise InvalidInputError(f"{source!r} is neither an http(s) URL nor a directory")
        return cls(_file_fetch(directory))

    def close(self) -> None:
        self._close()

    def __enter__(self) -> TileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ----------------------------------------------------------------

    def checkpoint_note(self) -> str:
        try:
            return self._fetch("checkpoint").decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("the checkpoint is not UTF-8 text") from None

    def tree(self, checkpoint: Checkpoint) -> CheckedTiles:
        """The checked tiles of ``checkpoint``'s tree (its partial tiles fetched and
        checked against its root now; the others when first used)."""
        tree = self._tree
        if tree is None or (tree.size, tree.root) != (checkpoint.size, checkpoint.root):
            tree = CheckedTiles(size=checkpoint.size, root=checkpoint.root,
                                fetch=lambda t: self._fetch(t.path()))
            self._tree = tree
        return tree

    def leaf_hashes(self, checkpoint: Checkpoint, start: int, end: int) -> list[bytes]:
        return self.tree(checkpoint).leaf_hashes(start, end)

    def leaf_data(self, checkpoint: Checkpoint, start: int, end: int) -> list[bytes]:
        tree = self.tree(checkpoint)
        if not tree.leaf_hashes(start, end):  # refuses a range beyond the tree
            return []
        out: list[bytes] = []
        for index in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
            tile = tile_at(checkpoint.size, 0, index)
            entries = check_bundle(self._fetch(tile.bundle().path()), tree.tile(0, index))
            out += entries[max(start - tile.first, 0):end - tile.first]
        return out

    def root(self, checkpoint: Checkpoint, size: int | None = None) -> bytes:
        return self.tree(checkpoint).root_of_size(checkpoint.size if size is None else size)

    def consistency_proof(self, checkpoint: Checkpoint, old: int,
                          new: int | None = None) -> list[bytes]:
        return self.tree(checkpoint).consistency_proof(
            old, checkpoint.size if new is None else new)

    def inclusion_proof(self, checkpoint: Checkpoint, index: int,
                        size: int | None = None) -> list[bytes]:
        return self.tree(checkpoint).inclusion_proof(
            index, checkpoint.size if size is None else size)


def check_log(reader: TileReader, key: NoteKey, saved: Sequence[str] = (),
              *, progress: Callable[[int], None] | None = None) -> Checkpoint:
    """Check a whole tiled log against ``key`` and the checkpoints a client saved:

    1. the served checkpoint is signed by ``key`` (its origin is the key's name);
    2. every saved checkpoint (a signed note) is signed by ``key`` and the served
       tree extends it: no larger than it, and the same root at its size;
    3. every tile and every entry of every bundle checks against the served
       checkpoint (module docstring), entries read a bundle at a time.

    Returns the served checkpoint; raises on the first failure (CheckpointError,
    TileError, NotFoundError …). ``progress`` is told how many entries were read.
    """
    checkpoint = open_checkpoint(reader.checkpoint_note(), key)
    for note in saved:
        old = open_checkpoint(note, key)
        if old.size > checkpoint.size:
            raise TileError(f"the served tree (size {checkpoint.size}) is smaller than a "
                            f"saved checkpoint's (size {old.size}): the log was rolled back "
                            "or forked")
        if reader.root(checkpoint, old.size) != old.root:
            raise TileError(f"the served tree does not extend the saved checkpoint of size "
                            f"{old.size}: another root at that size (a fork)")
    for start in range(0, checkpoint.size, TILE_WIDTH):
        end = min(start + TILE_WIDTH, checkpoint.size)
        reader.leaf_data(checkpoint, start, end)
        if progress is not None:
            progress(end - start)
    return checkpoint


# No resource is larger: a full bundle of the largest entries, 256 × (2 + 65,535) bytes.
MAX_RESOURCE = TILE_WIDTH * (2 + 0xFFFF)


def _http_fetch(client: httpx.Client, prefix: str) -> Fetch:
    def fetch(path: str) -> bytes:
        url = f"{prefix}/{path}"
        try:
            with client.stream("GET", url,
                               headers={"Accept-Encoding": "gzip, identity"}) as response:
                if response.status_code == 404:
                    raise NotFoundError(f"GET {url}: 404")
                if response.status_code != 200:
                    raise StoreUnavailableError(f"GET {url}: {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():  # gzip undone, size bounded as it comes
                    body += chunk
                    if len(body) > MAX_RESOURCE:
                        raise TileError(f"GET {url}: larger than any tile or bundle")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(f"GET {url}: {exc}") from None

    return fetch


def _file_fetch(directory: Path) -> Fetch:
    def fetch(path: str) -> bytes:
        # paths come from Tile.path() or are "checkpoint": never "..", never absolute
        file = directory / path
        try:
            if file.stat().st_size > MAX_RESOURCE:
                raise TileError(f"{file} is larger than any tile or bundle")
            return file.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{file} does not exist") from None

    return fetch
