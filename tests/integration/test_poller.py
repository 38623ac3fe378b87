"""The poller against a real HTTP source (a Starlette app served by uvicorn in this test),
the real embedded broker and the real database: every record arrives once, a restart
resumes from the stored cursor, failures back off and recover, and a broker outage
loses nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingestors.poller import DatabaseCursors, Poller, PollSpec
from ingestors.publisher import Publisher
from ioc.config import Settings
from ioc.embedded.process import free_port
from ioc.kafka import make_consumer, make_producer
from tests.records import filing
from tests.roles import async_wait_until, own_broker, restart_between_attempts

pytestmark = pytest.mark.integration


def record(i: int) -> dict[str, Any]:
    """A canonical filing record; `occurred_at` grows with `i` (minute i after 09:00)."""
    rec = filing(f"poll-{i}", f"F-{i}")
    rec["occurred_at"] = f"2026-11-22T{9 + i // 60:02d}:{i % 60:02d}:00+07:00"
    return rec


@dataclass
class FakeSource:
    """A source system's sync API: `GET /sync?after=N` (a page token: records read so far)
    or `GET /sync?since=T` (records with `occurred_at` after T), `page` records at a time.
    `failures` are the next answers: a status code, or "timeout" (no answer in time)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    page: int = 3
    failures: list[int | str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)

    async def sync(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.requests.append(params)
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "timeout":
                await asyncio.sleep(3)
            elif failure == 429:
                return Response(status_code=429, headers={"Retry-After": "1"})
            else:
                return Response(status_code=int(failure), content=b"try later")
        if "since" in params:
            since = datetime.fromisoformat(params["since"])
            newer = [r for r in self.records if datetime.fromisoformat(r["occurred_at"]) > since]
            return JSONResponse({"items": newer[: self.page]})
        after = int(params.get("after", "0"))
        items = self.records[after : after + self.page]
        return JSONResponse({"items": items, "next": str(after + len(items)) if items else None})


@asynccontextmanager
async def serving(source: FakeSource) -> AsyncIterator[str]:
    """The source's URL while a real uvicorn server serves it on 127.0.0.1."""
    port = free_port()
    app = Starlette(routes=[Route("/sync", source.sync)])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # 10 s
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "the fake source did not start"
    try:
        yield f"http://127.0.0.1:{port}/sync"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def polling(settings: Settings, url: str, **poll: Any) -> AsyncIterator[Poller]:
    """A poller running in this process, as `ioc poll` runs one, until the block ends."""
    options = {"poll_name": f"{settings.topic_prefix}-motcua", "poll_url": url,
               "poll_source": "filings", "poll_records_field": "items",
               "poll_next_cursor": "body:next", "poll_cursor_param": "after",
               "poll_interval_s": 0.3, **poll}  # fmt: skip
    settings = settings.model_copy(update=options)
    producer = make_producer(settings)
    await producer.start()
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=1)
    http = httpx.AsyncClient()
    poller = Poller(
        PollSpec.from_settings(settings), Publisher(producer, settings), DatabaseCursors(pool), http
    )
    task = asyncio.create_task(poller.run())
    try:
        yield poller
    finally:
        poller.stop()
        await asyncio.wait_for(task, 30)
        await http.aclose()
        await pool.close()
        await asyncio.wait_for(producer.stop(), 30)


async def stored_cursor(settings: Settings, poller: Poller) -> str | None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        value = await conn.fetchval(
            "SELECT cursor FROM poll_cursors WHERE poller = $1", poller.spec.name
        )
        return None if value is None else str(value)
    finally:
        await conn.close()


async def until_cursor(
    settings: Settings, poller: Poller, cursor: str, seconds: float = 60
) -> None:
    async def there() -> bool:
        return await stored_cursor(settings, poller) == cursor

    await async_wait_until(there, seconds, f"cursor {cursor!r} stored")


async def event_ids(settings: Settings, topic: str, expected: int) -> list[str]:
    """The event ids on `topic` from its beginning: read until `expected` came (at most
    60 s), then until a fetch brings nothing more, so that extra copies would show."""
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ids: list[str] = []
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            ids += [orjson.loads(m.value)["event_id"] for ms in batch.values() for m in ms]
            if not batch and len(ids) >= expected:
                break
        return ids
    finally:
        await consumer.stop()


async def _partitions(consumer: Any, topic: str) -> list[Any]:
    from aiokafka.structs import TopicPartition

    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise AssertionError(f"no partitions for {topic}")


def polls(poller: Poller, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "ioc_poll_requests_total", {"poller": poller.spec.name, "outcome": outcome}
    )
    return value or 0.0


