"""A later schema version of one command, for tests only: ``delivery.refuse`` one
version past the latest real one (``V2`` names it: "the version after") names its
reason ``grounds`` and asks for at least 10 characters of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from pydantic import StringConstraints

from domain.exchange import commands as c
from domain.ledger.context import Context
from domain.ledger.handlers import VERSIONED_HANDLERS, Result, recipients_delivery

V2 = c.latest_schema("delivery.refuse") + 1  # past every real version


class DeliveryRefuseV2(c.DocumentRef):
    grounds: Annotated[c.Text, StringConstraints(min_length=10)]


def delivery_refuse_v2(ctx: Context) -> Result:
    delivery = recipients_delivery(ctx, ctx.fields.document)
    delivery.refuse(ctx.fields.grounds, envelope=ctx.envelope, at=ctx.at)
    return [delivery], {"delivery": str(delivery.id), "schema_version": V2}


@pytest.fixture
def refuse_v2() -> Iterator[None]:
    """``delivery.refuse`` V2 registered for the test, and removed after it (a real
    version of that number would be lost: it must not exist)."""
    key = ("delivery.refuse", V2)
    assert key not in c.SCHEMAS and key not in VERSIONED_HANDLERS
    c.SCHEMAS[key] = DeliveryRefuseV2
    VERSIONED_HANDLERS[key] = delivery_refuse_v2
    try:
        yield
    finally:
        del c.SCHEMAS[key], VERSIONED_HANDLERS[key]
