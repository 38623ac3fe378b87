"""With the broker gone, ingest refuses clearly (503, retry) instead of accepting and
losing records, and /readyz says what is wrong."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ioc.config import Settings
from ioc.embedded.broker import EmbeddedBroker
from ioc.kafka import ensure_topics
from tests.records import filing
from tests.roles import start_api

pytestmark = pytest.mark.integration


async def test_ingest_answers_503_while_the_broker_is_down(
    settings: Settings, tmp_path: Path
) -> None:
    broker = EmbeddedBroker(tmp_path / "broker.log")
    settings = settings.model_copy(update={"kafka_bootstrap": broker.start()})
    await ensure_topics(settings)
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
