"""The log as C2SP tlog-tiles, on both backends: served over HTTP, exported to a
directory, read back and checked by the tile reader, tampering detected."""

from __future__ import annotations

import functools
import gzip
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.cli import app as cli_app
from api.http.app import create_app
from domain.errors import InvalidInputError, NotFoundError
from domain.evidence import merkle
from domain.evidence.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteKey,
    open_checkpoint,
    sign_note,
)
from domain.evidence.keys import Ed25519Signer
from domain.evidence.leaf import leaf_data
from domain.evidence.tiles import TileError, parse_tile_path, tiles_of
from infrastructure.service import LedgerService, bootstrap
from infrastructure.tile_reader import TileReader
from infrastructure.tiles import export_tiles
from tests.conftest import PG, pg_settings, sqlite_settings
from tests.factories import World

DOCUMENTS = 25  # ~280 events: a full level-0 tile, a partial one, a partial level-1 tile


@dataclass
class Tiled:
    world: World
    service: LedgerService
    http: TestClient
    exported: Path
    checkpoint: Checkpoint

    def events_leaf_data(self) -> list[bytes]:
        return [leaf_data(n.originator_id, n.originator_version, n.topic,  # type: ignore[arg-type]
                          n.state)
                for n in self.world.app.recorder.select_notifications(1, 100_000)]


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tiled(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tiled]:
    """One ledger per backend for the whole module, with a signed checkpoint,
    exported once, and the API over it."""
    tmp = tmp_path_factory.mktemp("tiles")
    schema = None
    if request.param == "postgres":
        request.getfixturevalue("postgres_available")
        schema = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(**PG, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        settings = pg_settings(tmp, schema)
    else:
        settings = sqlite_settings(tmp)
    world = World.create(settings)
    for _ in range(DOCUMENTS):
        world.sent()
    service = bootstrap(settings, app=world.app)
    stored = service.log.issue_checkpoint(force=True)
    assert stored is not None and stored.size > 256
    exported = tmp / "tiles"
    export_tiles(service, exported)
    checkpoint = open_checkpoint(stored.note, service.log.note_key)
    try:
        with TestClient(create_app(settings)) as http:
            yield Tiled(world, service, http, exported, checkpoint)
    finally:
        world.app.close()
        if schema is not None:
            with psycopg.connect(**PG, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def exported_files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_http_tiles_equal_exported_files_byte_for_byte(tiled: Tiled) -> None:
    files = exported_files(tiled.exported)
    size = tiled.checkpoint.size
    expected = {t.path() for t in tiles_of(size)} | {
        t.bundle().path() for t in tiles_of(size) if t.level == 0}
    assert set(files) == expected | {"checkpoint"}
    for name in files:
        answer = tiled.http.get("/" + name, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, answer.text
        assert answer.content == (tiled.exported / name).read_bytes(), name
        if name == "checkpoint":
            assert answer.headers["content-type"] == "text/plain; charset=utf-8"
            assert answer.headers["cache-control"] == "public, max-age=5"
            continue
        tile = parse_tile_path(name)
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["cache-control"] == (
            "public, max-age=31536000, immutable" if tile.full else "public, max-age=60")
        assert (answer.headers.get("content-encoding") == "gzip") == tile.entries


def test_entry_bundles_are_gzipped_only_for_clients_that_accept_it(tiled: Tiled) -> None:
    raw = tiled.http.get("/tile/entries/000", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert raw.content == (tiled.exported / "tile/entries/000").read_bytes()
    with tiled.http.stream("GET", "/tile/entries/000",
                           headers={"Accept-Encoding": "gzip"}) as zipped:
        body = b"".join(zipped.iter_raw())
    assert gzip.decompress(body) == raw.content
    refused = tiled.http.get("/tile/entries/000", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers


def test_tiles_recompute_the_checkpoint_root_and_the_apis_proofs(tiled: Tiled) -> None:
    cp, log = tiled.checkpoint, tiled.service.log
    for source, http in ((str(tiled.exported), None), ("http://testserver", tiled.http)):
        with TileReader.open(source, http=http) as reader:
            assert open_checkpoint(reader.checkpoint_note(), log.note_key) == cp
            assert reader.root(cp) == cp.root
            for old in (1, 8, 255, 256, 257, cp.size - 1, cp.size):
                assert reader.consistency_proof(cp, old) == log.consistency_proof(old, cp.size)
                assert reader.root(cp, old) == log.root(old)
            for index in (0, 255, 256, cp.size - 1):
                proof = reader.inclusion_proof(cp, index)
                assert proof == log.inclusion_proof(index, cp.size)
                merkle.verify_inclusion(index, cp.size, log.store.leaves(index, 1)[0][2],
                                        proof, cp.root)
            assert reader.leaf_data(cp, 0, cp.size) == tiled.events_leaf_data()[:cp.size]
            assert reader.leaf_data(cp, 250, 260) == tiled.events_leaf_data()[250:260]

    with TileReader.open("http://testserver", http=tiled.http) as reader:  # the API's own proofs
        for old in (3, 256, cp.size - 1):
            answer = tiled.http.get(f"/v1/log/consistency?old={old}&new={cp.size}").json()
            assert reader.consistency_proof(cp, old) == [bytes.fromhex(h)
                                                         for h in answer["proof"]]
        for notification in (1, 200):
            answer = tiled.http.get(f"/v1/log/inclusion?notification={notification}").json()
            assert answer["tree_size"] == cp.size
            assert reader.inclusion_proof(cp, answer["leaf_index"]) == [
                bytes.fromhex(h) for h in answer["proof"]]


def test_a_plain_static_web_server_serves_the_export(tiled: Tiled) -> None:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tiled.exported))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as static:
        threading.Thread(target=static.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{static.server_address[1]}/"
            with TileReader.open(url) as reader:
                cp = open_checkpoint(reader.checkpoint_note(), tiled.service.log.note_key)
                assert reader.leaf_data(cp, 0, cp.size) == tiled.events_leaf_data()[:cp.size]
        finally:
            static.shutdown()


def test_tiles_beyond_the_published_checkpoint_are_not_served(tiled: Tiled) -> None:
    size = tiled.checkpoint.size
    wider = f"/tile/0/001.p/{size - 256 + 1}"
    for path in (wider, "/tile/0/001", "/tile/entries/001", "/tile/1/000", "/tile/2/000.p/1",
                 f"/tile/entries/001.p/{size - 256 + 1}"):
        answer = tiled.http.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:docledger:problem:not-found"


@pytest.mark.parametrize("path", ["/tile/0/0", "/tile/0/x000/000", "/tile/00/000",
                                  "/tile/64/000", "/tile/0/000.p/0", "/tile/0/000.p/256",
                                  "/tile/entries/x001", "/tile/0", "/tile/a/000"])
def test_bad_tile_paths_are_refused(tiled: Tiled, path: str) -> None:
    answer = tiled.http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:docledger:problem:invalid-tile-path"


# ---- a mirror that lies --------------------------------------------------------------


def mirror(tiled: Tiled, tmp_path: Path) -> Path:
    copy = tmp_path / "mirror"
    shutil.copytree(tiled.exported, copy)
    return copy


def test_tile_swapped_by_a_cdn_is_detected(tiled: Tiled, tmp_path: Path) -> None:
    copy = mirror(tiled, tmp_path)
    tile = copy / "tile/0/000"
    hashes = bytearray(tile.read_bytes())
    hashes[0:32], hashes[32:64] = hashes[32:64], hashes[0:32]  # two leaves swapped
    tile.write_bytes(bytes(hashes))
    with TileReader.open(str(copy)) as reader, pytest.raises(TileError, match="tile above"):
        reader.leaf_data(tiled.checkpoint, 0, 1)


def test_entry_rewritten_in_a_mirrored_bundle_is_detected(tiled: Tiled, tmp_path: Path) -> None:
    copy = mirror(tiled, tmp_path)
    bundle = copy / "tile/entries/000"
    data = bytearray(bundle.read_bytes())
    data[-1] ^= 1  # the last byte of the last entry's state hash
    bundle.write_bytes(bytes(data))
    with TileReader.open(str(copy)) as reader, pytest.raises(TileError, match="entry 255"):
        reader.leaf_data(tiled.checkpoint, 0, 256)


def test_partial_tile_of_a_forked_tree_fails_the_signed_checkpoint(tiled: Tiled,
                                                                   tmp_path: Path) -> None:
    copy = mirror(tiled, tmp_path)
    partial = next(t for t in tiles_of(tiled.checkpoint.size) if t.level == 0 and not t.full)
    path = copy / partial.path()
    path.write_bytes(path.read_bytes()[:-32] + bytes(32))  # the last leaf replaced
    with TileReader.open(str(copy)) as reader, pytest.raises(TileError, match="root"):
        reader.root(tiled.checkpoint)


def test_tile_missing_from_a_mirror_is_not_found(tiled: Tiled, tmp_path: Path) -> None:
    copy = mirror(tiled, tmp_path)
    (copy / "tile/0/000").unlink()
    with TileReader.open(str(copy)) as reader, pytest.raises(NotFoundError):
        reader.leaf_data(tiled.checkpoint, 0, 1)


def test_export_refuses_a_directory_of_another_log(tiled: Tiled, tmp_path: Path) -> None:
    cp = tiled.checkpoint
    other = Checkpoint(origin="elsewhere.example/log", size=cp.size, root=cp.root)
    forked = Checkpoint(origin=cp.origin, size=10, root=bytes(32))
    for body in (other.body(), forked.body()):
        (tmp_path / "checkpoint").write_text(body + "\n— someone c2lnbmF0dXJl\n")
        with pytest.raises(InvalidInputError):
            export_tiles(tiled.service, tmp_path)
        assert exported_files(tmp_path) == ["checkpoint"]  # nothing written


def verify_cli(tiled: Tiled, source: Path, *saved: Path) -> Result:
    vkey = tiled.service.log.note_key.vkey()
    return CliRunner().invoke(cli_app, ["tiles", "verify", str(source), "--ledger-key", vkey,
                                        *(a for p in saved for a in ("--checkpoint", str(p)))])


def signed_note(tiled: Tiled, size: int, root: bytes, path: Path) -> Path:
    log = tiled.service.log
    path.write_text(sign_note(Checkpoint(origin=log.origin, size=size, root=root).body(),
                              log.note_key, log.signer))
    return path


def test_tiles_verify_checks_every_entry_and_the_saved_checkpoints(tiled: Tiled,
                                                                   tmp_path: Path) -> None:
    log = tiled.service.log
    saved = signed_note(tiled, 100, log.root(100), tmp_path / "old.note")
    done = verify_cli(tiled, tiled.exported, saved)
    assert done.exit_code == 0, done.output
    assert f"{tiled.checkpoint.size} entries" in done.output
    copy = mirror(tiled, tmp_path)
    bundle = copy / "tile/entries/000"
    bundle.write_bytes(bundle.read_bytes()[:-1] + b"\0")
    assert isinstance(verify_cli(tiled, copy).exception, TileError)


def test_tiles_of_a_forked_log_fail_against_a_saved_checkpoint(tiled: Tiled,
                                                               tmp_path: Path) -> None:
    saved = signed_note(tiled, 100, bytes(32), tmp_path / "fork.note")  # the key signed another
    failed = verify_cli(tiled, tiled.exported, saved)
    assert isinstance(failed.exception, TileError) and "fork" in str(failed.exception)


def test_rolled_back_tiles_fail_against_a_saved_checkpoint(tiled: Tiled,
                                                           tmp_path: Path) -> None:
    saved = signed_note(tiled, tiled.checkpoint.size + 5, bytes(32), tmp_path / "later.note")
    failed = verify_cli(tiled, tiled.exported, saved)
    assert isinstance(failed.exception, TileError) and "rolled back" in str(failed.exception)


def test_checkpoint_signed_by_another_key_is_refused(tiled: Tiled, tmp_path: Path) -> None:
    copy = mirror(tiled, tmp_path)
    other = Ed25519Signer.generate()
    key = NoteKey.from_public_key(tiled.checkpoint.origin, other.public_key)
    (copy / "checkpoint").write_text(sign_note(tiled.checkpoint.body(), key, other))
    assert isinstance(verify_cli(tiled, copy).exception, CheckpointError)


# ---- growing the log (last: it adds events to the module's ledger) -------------------------


def test_export_writes_only_new_and_grown_tiles_then_the_checkpoint(tiled: Tiled) -> None:
    old = tiled.checkpoint
    again = export_tiles(tiled.service, tiled.exported)
    assert again == (old.size, old.size, 0)  # nothing new, nothing written
    for _ in range(3):
        tiled.world.sent()
    new_stored = tiled.service.log.issue_checkpoint(force=True)
    assert new_stored is not None
    before = set(exported_files(tiled.exported))
    result = CliRunner().invoke(cli_app, ["tiles", "export", str(tiled.exported), "--data",
                                          str(tiled.world.settings.data)],
                                env=_env(tiled))
    assert result.exit_code == 0, result.output
    changed = list(tiles_of(new_stored.size, since=old.size))
    written = set(exported_files(tiled.exported)) - before
    assert written <= {t.path() for t in changed} | {t.bundle().path() for t in changed}
    assert (tiled.exported / "checkpoint").read_text() == new_stored.note
    new = open_checkpoint(new_stored.note, tiled.service.log.note_key)
    with TileReader.open(str(tiled.exported)) as reader:
        proof = reader.consistency_proof(new, old.size)
        merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
        assert reader.leaf_data(new, 0, new.size) == tiled.events_leaf_data()[:new.size]
    with TileReader.open(str(tiled.exported)) as reader:  # old partial tiles still there
        assert reader.root(old) == old.root


def _env(tiled: Tiled) -> dict[str, str]:
    settings = tiled.world.settings
    if settings.backend == "sqlite":
        return {"DOCLEDGER_BACKEND": "sqlite"}
    return {"DOCLEDGER_BACKEND": "postgres", "DOCLEDGER_PG_DB": settings.pg_db,
            "DOCLEDGER_PG_SCHEMA": settings.pg_schema}
