"""`ioc migrate` applies each migration once; `ioc process` and /readyz refuse a stale schema."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from ioc.config import Settings
from ioc.db.migrate import available_migrations, with_database
from tests.conftest import role_env

pytestmark = pytest.mark.integration

DROP_SCHEMA = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    await conn.close()
asyncio.run(main())
"""


def _ioc(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioc", *args], env=role_env(settings),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_migrate_applies_once_and_the_processor_refuses_an_unmigrated_database(
    settings: Settings,
) -> None:
    fresh = with_database(settings.database_url, f"fresh_{uuid.uuid4().hex[:8]}")
    settings = settings.model_copy(update={"database_url": fresh})

    missing = _ioc(settings, "process")
    assert missing.returncode == 2
    assert "`ioc migrate` creates it" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr

    created = _ioc(settings, "migrate")  # creates the database and the schema...
    assert created.returncode == 0
    dropped = subprocess.run(  # ...then empty it again, standing for a stale schema
        [sys.executable, "-c", DROP_SCHEMA, fresh], capture_output=True, text=True, timeout=60
    )
    assert dropped.returncode == 0, dropped.stderr
    stale = _ioc(settings, "process")
    assert stale.returncode == 2
    versions = [version for version, _ in available_migrations()]
    pending = f"migrations pending ({', '.join(versions)}); run `ioc migrate`"
    assert pending in stale.stderr, stale.stderr

    first = _ioc(settings, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"applied: {', '.join(versions)}"
    again = _ioc(settings, "migrate")
    assert again.stdout.strip() == "schema is up to date"


async def test_the_working_time_migration_rebuilds_filings_in_the_calendar_it_is_given(
    settings: Settings,
) -> None:
    """A database from before 0009 (its filings stored without working time) gets the new
    columns filled by `migrate`, which refolds the filings with the clock it is given."""
    import asyncpg

    from ioc.clock import clock_for, working_calendar
    from ioc.db.migrate import migrate
    from streams.sink import DatabaseSink
    from tests.integration.test_sink import _batch
    from tests.records import filing

    conn = await asyncpg.connect(settings.database_url)
    try:
        # Received Sunday 22/11/2026 09:00, resolved at 09:40: no working time at all.
        await DatabaseSink(conn).write(
            _batch(
                ("filings", filing("f1", "F-1")), ("filings", filing("f2", "F-1", "resolved", 40))
            )
        )
        await conn.execute(
            "ALTER TABLE filing_state DROP COLUMN resolution_working_s;"
            "ALTER TABLE filing_day DROP COLUMN resolution_working_ms_sum;"
            "DELETE FROM schema_migrations WHERE version = '0009_working_time_resolution'"
        )
        clock = clock_for(settings, working_calendar(settings))
        assert await migrate(settings.database_url, clock) == ["0009_working_time_resolution"]
        row = await conn.fetchrow("SELECT resolution_s, resolution_working_s FROM filing_state")
        assert (row["resolution_s"], row["resolution_working_s"]) == (40 * 60, 0)
        sums = await conn.fetchrow(
            "SELECT sum(resolution_ms_sum) AS wall, sum(resolution_working_ms_sum) AS worked,"
            " sum(resolved_count) AS n FROM filing_day"
        )
        assert (sums["wall"], sums["worked"], sums["n"]) == (40 * 60_000, 0, 1)
    finally:
        await conn.close()
