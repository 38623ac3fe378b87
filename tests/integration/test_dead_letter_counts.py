"""Dead letters counted by source and reason, each record of the dead-letter topic once,
and shown by /api/sources."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.db import dead_letters
from ioc.db.dead_letters import SeenLetter, read_letter
from ioc.kafka import dead_letter_value, make_producer
from streams.processor import Processor
from tests.records import filing
from tests.roles import async_wait_until

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC)


def _letters(first: int, last: int, partition: int = 0) -> list[SeenLetter]:
    value = dead_letter_value(
        stage="ingest", source="filings", reason="invalid_record", errors=["x"], raw=b"{}"
    )
    return [read_letter("t.deadletter", partition, o, AT, value) for o in range(first, last)]


async def _total(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT coalesce(sum(letters), 0) FROM dead_letter_counts")


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    yield connection
    await connection.close()


async def test_each_dead_letter_is_counted_once_however_often_it_is_read(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    async with conn.transaction():
        assert await dead_letters.count(conn, _letters(0, 10)) == 10
    async with conn.transaction():  # read again after a crash: nothing new
        assert await dead_letters.count(conn, _letters(0, 10)) == 0
    async with conn.transaction():  # a batch that overlaps what was counted
        assert await dead_letters.count(conn, _letters(5, 15)) == 5
    async with conn.transaction():  # another partition keeps its own mark
        assert await dead_letters.count(conn, _letters(0, 3, partition=1)) == 3
    assert await _total(conn) == 18
    # Two processors reading the same records at once (a rebalance): counted once.
    other = await asyncpg.connect(settings.database_url)
    try:

        async def count_on(c: asyncpg.Connection) -> int:
            async with c.transaction():
                return await dead_letters.count(c, _letters(10, 30))

        counted = await asyncio.gather(count_on(conn), count_on(other))
    finally:
        await other.close()
    assert sorted(counted) == [0, 15] and await _total(conn) == 33
    by_source = await dead_letters.recent_by_source(conn, AT)
    assert by_source == {"filings": {"ingest": {"invalid_record": 33}}}


def test_a_record_that_is_not_a_dead_letter_still_counts_as_unreadable() -> None:
    for value in (b"\xff\xfe", b"[1, 2]", b"[" * 5000, None, b'{"source": "\\u0000bad"}'):
        letter = read_letter("t", 0, 1, AT, value)
        assert letter.reason in ("unreadable", "unknown"), value
    odd = read_letter("t", 0, 1, AT, json.dumps({"stage": "ingest", "source": "x\u0000" * 99,
                                                  "reason": 5}).encode())  # fmt: skip
    assert odd.source == "x" * 99 and odd.reason == "unknown"


async def test_the_processor_counts_what_ingest_and_it_dead_lettered(settings: Settings) -> None:
    producer = make_producer(settings)
    await producer.start()
    processor = Processor(settings)
    running = asyncio.create_task(processor.run())
    try:
        # Two records the processor cannot decode (it dead-letters them itself), one good.
        bad = {**filing("b1", "F-1"), "occurred_at": "yesterday"}
        for value in (
            json.dumps(bad).encode(),
            b"not json",
            json.dumps(filing("g1", "F-2")).encode(),
        ):
            await producer.send(settings.source_topics["filings"], value, key=b"F")
        # And one that ingest refused, as it writes them.
        letter = dead_letter_value(
            stage="ingest", source="security", reason="invalid_record", errors=["x"], raw=b"{"
        )
        await producer.send(settings.deadletter_topic, letter)
        await producer.flush()
        app = create_app(settings, with_ingest=False)
        async with (
            LifespanManager(app, startup_timeout=60) as manager,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://ioc"
            ) as api,
        ):

            async def counted() -> dict | None:
                body = (await api.get("/api/sources")).json()
                sources = body["sources"]
                seen = (sources["filings"]["dead_lettered"], sources["security"]["dead_lettered"])
                return body if seen[0] and seen[1] else None

            body = await async_wait_until(counted, 60, "the dead letters counted")
        assert body["sources"]["filings"]["dead_lettered"] == {"processor": {"invalid_event": 2}}
        assert body["sources"]["security"]["dead_lettered"] == {"ingest": {"invalid_record": 1}}
        assert body["dead_letter_window_hours"] == 24
    finally:
        await producer.stop()
        processor.stop()
        await asyncio.wait_for(running, 60)
