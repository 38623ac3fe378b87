"""SIGKILL the processor inside a batch and between the database commit and the offset
commit: the restarted processor must end with exact counts - nothing lost, nothing twice."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from ioc.config import Settings
from ioc.embedded.process import free_port
from tests.probes import event_totals
from tests.records import alert, document, filing
from tests.roles import async_wait_until, start_api, start_role, wait_until

pytestmark = pytest.mark.integration


async def _stored(settings: Settings) -> dict[str, int]:
    return await event_totals(settings.database_url)


async def _post(settings: Settings, source: str, records: list[dict]) -> None:
    headers = {"Authorization": f"Bearer {settings.ingest_token}"}
    async with httpx.AsyncClient(base_url=settings.api_url, headers=headers) as http:
        response = await http.post(f"/ingest/{source}", json=records)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("point", ["mid_batch", "after_db_commit"])
async def test_processor_killed_mid_flight_ends_with_exact_counts(
    settings: Settings, tmp_path: Path, point: str
) -> None:
    api, settings = start_api(settings, tmp_path)
    victim = start_role(settings, "process", tmp_path, IOC_FAULT_PAUSE_AT=point)
    survivor = None
    try:
        await _post(settings, "filings", [filing(f"f{i}", f"F-{i}") for i in range(300)])
        await _post(settings, "documents", [document(f"d{i}", f"D-{i}") for i in range(100)])
        wait_until(lambda: f"FAULT-PAUSE {point}" in victim.log(), 60, f"pause at {point}", victim)

        at_kill = await _stored(settings)
        if point == "mid_batch":
            assert sum(at_kill.values()) == 0, "an open transaction must not be visible"
        else:
            assert sum(at_kill.values()) > 0, "the first batch should be committed"
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        assert await _stored(settings) == at_kill

        # More traffic while no processor runs, then a fresh one takes over.
        await _post(settings, "security", [alert(f"s{i}", f"A-{i}", "medium") for i in range(50)])
        metrics_port = free_port()
        survivor = start_role(
            settings, "process", tmp_path, IOC_PROCESSOR_METRICS_PORT=str(metrics_port)
        )
        expected = {"documents": 100, "filings": 300, "security": 50}

        async def exact() -> bool:
            stored = await _stored(settings)
            assert all(stored[s] <= expected[s] for s in expected), f"double count: {stored}"
            return stored == expected

        await async_wait_until(exact, 60, f"exact counts {expected}", survivor)

        async with httpx.AsyncClient(base_url=settings.api_url) as http:
            kpis = (await http.get("/api/kpis")).json()
        assert kpis["events"] == expected
        assert kpis["filings"]["open"] == 300
        assert kpis["security"]["open_by_severity"]["medium"] == 50

        if point == "after_db_commit":
            # The killed batch was redelivered (its offsets were never committed) and the
            # survivor recognised every one of its events as already stored.
            async with httpx.AsyncClient() as http:
                metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            duplicates = next(
                float(line.split()[-1])
                for line in metrics.splitlines()
                if line.startswith("ioc_processor_duplicates_total")
            )
            assert duplicates >= sum(at_kill.values())
    finally:
        if victim.process.poll() is None:
            victim.process.kill()
        if survivor is not None:
            survivor.stop()
        api.stop()
