"""Database access: migrations, the queries shared by the API and the processor, and
how to tell a database error that will pass from one that never will."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg
import pydantic_core

# Errors that mean "the database cannot be reached right now" rather than "this query
# is wrong": callers answer 503 / retry on these, and let anything else surface.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)

# A connection of our own or one lent by a pool: the queries take either.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

# SQLSTATE classes of errors caused by the rows themselves: data exceptions (22: text
# the server cannot encode, numbers or dates out of range, bad representations),
# integrity constraint violations (23) and program limits (54: e.g. a key too large
# for its index). Retrying the same rows can never succeed. Telling them apart from the
# rest matters: a record is dead-lettered only when it is refused on its own, so a
# condition of the database (a missing table, 42P01) must never be taken for one.
_ROW_ERROR_CLASSES = ("22", "23", "54")


def refuses_rows(error: BaseException) -> bool:
    """True when `error` says the rows written can never be stored, whatever we retry.

    Covers the server's data and constraint errors and the client-side ones asyncpg
    raises before the rows leave (text that is not valid UTF-8, such as lone
    surrogates, values the codec refuses). Anything else - connections lost, the server
    shutting down, serialization failures, deadlocks, lock timeouts, a missing table -
    is a condition of the database, not of the rows, and is retried.
    """
    if isinstance(error, asyncpg.PostgresError):
        return str(getattr(error, "sqlstate", "") or "")[:2] in _ROW_ERROR_CLASSES
    return isinstance(error, UnicodeError | pydantic_core.PydanticSerializationError)


def describe(error: BaseException) -> str:
    """One line for logs and dead letters: SQLSTATE (when the server sent one) and message."""
    sqlstate = getattr(error, "sqlstate", None)
    message = " ".join(str(error).split()) or type(error).__name__
    kind = f"{type(error).__name__} [{sqlstate}]" if sqlstate else type(error).__name__
    return f"{kind}: {message}"


def location(database_url: str) -> str:
    """Where a database URL points - host, port and database - without its credentials,
    for log lines."""
    try:
        parts = urlsplit(database_url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed URL: asyncpg says what is wrong with it
        return "the database"
    return f"{parts.hostname or 'localhost'}{port}{parts.path}"
