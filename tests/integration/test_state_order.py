"""State is a fold of each entity's whole history: one set of events fed in order, in
reverse and shuffled, in batches of different sizes and with redeliveries, into three
fresh databases gives the same rows in every state, count and rollup table - and the
rollups kept batch by batch equal a recount from the raw events. Everything is counted
in the shipped working calendar, as `ioc process` does (filings' working-time
resolution included)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from ingestors.simulator import generate
from ioc.clock import Clock
from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.db.state import refold_all
from ioc.domains import DOMAINS
from ioc.events import Event, validate_event
from ioc.working_time import WorkingCalendar
from streams.batch import Incoming
from streams.sink import DatabaseSink

pytestmark = pytest.mark.integration

TABLES = {
    "filing_state": "filing_id",
    "document_state": "document_id",
    "alert_state": "alert_id",
    "event_counts_minute": "bucket, source, event_type, agency",
    "event_totals": "source",
}
# Rollup rows that every contribution has left again read all zeros; which such rows
# exist depends on the path taken, so they are left out of every comparison.
ROLLUPS = {d.rollup.table: d.rollup for d in DOMAINS.values()}
STAMP = datetime(2026, 11, 24, tzinfo=UTC)
CALENDAR = WorkingCalendar.load()


def _clock() -> Clock:
    return Clock(datetime.now(UTC), CALENDAR)


def _events() -> list[Incoming]:
    start = datetime.fromisoformat("2026-01-05T08:00:00+07:00")
    out = []
    for offset, record in enumerate(generate(11, 4000, start)):
        event = validate_event(record["source"], record)
        assert isinstance(event, Event), event
        out.append(Incoming(event, STAMP, f"t.{event.source}", 0, offset))
    return out


async def _feed(url: str, events: list[Incoming], rng: random.Random) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        sink = DatabaseSink(conn, clock=_clock)
        i = 0
        while i < len(events):
            size = rng.randint(1, 700)
            batch = events[i : i + size]
            if rng.random() < 0.3 and i:  # a redelivery of some earlier records
                batch = events[max(0, i - rng.randint(1, 200)) : i] + batch
            await sink.write(batch)
            i += size
        return await _tables(conn)
    finally:
        await conn.close()


async def _tables(conn: asyncpg.Connection) -> dict[str, Any]:
    """Every state, count and rollup table, as comparable rows."""
    out = {
        table: [
            tuple(row.values())
            for row in await conn.fetch(
                f"SELECT * FROM {table} ORDER BY {order}"
                if table != "event_totals"
                else f"SELECT source, events FROM {table} ORDER BY {order}"
            )
        ]
        for table, order in TABLES.items()
    }
    for table, rollup in ROLLUPS.items():
        nonzero = " OR ".join(f"{m} <> 0" for m in rollup.measures)
        order = ", ".join(("day", *rollup.dims))
        out[table] = [
            tuple(row.values())
            for row in await conn.fetch(f"SELECT * FROM {table} WHERE {nonzero} ORDER BY {order}")
        ]
    return out


async def test_any_arrival_order_and_batching_gives_the_same_state(settings: Settings) -> None:
    events = _events()
    orders = {
        "in order": list(events),
        "reversed": list(reversed(events)),
        "shuffled": random.Random(5).sample(events, len(events)),
    }
    results = {}
    for n, (name, ordered) in enumerate(orders.items()):
        url = with_database(settings.database_url, f"{settings.topic_prefix}_order{n}")
        await ensure_database(url)
        await migrate(url)
        results[name] = await _feed(url, ordered, random.Random(n))
    reference = results["in order"]
    assert all(reference.values()), "every table has rows to compare"
    assert sum(r[1] for r in reference["event_totals"]) == len(events)
    for name, result in results.items():
        for table in reference:
            assert result[table] == reference[table], f"{table} differs when fed {name}"


async def test_rollups_kept_batch_by_batch_equal_a_full_recount(settings: Settings) -> None:
    events = _events()
    rng = random.Random(3)
    kept = await _feed(settings.database_url, rng.sample(events, len(events)), rng)
    conn = await asyncpg.connect(settings.database_url)
    try:
        # A recount from the raw events, from scratch, in one pass.
        async with conn.transaction():
            for domain in DOMAINS.values():
                await conn.execute(f"TRUNCATE {domain.state_table}, {domain.rollup.table}")
                await refold_all(conn, domain.source, _clock())
        recounted = await _tables(conn)
        # And one measure straight from the state, by SQL alone.
        open_filings = await conn.fetchval("SELECT count(*) FROM filing_state WHERE is_open")
        rolled_open = await conn.fetchval("SELECT sum(open) FROM filing_day")
        late = await conn.fetchval("SELECT count(*) FROM filing_state WHERE verdict = 'late'")
        rolled_late = await conn.fetchval("SELECT sum(late) FROM filing_day")
        worked, wall = await conn.fetchrow(
            "SELECT sum(resolution_working_ms_sum), sum(resolution_ms_sum) FROM filing_day"
        )
    finally:
        await conn.close()
    # The sink folds from its history cache where it can; the recount reads every
    # history back: state and rollups must not tell the two apart.
    for table in [*ROLLUPS, *(d.state_table for d in DOMAINS.values())]:
        assert kept[table] == recounted[table], f"{table} drifted from a recount"
    assert open_filings == rolled_open and late == rolled_late and open_filings > 0
    assert 0 < worked <= wall, "working time is counted, and never more than wall time"
