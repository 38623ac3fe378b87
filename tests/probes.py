"""Looking at what the system stored or published, from the outside, for assertions; and a
fake broker that keeps what it is given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord, TopicPartition

from ingestors.publisher import Rejected
from ioc.config import Settings
from ioc.domains import DOMAINS
from ioc.events import Event
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


# Every state, count and rollup table, keyed for a stable order. Rollup rows (and
# current totals) that every contribution has left again read all zeros; which such
# rows exist depends on the path taken, so `state_tables` leaves them out.
_KEYED_TABLES = {
    "filing_state": "filing_id",
    "document_state": "document_id",
    "alert_state": "alert_id",
    "event_counts_minute": "bucket, source, event_type, agency",
}


async def state_tables(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The state, rollup, current-total and count tables as comparable rows, read in one
    snapshot (`event_totals` without its `last_stored_at`, a wall-clock stamp)."""
    queries = {
        table: f"SELECT * FROM {table} ORDER BY {order}" for table, order in _KEYED_TABLES.items()
    }
    queries["event_totals"] = "SELECT source, events FROM event_totals ORDER BY source"
    queries["current_totals"] = "SELECT * FROM current_totals WHERE value <> 0 ORDER BY 1, 2, 3, 4"
    for domain in DOMAINS.values():
        rollup = domain.rollup
        nonzero = " OR ".join(f"{m} <> 0" for m in rollup.measures)
        order = ", ".join(("day", *rollup.dims))
        queries[rollup.table] = f"SELECT * FROM {rollup.table} WHERE {nonzero} ORDER BY {order}"
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return {
                table: [_comparable(row) for row in await conn.fetch(sql)]
                for table, sql in queries.items()
            }
    finally:
        await conn.close()


def _comparable(row: asyncpg.Record) -> tuple[Any, ...]:
    """A row as a hashable tuple (array columns come back as lists)."""
    return tuple(tuple(v) if isinstance(v, list) else v for v in row.values())


def table_differences(
    got: dict[str, list[tuple[Any, ...]]], want: dict[str, list[tuple[Any, ...]]], shown: int = 3
) -> list[str]:
    """What differs between two `state_tables` readings, table by table (empty: equal)."""
    out = []
    for table in sorted(set(got) | set(want)):
        rows, expected = set(got.get(table, [])), set(want.get(table, []))
        if rows != expected:
            out.append(
                f"{table}: {len(got.get(table, []))} rows, expected {len(want.get(table, []))};"
                f" unexpected {sorted(rows - expected, key=str)[:shown]},"
                f" missing {sorted(expected - rows, key=str)[:shown]}"
            )
    return out


async def committed_total(settings: Settings, group: str) -> int:
    """Sum of the offsets `group` committed on the source topics (0 where none): on
    topics that only this test wrote to, the records the group has processed."""
    consumer = make_consumer(settings, group_id=group)
    await consumer.start()
    try:
        total = 0
        for topic in settings.source_topics.values():
            for partition in range(settings.topic_partitions):
                total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()


class FlakyBroker:
    """Refuses the first `failures` publishes, then keeps everything it is given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.events: list[Event] = []
        self.rejected: list[Rejected] = []

    async def publish(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("no broker")
        self.events += events
        self.rejected += rejected
