"""Two processors in one consumer group share the work; when one is killed mid-stream the
other takes over its partitions. Counts end exact either way. Records that do not decode
go to the dead-letter topic without stopping the stream."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from ioc.config import Settings
from ioc.kafka import make_producer
from tests.probes import event_totals, read_topic
from tests.records import filing
from tests.roles import async_wait_until, start_api, start_role

pytestmark = pytest.mark.integration


async def _totals(settings: Settings) -> dict[str, int]:
    return await event_totals(settings.database_url)


async def test_two_processors_share_a_group_and_survive_losing_one(
    settings: Settings, tmp_path: Path
) -> None:
    api, settings = start_api(settings, tmp_path)
    first = start_role(settings, "process", tmp_path)
    second = start_role(settings, "process", tmp_path)
    headers = {"Authorization": f"Bearer {settings.ingest_token}"}
    try:
        async with httpx.AsyncClient(base_url=settings.api_url, headers=headers) as http:
            sent = 0
            for round_ in range(20):
                batch = [filing(f"f{round_}-{i}", f"F-{round_}-{i}") for i in range(250)]
                response = await http.post("/ingest/filings", json=batch)
                assert response.status_code == 200
                sent += len(batch)
                if round_ == 10:
                    # Both members have work by now; one dies without a goodbye.
                    async def some_stored() -> bool:
                        return (await _totals(settings))["filings"] > 0

                    await async_wait_until(some_stored, 60, "processing started", first, second)
                    first.process.send_signal(signal.SIGKILL)

        async def exact() -> bool:
            stored = (await _totals(settings))["filings"]
            assert stored <= sent, f"double count: {stored} > {sent}"
            return stored == sent

        await async_wait_until(exact, 90, f"{sent} filings stored", second)
        assert "partitions assigned" in second.log()
    finally:
        if first.process.poll() is None:
            first.process.kill()
        second.stop()
        api.stop()


async def test_undecodable_records_are_dead_lettered_and_the_stream_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    processor = start_role(settings, "process", tmp_path)
    producer = make_producer(settings)
    await producer.start()
    try:
        topic = settings.source_topics["filings"]
        good = json.dumps({**filing("ok-1", "F-1"), "source": "filings"}).encode()
        await producer.send_and_wait(topic, b"\x00not json", key=b"F-0")
        await producer.send_and_wait(topic, b'{"event_id": "x"}', key=b"F-0")
        await producer.send_and_wait(topic, good, key=b"F-1")
    finally:
        await producer.stop()
    try:

        async def stored() -> bool:
            return (await _totals(settings))["filings"] == 1

        await async_wait_until(stored, 60, "the good record stored", processor)

        records = await read_topic(settings, settings.deadletter_topic, 2, processor)
        letters = [json.loads(m.value) for m in records]
        assert {letter["stage"] for letter in letters} == {"processor"}
        assert {letter["reason"] for letter in letters} == {"invalid_event"}
        assert any("not json" in letter["raw"] for letter in letters)
        assert all(letter["errors"] for letter in letters)
    finally:
        processor.stop()
