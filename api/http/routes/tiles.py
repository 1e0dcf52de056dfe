"""The log as C2SP tlog-tiles, public: ``/checkpoint``, ``/tile/<L>/<N>[.p/<W>]``
and ``/tile/entries/<N>[.p/<W>]`` (docs/ledger.md, "Tiles")."""

from __future__ import annotations

import gzip

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from api.http.deps import ContainerDep
from api.http.problems import PROBLEM_RESPONSES
from domain.errors import NotFoundError
from domain.evidence.tiles import parse_tile_path
from infrastructure.tiles import tile_checkpoint

router = APIRouter(tags=["tiles"], responses=PROBLEM_RESPONSES)

OCTETS = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"  # full tiles never change
PARTIAL = "public, max-age=60"  # a partial tile's bytes never change either, but it may go
CHECKPOINT = "public, max-age=5"  # mutable: "no caching beyond a few seconds"


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(c: ContainerDep) -> PlainTextResponse:
    """The checkpoint the tiles are published for (C2SP tlog-checkpoint, signed note)."""
    c.service.log.issue_checkpoint()  # only when policy says one is due
    published = tile_checkpoint(c.service)
    if published is None:
        raise NotFoundError("the ledger has published no checkpoint yet")
    return PlainTextResponse(published.note, media_type="text/plain; charset=utf-8",
                             headers={"Cache-Control": CHECKPOINT})


@router.get("/tile/{path:path}", response_class=Response,
            responses={200: {"content": {OCTETS: {}}}})
def tile(path: str, request: Request, c: ContainerDep) -> Response:
    """A tile (32-byte hashes of one tree level) or an entry bundle (uint16-length-
    prefixed leaf_data); partial ones only within the published checkpoint's tree."""
    wanted = parse_tile_path(path)
    source = c.tiles
    headers = {"Cache-Control": IMMUTABLE if wanted.full else PARTIAL}
    if not wanted.entries:
        return Response(source.tile(wanted), media_type=OCTETS, headers=headers)
    body = source.bundle(wanted)
    headers["Vary"] = "Accept-Encoding"
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=OCTETS, headers=headers)


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding value allows gzip (named, or ``*``, with q above 0)."""
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if name.lower() not in ("gzip", "*"):
            continue
        q = next((p.partition("=")[2] for p in params if p.lower().startswith("q=")), "1")
        try:
            return float(q) > 0
        except ValueError:
            return False
    return False
