"""State is a fold of each entity's whole history: one set of events fed in order, in
reverse and shuffled, in batches of different sizes and with redeliveries, into three
fresh databases gives the same rows in every state and count table."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from ingestors.simulator import generate
from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.events import Event, validate_event
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
STAMP = datetime(2026, 11, 24, tzinfo=UTC)


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
        sink = DatabaseSink(conn)
        i = 0
        while i < len(events):
            size = rng.randint(1, 700)
            batch = events[i : i + size]
            if rng.random() < 0.3 and i:  # a redelivery of some earlier records
                batch = events[max(0, i - rng.randint(1, 200)) : i] + batch
            await sink.write(batch)
            i += size
        return {
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
    finally:
        await conn.close()


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
    assert all(reference[table] for table in TABLES), "every table has rows to compare"
    assert sum(r[1] for r in reference["event_totals"]) == len(events)
    for name, result in results.items():
        for table in TABLES:
            assert result[table] == reference[table], f"{table} differs when fed {name}"
