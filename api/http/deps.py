"""FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.http.auth import Caller, authenticate
from api.http.container import Container


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(container)]


async def caller(request: Request, c: ContainerDep) -> Caller:
    """The signed caller; 401 if the request is unsigned or the signature fails."""
    body = await request.body()
    return authenticate(request, body, c.session.app, c.nonces,
                        c.settings.request_max_age_seconds)


CallerDep = Annotated[Caller, Depends(caller)]
