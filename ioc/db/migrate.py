"""Schema migrations: numbered SQL files applied in order, each in its own transaction.

Every process may call `migrate()` at start-up; an advisory lock serialises them, so
two processes starting together apply each file once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ioc.clock import Clock, wall_clock
from ioc.db import Conn

log = logging.getLogger(__name__)

_LOCK_KEY = 0x10C_5C4E  # arbitrary, fixed: "IOC schema"

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text        PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def available_migrations() -> list[tuple[str, str]]:
    """(version, sql) for every migration shipped with IOC, in order."""
    folder = resources.files("ioc.db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def applied_versions(conn: Conn) -> set[str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending_migrations(conn: Conn) -> list[str]:
    done = await applied_versions(conn)
    return [version for version, _ in available_migrations() if version not in done]


async def migrate(database_url: str, clock: Callable[[], Clock] | None = None) -> list[str]:
    """Apply what is pending; returns the versions applied now.

    A state or rollup table a migration left empty is rebuilt from the raw events,
    folded and judged with `clock` - the roles pass `clock_for(settings,
    working_calendar(settings))`, so working time is counted in the configured
    calendar; None is the wall clock, for tests that do not care."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_CREATE_LEDGER)
            done = await applied_versions(conn)
            applied = []
            for version, sql in available_migrations():
                if version in done:
                    continue
                log.info("applying migration %s", version)
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", version
                    )
                applied.append(version)
            if applied:
                await _rebuild_empty_states(conn, clock or wall_clock)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def _rebuild_empty_states(conn: asyncpg.Connection, clock: Callable[[], Clock]) -> None:
    """Refold every entity when a migration left its state or rollup table empty."""
    from ioc.db.state import refold_all
    from ioc.domains import DOMAINS

    for source, domain in DOMAINS.items():
        for table in (domain.state_table, domain.rollup.table):
            if not await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                async with conn.transaction():
                    # From scratch: the rollup must not keep what the old states gave it.
                    await conn.execute(f"TRUNCATE {domain.state_table}, {domain.rollup.table}")
                    await conn.execute("DELETE FROM current_totals WHERE source = $1", source)
                    await refold_all(conn, source, clock())
                break


def with_database(url: str, name: str) -> str:
    """The same server's URL, naming database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def ensure_database(database_url: str) -> None:
    """Create the database the URL names if it does not exist (the embedded case)."""
    name = urlsplit(database_url).path.lstrip("/")
    if not name or name == "postgres":
        return
    conn = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            log.info("creating database %s", name)
            quoted = '"' + name.replace('"', '""') + '"'
            await conn.execute(f"CREATE DATABASE {quoted}")
    except asyncpg.DuplicateDatabaseError:
        pass
    finally:
        await conn.close()
