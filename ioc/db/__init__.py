"""Database access: migrations and the queries shared by the API and the processor."""

import asyncpg

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
