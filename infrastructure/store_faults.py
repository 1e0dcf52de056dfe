"""Which failures mean "the store is unavailable": one classification for every caller.

The database drivers and eventsourcing each raise their own errors for a store
that is down, hangs or is locked (psycopg's OperationalError and PoolTimeout,
sqlite3's "database is locked", eventsourcing's wrappers of both, often
wrapped again by a library on the way up). The HTTP API answers these with a
503 ``store-unavailable`` problem and the command line with its own exit code;
both ask this module, so no caller needs to know the drivers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError

from domain.errors import DocLedgerError, StoreUnavailableError


class StoreOutageError(PersistenceError):
    """The store is known to be out: raised at once, and (unlike eventsourcing's
    OperationalError) not retried by eventsourcing."""


# the errors a store fault may arrive as (for exception handlers keyed by type)
STORE_ERROR_TYPES: tuple[type[Exception], ...] = (PersistenceError, psycopg.Error, sqlite3.Error)

# SQLite reports a locked or unreadable file with the same class as a syntax error
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open",
                       "disk i/o error", "readonly database", "database is full")


def _is_fault(exc: BaseException) -> bool:
    if isinstance(exc, StoreOutageError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return any(s in str(exc).lower() for s in _SQLITE_UNAVAILABLE)
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        suppressed = current.__suppress_context__  # raised "from None": not behind it
        current = current.__cause__ or (None if suppressed else current.__context__)


def store_fault(exc: BaseException) -> StoreUnavailableError | None:
    """The store fault behind ``exc`` (looking through wrappers), or None if it is
    not one: a bug, a constraint, bad SQL are not the store being unavailable."""
    if isinstance(exc, StoreUnavailableError):
        return exc
    if isinstance(exc, DocLedgerError):
        return None  # already says what it is
    for cause in _chain(exc):
        if _is_fault(cause):
            return StoreUnavailableError(f"the store is unavailable: {_one_line(cause)}")
    # eventsourcing's own (e.g. a pool of its own timing out) with no driver error under it
    if isinstance(exc, OperationalError | InterfaceError) and not any(
            isinstance(c, psycopg.Error | sqlite3.Error) for c in _chain(exc)):
        return StoreUnavailableError(f"the store is unavailable: {_one_line(exc)}")
    return None


@contextmanager
def store_faults_as_errors() -> Iterator[None]:
    """Turn a store fault raised inside into StoreUnavailableError; the rest passes."""
    try:
        yield
    except StoreUnavailableError:
        raise
    except Exception as exc:
        fault = store_fault(exc)
        if fault is None:
            raise
        raise fault from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
