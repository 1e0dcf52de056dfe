"""Shared helpers of the edXML tests: the asset folders and reading them."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "edxml"
SAMPLES = ASSETS / "samples"
VARIANTS = ASSETS / "variants"
HOSTILE = ASSETS / "hostile"


def read(path: Path) -> bytes:
    return path.read_bytes()


def line_of(data: bytes, marker: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th ``marker`` in ``data``."""
    at = -1
    for _ in range(occurrence):
        at = data.index(marker.encode("utf-8"), at + 1)
    return data.count(b"\n", 0, at) + 1
