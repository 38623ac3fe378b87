"""Honest liveness against the real broker and database: a processor that retries or stalls
makes /api/health and /readyz say `degraded` and why, the live feed announces it, the
KPIs' `as_of` stops moving while nothing is stored, and all of it clears on recovery."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import httpx
import pytest
import websockets

from ioc.config import Settings
from tests.probes import event_totals
from tests.records import filing
from tests.roles import async_wait_until, start_api, start_role, wait_until

pytestmark = pytest.mark.integration

FAST = {"IOC_PROCESSOR_STATUS_S": "0.5", "IOC_HEALTH_STALL_S": "2"}


async def _post(settings: Settings, records: list[dict]) -> None:
    headers = {"Authorization": f"Bearer {settings.ingest_token}"}
    async with httpx.AsyncClient(base_url=settings.api_url, headers=headers) as http:
        response = await http.post("/ingest/filings", json=records)
        assert response.status_code == 200, response.text


def _get(settings: Settings, path: str) -> httpx.Response:
    return httpx.get(f"{settings.api_url}{path}", timeout=10)


def _health(settings: Settings) -> dict:
    response = _get(settings, "/api/health")
    body = response.json()
    assert response.status_code == (200 if body["status"] == "ok" else 503), body
    return body


def _health_with(settings: Settings, code: str) -> dict | None:
    body = _health(settings)
    return body if code in _codes(body) else None


def _codes(body: dict) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


async def test_a_processor_retrying_a_batch_is_degraded_until_it_recovers(
    settings: Settings, tmp_path: Path
) -> None:
    api, settings = start_api(settings, tmp_path, **FAST)
    processor = start_role(settings, "process", tmp_path, **FAST)
    try:
        wait_until(lambda: _health(settings)["status"] == "ok", 30, "health ok", processor)
        await _post(settings, [filing("f0", "F-0")])
        await async_wait_until(lambda: _count(settings, 1), 30, "the first event stored", processor)
        as_of = _get(settings, "/api/kpis").json()["as_of"]
        assert as_of is not None

        async with websockets.connect(settings.api_url.replace("http", "ws") + "/ws/live") as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot" and snapshot["health"]["status"] == "ok"

            # The database loses a table the processor writes to: not the rows' fault,
            # so the processor keeps retrying the same batch - and says so.
            await _execute(settings, "ALTER TABLE events RENAME TO away")
            await _post(settings, [filing(f"f{i}", f"F-{i}") for i in range(1, 51)])
            body = wait_until(
                lambda: _health_with(settings, "retrying"),
                30, "health to report the retrying processor", processor,
            )  # fmt: skip
            assert body["status"] == "degraded" and body["stale"] is True
            reason = next(r for r in body["reasons"] if r["code"] == "retrying")
            assert 'relation "events" does not exist' in reason["en"]
            assert reason["vi"].startswith("Bộ xử lý đang thử ghi lại")
            ready = _get(settings, "/readyz")
            assert ready.status_code == 200, "a stalled processor does not make ingest unready"
            assert ready.json()["status"] == "degraded" and ready.json()["reasons"]
            kpis = _get(settings, "/api/kpis").json()
            assert kpis["as_of"] == as_of, "nothing new is stored, so the data's time stands"

            message = await _next_health(ws)
            assert message["health"]["status"] == "degraded"

            await _execute(settings, "ALTER TABLE away RENAME TO events")
            await async_wait_until(lambda: _count(settings, 51), 60, "recovery", processor)
            wait_until(lambda: _health(settings)["status"] == "ok", 30, "health ok again")
            assert (await _next_health(ws))["health"]["status"] == "ok"
        assert _get(settings, "/api/kpis").json()["as_of"] > as_of
    finally:
        processor.stop()
        api.stop()


async def test_a_processor_stuck_inside_a_batch_is_stalled_with_its_lag(
    settings: Settings, tmp_path: Path
) -> None:
    api, settings = start_api(settings, tmp_path, **FAST)
    processor = start_role(settings, "process", tmp_path, IOC_FAULT_PAUSE_AT="mid_batch", **FAST)
    try:
        await _post(settings, [filing(f"f{i}", f"F-{i}") for i in range(20)])
        wait_until(lambda: "FAULT-PAUSE mid_batch" in processor.log(), 60, "pause", processor)
        # Its reports go on while its loop is stuck; once its fetcher has seen the
        # records, the lag counts every one of them.
        body = wait_until(
            lambda: (b := _health_with(settings, "stalled")) and b["lag_total"] == 20 and b,
            30, "health to call the processor stalled with 20 records waiting", processor,
        )  # fmt: skip
        assert body["stale"] is True
        assert sum(body["lag"].values()) == 20
        assert "20 records waiting" in body["reasons"][0]["en"]
    finally:
        processor.process.kill()
        api.stop()


async def test_no_processor_at_all_is_degraded(settings: Settings, tmp_path: Path) -> None:
    api, settings = start_api(settings, tmp_path, **FAST)
    try:
        body = _health(settings)
        assert _codes(body) == ["no_processor"] and body["stale"] is True
        assert _get(settings, "/readyz").json()["ready"] is True
    finally:
        api.stop()


async def _count(settings: Settings, expected: int) -> bool:
    return (await event_totals(settings.database_url))["filings"] == expected


async def _execute(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _next_health(ws: websockets.ClientConnection) -> dict:
    """The next `health` message on the live feed (skipping deltas and heartbeats)."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "health":
            return message
