"""HTTP ingest → Kafka → processor → PostgreSQL → /api/kpis and /ws/live, all real processes."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from ioc.config import Settings
from tests.probes import read_topic
from tests.records import alert, document, filing
from tests.roles import start_api, start_role

pytestmark = pytest.mark.integration


def _auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.ingest_token}"}


async def _next_delta(ws: Any, until: float) -> dict[str, Any] | None:
    """The next delta message (skipping heartbeats), or None at the deadline."""
    while (left := until - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            return None
        if message["type"] == "delta":
            return message
    return None


async def test_posted_events_are_counted_once_and_announced_live(
    settings: Settings, tmp_path: Path
) -> None:
    processor = start_role(settings, "process", tmp_path)
    api, settings = start_api(settings, tmp_path)
    try:
        ws_url = settings.api_url.replace("http", "ws", 1) + "/ws/live"
        async with connect(ws_url) as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot"
            assert snapshot["kpis"]["events"] == {"documents": 0, "filings": 0, "security": 0}

            filings = [
                filing("f-e1", "F-1", "received", 0),
                filing("f-e1", "F-1", "received", 0),  # the same event twice in one request
                filing("f-e2", "F-1", "resolved", 30),
                filing("f-e3", "F-2", "received", 10),
            ]
            documents = [document("d-e1", "D-1"), document("d-e2", "D-2", "assigned")]
            alerts = [
                alert("s-e1", "A-1", "critical"),
                alert("s-e2", "A-2", "high"),
                alert("s-e3", "A-2", "high", "resolved"),
            ]
            async with httpx.AsyncClient(
                base_url=settings.api_url, headers=_auth(settings)
            ) as http:
                for source, records in (
                    ("filings", filings), ("documents", documents), ("security", alerts)
                ):  # fmt: skip
                    response = await http.post(f"/ingest/{source}", json=records)
                    assert response.status_code == 200, response.text
                    assert response.json()["accepted"] == len(records)
                # A client retry of a whole request must not count anything twice.
                response = await http.post("/ingest/filings", json=filings)
                assert response.status_code == 200

            expected = {"documents": 2, "filings": 3, "security": 3}
            deadline = time.monotonic() + 45
            seen = None
            while seen != expected:
                delta = await _next_delta(ws, deadline)
                assert delta is not None, f"no delta announced the events; last seen {seen}"
                seen = delta["kpis"]["events"]
                assert all(seen[s] <= expected[s] for s in expected), f"over-counted: {seen}"

        async with httpx.AsyncClient(base_url=settings.api_url) as http:
            kpis = (await http.get("/api/kpis")).json()
            assert kpis["events"] == expected
            assert kpis["filings"]["open"] == 1  # F-1 resolved, F-2 still open
            assert kpis["security"]["open"] == 1
            assert kpis["security"]["open_by_severity"]["critical"] == 1
            assert kpis["security"]["open_by_severity"]["high"] == 0
            metrics = (await http.get("/metrics")).text
            accepted = 'outcome="accepted",source="filings"} 8.0'
            assert f'ioc_ingest_records_total{{format="canonical",{accepted}' in metrics
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = (await http.get("/readyz")).json()
            assert ready["ready"] is True, ready
    finally:
        api.stop()
        processor.stop()


async def test_bad_input_gets_clear_errors_and_goes_to_the_dead_letter_topic(
    settings: Settings, tmp_path: Path
) -> None:
    api, settings = start_api(
        settings, tmp_path, IOC_INGEST_MAX_BODY_BYTES="20000", IOC_INGEST_MAX_RECORDS="50"
    )
    try:
        async with httpx.AsyncClient(base_url=settings.api_url, headers=_auth(settings)) as http:
            body = "\n".join([
                json.dumps(filing("ok-1", "F-9")),
                '{"event_id": "bad-1", "type": "received"',  # cut short
                json.dumps({**filing("bad-2", "F-10"), "occurred_at": "2026-11-22T09:00:00"}),
            ])  # fmt: skip
            response = await http.post("/ingest/filings", content=body)
            assert response.status_code == 207
            results = response.json()["results"]
            assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
            assert "not valid JSON" in results[1]["errors"][0]
            assert results[2]["errors"] == ["occurred_at: Input should have timezone info"]

            response = await http.post("/ingest/filings", content=b"[{broken")
            assert response.status_code == 400
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["type"] == "urn:ioc:problem:unreadable-body"
            assert problem["status"] == 400 and problem["dead_lettered"] is True
            assert "not valid JSON" in problem["detail"]

            unauthorised = await http.post(
                "/ingest/filings", json=[], headers={"Authorization": "Bearer wrong"}
            )
            assert unauthorised.status_code == 401
            assert "IOC_INGEST_TOKEN" in unauthorised.json()["detail"]
            assert unauthorised.json()["status"] == 401
            unknown_source = await http.post("/ingest/weather", json=[])
            assert unknown_source.status_code == 404
            assert unknown_source.json()["type"] == "urn:ioc:problem:unknown-source"

            too_big = await http.post("/ingest/filings", content=b" " * 20001)
            assert too_big.status_code == 413 and "split" in too_big.json()["detail"]
            too_many = await http.post("/ingest/filings", json=[{}] * 51)
            assert too_many.status_code == 413 and "50 records" in too_many.json()["detail"]
            bomb = gzip.compress(b" " * 100_000)
            response = await http.post(
                "/ingest/filings", content=bomb, headers={"Content-Encoding": "gzip"}
            )
            assert response.status_code == 400 and "larger than" in response.json()["detail"]
            unknown = await http.post("/ingest/security?format=nmap", json=[])
            assert unknown.status_code == 400 and "canonical" in unknown.json()["detail"]

        records = await read_topic(settings, settings.deadletter_topic, 4, api)
        letters = [json.loads(m.value) for m in records]
        reasons = sorted(letter["reason"] for letter in letters)
        assert reasons == ["invalid_record", "invalid_record", "unreadable_body", "unreadable_body"]
        assert all(letter["stage"] == "ingest" and letter["errors"] for letter in letters)
        assert any('"bad-2"' in letter["raw"] for letter in letters)
    finally:
        api.stop()


async def test_ioc_ingest_serves_only_the_receiver(settings: Settings, tmp_path: Path) -> None:
    receiver, settings = start_api(settings, tmp_path, command="ingest")
    try:
        async with httpx.AsyncClient(base_url=settings.api_url, headers=_auth(settings)) as http:
            response = await http.post("/ingest/documents", json=[document("d1", "D-1")])
            assert response.status_code == 200 and response.json()["accepted"] == 1
            assert (await http.get("/api/kpis")).status_code == 404
            assert (await http.get("/")).status_code == 404
            assert "ioc_ingest_records_total" in (await http.get("/metrics")).text

        got = await read_topic(settings, settings.source_topics["documents"], 1, receiver)
        assert got[0].key == b"D-1"  # keyed by the entity, so one document stays in order
        assert json.loads(got[0].value)["event_id"] == "d1"
    finally:
        receiver.stop()


async def test_an_idle_live_feed_sends_heartbeats(settings: Settings, tmp_path: Path) -> None:
    api, settings = start_api(settings, tmp_path)  # heartbeat every 2 s in tests
    try:
        async with connect(settings.api_url.replace("http", "ws", 1) + "/ws/live") as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            started = time.monotonic()
            beat = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert beat["type"] == "heartbeat" and beat["at"]
            assert 1.0 <= time.monotonic() - started <= 6.0
    finally:
        api.stop()
