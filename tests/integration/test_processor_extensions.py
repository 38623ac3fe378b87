"""The processor's extension points: writers inside the batch's transaction, consumers
after its commit - what a later stage (the alert rules) plugs into."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from ioc.config import Settings
from ioc.kafka import make_producer
from streams.processor import Processor
from streams.sink import WRITERS, DatabaseSink, StoredBatch, Writer, WriteResult
from tests.integration.test_sink import _batch
from tests.probes import event_totals
from tests.records import filing
from tests.roles import async_wait_until

pytestmark = pytest.mark.integration


async def test_a_writer_sees_only_new_events_inside_the_batch_transaction(
    settings: Settings,
) -> None:
    seen: list[tuple[int, int]] = []

    async def audit(batch: StoredBatch) -> None:
        stored = await batch.conn.fetchval("SELECT count(*) FROM events")
        seen.append((batch.delta.new_events, stored))

    conn = await asyncpg.connect(settings.database_url)
    try:
        sink = DatabaseSink(conn, writers=[*WRITERS, Writer("audit", audit)])
        batch = _batch(*(("filings", filing(f"f{i}", f"F-{i}")) for i in range(3)))
        await sink.write(batch)
        await sink.write(batch)  # a redelivery: nothing new for the writer
        assert seen == [(3, 3), (0, 3)]

        async def refuse(batch: StoredBatch) -> None:
            raise ConnectionError("the writer's service is away")

        failing = DatabaseSink(conn, writers=[*WRITERS, Writer("refuse", refuse)])
        with pytest.raises(ConnectionError):
            await failing.write(_batch(("filings", filing("f9", "F-9"))))
        # the writer failed, so the whole batch was rolled back, its events included
        assert await conn.fetchval("SELECT count(*) FROM events") == 3
    finally:
        await conn.close()


async def test_consumers_hear_of_each_committed_batch_and_a_failing_one_stalls_nothing(
    settings: Settings,
) -> None:
    heard: list[WriteResult] = []

    async def listen(result: WriteResult) -> None:
        heard.append(result)

    async def broken(result: WriteResult) -> None:
        raise RuntimeError("a consumer with a bug")

    processor = Processor(settings, after_commit=[broken, listen])
    running = asyncio.create_task(processor.run())
    producer = make_producer(settings)
    await producer.start()
    try:
        for i in range(50):
            record = filing(f"f{i}", f"F-{i}")
            await producer.send(
                settings.source_topics["filings"], json.dumps(record).encode(), key=b"F"
            )
        await producer.flush()

        async def all_stored() -> bool:
            return (await event_totals(settings.database_url)).get("filings") == 50

        await async_wait_until(all_stored, 60, "50 filings stored")
        await async_wait_until(
            lambda: asyncio.sleep(0, sum(r.delta.new_events for r in heard) == 50),
            10, "the consumer to hear of all 50",
        )  # fmt: skip
    finally:
        await producer.stop()
        processor.stop()
        await asyncio.wait_for(running, 60)
