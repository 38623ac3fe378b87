"""With the broker gone, ingest refuses clearly (503, retry) instead of accepting and
losing records, and /readyz says what is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from ioc.config import Settings
from ioc.kafka import ensure_topics
from ioc.runtime import Runtime, write_runtime
from tests.probes import read_topic
from tests.records import filing
from tests.roles import async_wait_until, own_broker, start_api

pytestmark = pytest.mark.integration


async def test_ingest_answers_503_while_the_broker_is_down(
    settings: Settings, tmp_path: Path
) -> None:
    broker, settings = await own_broker(settings, tmp_path)
    api, settings = start_api(settings, tmp_path)
    headers = {"Authorization": f"Bearer {settings.ingest_token}"}
    try:
        async with httpx.AsyncClient(
            base_url=settings.api_url, headers=headers, timeout=60
        ) as http:
            assert (
                await http.post("/ingest/filings", json=[filing("a", "F-1")])
            ).status_code == 200
            broker.stop()
            started = time.monotonic()
            response = await http.post("/ingest/filings", json=[filing("b", "F-2")])
            assert response.status_code == 503, response.text
            assert "retrying the whole request" in response.json()["detail"]
            assert response.json()["type"] == "urn:ioc:problem:broker-unavailable"
            assert response.headers["Retry-After"] == "5"
            assert time.monotonic() - started < 30, "the refusal must not hang"
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["broker"].startswith("unreachable")
            assert ready.json()["checks"]["database"] == "ok"
    finally:
        api.stop()
        broker.stop()


async def test_replay_holds_its_records_while_the_broker_is_down_and_delivers_them_after(
    settings: Settings, tmp_path: Path
) -> None:
    broker, settings = await own_broker(settings, tmp_path)
    api, settings = start_api(settings, tmp_path)
    write_runtime(
        settings.runtime_file,
        Runtime(api_url=settings.api_url, kafka_bootstrap=settings.kafka_bootstrap,
                database_url=settings.database_url, ingest_token=settings.ingest_token,
                pid=api.process.pid),
    )  # fmt: skip
    lines = [json.dumps({**filing(f"e{i}", f"F-{i}"), "source": "filings"}) for i in range(1000)]
    records = tmp_path / "filings.ndjson"
    records.write_text("\n".join(lines) + "\n")
    log = tmp_path / "replay.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    try:
        broker.stop()
        with log.open("w") as out:
            replay = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ioc", "replay", str(records),
                "--data-dir", str(settings.data_dir), env=env, stderr=out,
            )  # fmt: skip
        try:

            async def holding() -> bool:
                return "ingest cannot take records now" in log.read_text()

            await async_wait_until(holding, 60, "replay to hold its records", api)
            broker.start()  # the same port; an embedded broker starts empty
            await ensure_topics(settings)
            assert await asyncio.wait_for(replay.wait(), 180) == 0, log.read_text()
        finally:
            if replay.returncode is None:
                replay.kill()
        said = log.read_text()
        assert "1,000 accepted, 0 rejected" in said and "ingest takes records again" in said
        stored = await read_topic(settings, settings.source_topics["filings"], 1000)
        assert len({json.loads(r.value)["event_id"] for r in stored}) == 1000
    finally:
        api.stop()
        broker.stop()
