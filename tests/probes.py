"""Looking at what the system stored or published, from the outside, for assertions."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiokafka.structs import ConsumerRecord

from ioc.config import Settings
from ioc.kafka import make_consumer
from tests.roles import Role, async_wait_until


async def event_totals(database_url: str) -> dict[str, int]:
    """Distinct events per source, checked against the raw table they summarise."""
    conn = await asyncpg.connect(database_url)
    try:
        # One snapshot for both reads: a batch may commit between two statements.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch("SELECT source, events FROM event_totals")
            raw = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    totals = {row["source"]: row["events"] for row in rows}
    assert sum(totals.values()) == raw, f"totals {totals} disagree with {raw} raw events"
    return totals


async def read_topic(
    settings: Settings, topic: str, count: int, *roles: Role
) -> list[ConsumerRecord[Any, Any]]:
    """The first `count` records of `topic` (waiting up to 30 s for them)."""
    consumer = make_consumer(settings, topic, group_id=None)
    await consumer.start()
    got: list[ConsumerRecord[Any, Any]] = []
    try:

        async def enough() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(m for msgs in batch.values() for m in msgs)
            return len(got) >= count

        await async_wait_until(enough, 30, f"{count} records on {topic}", *roles)
    finally:
        await consumer.stop()
    return got