@pytest.mark.parametrize("cursor", ["page token", "time field"])
async def test_every_record_arrives_once_and_a_restart_resumes_from_the_stored_cursor(
    settings: Settings, cursor: str
) -> None:
    source = FakeSource(records=[record(i) for i in range(7)], page=3)
    mode = (
        {} if cursor == "page token"
        else {"poll_next_cursor": "", "poll_cursor_field": "occurred_at",
              "poll_cursor_param": "since", "poll_initial_cursor": "2026-11-22T08:00:00+07:00"}
    )  # fmt: skip
    last = {"page token": lambda n: str(n), "time field": lambda n: record(n - 1)["occurred_at"]}
    topic = settings.source_topics["filings"]
    async with serving(source) as url:
        async with polling(settings, url, **mode) as first:
            await until_cursor(settings, first, last[cursor](7))
        assert sorted(await event_ids(settings, topic, 7)) == sorted(f"poll-{i}" for i in range(7))

        source.records += [record(i) for i in range(7, 10)]
        before = len(source.requests)
        async with polling(settings, url, **mode) as second:  # a restart: a new poller
            await until_cursor(settings, second, last[cursor](10))
        resumed = source.requests[before]
        assert resumed == (
            {"after": "7"} if cursor == "page token" else {"since": record(6)["occurred_at"]}
        ), "the restart resumes from the stored cursor, not from the start"
    ids = await event_ids(settings, topic, 10)
    assert sorted(ids) == sorted(f"poll-{i}" for i in range(10)), "each record exactly once"


async def test_5xx_timeouts_and_429_back_off_and_recover(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeSource(records=[record(i) for i in range(5)], page=2,
                        failures=[503, 503, 503, "timeout", 429, 500])  # fmt: skip
    with caplog.at_level(logging.INFO, logger="ingestors.poller"):
        async with serving(source) as url:
            async with polling(settings, url, poll_timeout_s=1, poll_backoff_max_s=2) as poller:
                await until_cursor(settings, poller, "5")
    assert sorted(await event_ids(settings, settings.source_topics["filings"], 5)) == sorted(
        f"poll-{i}" for i in range(5)
    )
    assert polls(poller, "server_error") == 4
    assert polls(poller, "timeout") == 1
    assert polls(poller, "throttled") == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # One line per episode or change of kind (503, timeout, 429, 500), not per attempt.
    assert len(warnings) == 4, warnings
    assert "answered 503" in warnings[0] and "backoff" in warnings[0]
    assert "Retry-After" in warnings[2]
    assert any("answers again, after 6 failed polls" in r.getMessage() for r in caplog.records)


async def test_a_4xx_is_logged_with_what_to_fix_and_asked_again_slowly(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeSource(records=[record(0)], failures=[401, 401])
    with caplog.at_level(logging.INFO, logger="ingestors.poller"):
        async with serving(source) as url:
            async with polling(settings, url, poll_slow_interval_s=1) as poller:
                await until_cursor(settings, poller, "1")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "IOC_POLL_TOKEN" in warnings[0], warnings
    assert "asking again every 1 s" in warnings[0]
    assert polls(poller, "client_error") == 2


async def test_a_broker_outage_holds_one_answer_and_loses_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    broker, settings = await own_broker(settings, tmp_path)
    topic = settings.source_topics["filings"]
    source = FakeSource(records=[record(i) for i in range(4)], page=2)
    try:
        async with serving(source) as url:
            async with polling(settings, url, poll_backoff_max_s=8) as poller:
                await until_cursor(settings, poller, "4")
                before = await event_ids(settings, topic, 4)
                assert sorted(before) == [f"poll-{i}" for i in range(4)]

                broker.stop()
                source.records += [record(i) for i in range(4, 8)]

                def held() -> float:
                    return (
                        REGISTRY.get_sample_value(
                            "ioc_poll_held_records", {"poller": poller.spec.name}
                        )
                        or 0.0
                    )

                async def holding() -> bool:
                    return held() > 0

                await async_wait_until(holding, 90, "the poller holding an answer")
                assert held() == 2
                asked = len(source.requests)
                await asyncio.sleep(3)
                assert len(source.requests) == asked, "nothing more is pulled while held"
                assert await stored_cursor(settings, poller) == "4"

                await restart_between_attempts(broker, poller._broker, settings)
                await until_cursor(settings, poller, "8", seconds=120)
                assert held() == 0, "nothing held once the broker acknowledged"
        after = await event_ids(settings, topic, 4)
        assert sorted(set(after)) == [f"poll-{i}" for i in range(4, 8)], after
        assert set(before) | set(after) == {f"poll-{i}" for i in range(8)}
    finally:
        broker.stop()
