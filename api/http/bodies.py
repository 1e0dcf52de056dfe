"""Request bodies, bounded while they are read, so no request moves the server's memory.

A read (GET, HEAD, OPTIONS, DELETE) carries no body: one that announces a body
(a non-zero Content-Length or any Transfer-Encoding) is refused with 413 before
a byte of it is read, by ``NoBodyOnReads`` for every route and by ``refuse_body``
again where a signature is checked. A route that takes a body reads it with
``read_bounded``, or one that stores it as it comes (an attachment) with
``stream_bounded``: refused from Content-Length before reading, and as soon as
the bytes pass the limit while reading (a missing or lying Content-Length). The
unread rest is drained and dropped by the server, never held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from starlette.datastructures import Headers

from api.http.problems import PayloadTooLarge, problem

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
NO_BODY = "a read carries no body: send the request without one"


def declares_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


def refuse_body(request: Request) -> None:
    """413 if the request announces a body (it is not read)."""
    if declares_body(request.headers):
        raise PayloadTooLarge(NO_BODY)


def refuse_declared_over(request: Request, limit: int, what: str) -> None:
    """413 if Content-Length announces more than ``limit`` bytes (nothing is read)."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} may have at most {limit} bytes")


async def stream_bounded(request: Request, limit: int, what: str) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, at most ``limit`` bytes in all; 413
    ``payload-too-large`` as soon as they are more (a chunk past it is never yielded)."""
    refuse_declared_over(request, limit, what)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} may have at most {limit} bytes")
        yield chunk


async def read_bounded(request: Request, limit: int, what: str) -> bytes:
    """The body, at most ``limit`` bytes; 413 ``payload-too-large`` as soon as it is more."""
    return b"".join([chunk async for chunk in stream_bounded(request, limit, what)])


class NoBodyOnReads:
    """ASGI middleware: a read that announces a body is answered 413 before routing,
    public routes included (they would never read it, but it should not be sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (scope["type"] == "http" and scope["method"] in READ_METHODS
                and declares_body(Headers(scope=scope))):
            title = (PayloadTooLarge.__doc__ or "").strip()
            response = problem(413, PayloadTooLarge.code, title, NO_BODY)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
