"""Stopping `ioc up` loses nothing it accepted: on the embedded broker, which keeps
events in memory only, a Ctrl-C right after a burst of ingest stops ingest first and
lets the processors - all at once, each its own partitions - store what the broker
holds before the broker goes away."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from ioc.embedded.process import free_port
from ioc.runtime import Runtime, read_runtime
from tests.integration.up import start_up, up_env
from tests.records import filing
from tests.roles import wait_until

pytestmark = pytest.mark.integration

EVENTS = 4000
PER_REQUEST = 250


async def _post_all(runtime: Runtime) -> None:
    """Every event through POST /ingest/filings, all requests at once; each must be accepted."""
    headers = {"Authorization": f"Bearer {runtime.ingest_token}"}
    async with httpx.AsyncClient(base_url=runtime.api_url, headers=headers, timeout=60) as http:

        async def post(first: int) -> None:
            records = [filing(f"burst-{i}", f"F-{i}") for i in range(first, first + PER_REQUEST)]
            response = await http.post("/ingest/filings", json=records)
            assert response.status_code == 200, response.text

        await asyncio.gather(*(post(n) for n in range(0, EVENTS, PER_REQUEST)))


def test_ctrl_c_right_after_a_burst_stores_every_accepted_event(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    up = start_up(data_dir, port, tmp_path / "up.log", "--no-simulate", "--processors", "2")
    try:
        first = wait_until(lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up)
        asyncio.run(_post_all(first))
        # Ctrl-C in a terminal signals the whole process group at once.
        os.killpg(up.process.pid, signal.SIGINT)
        assert up.process.wait(120) == 0, up.log()[-3000:]
    finally:
        if up.process.poll() is None:
            up.process.kill()
    log = up.log()
    assert "waiting for the 2 processors to store what the broker holds" in log
    stopping = log.index("received SIGINT; stopping")
    assert log.index("IOC stopped.") > stopping
    assert not (data_dir / "roles.json").exists()

    again = start_up(data_dir, port, tmp_path / "up2.log", "--no-simulate")
    try:

        def restarted() -> Runtime | None:
            runtime = read_runtime(data_dir / "runtime.json")
            return runtime if runtime and runtime.pid == again.process.pid else None

        runtime = wait_until(restarted, 120, "ioc up restarted on the same data", again)
        # The new broker is empty: whatever is stored now was stored before the stop.
        events = httpx.get(f"{runtime.api_url}/api/kpis").json()["events"]
        assert events["filings"] == EVENTS, f"{EVENTS - events['filings']} accepted events lost"
        # Senders keep the same token across the restart.
        assert runtime.ingest_token == first.ingest_token
        assert f"(reused from {data_dir / 'ingest-token'}" in again.log()
        again.process.send_signal(signal.SIGTERM)
        assert again.process.wait(90) == 0
    finally:
        if again.process.poll() is None:
            again.process.kill()


def test_a_processor_that_never_finishes_is_waited_for_within_the_bound_then_killed(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    # The processor hangs in the middle of its first batch: the drain cannot finish.
    env = up_env(IOC_FAULT_PAUSE_AT="mid_batch", IOC_PROCESSOR_DRAIN_S="1")
    up = start_up(
        data_dir, port, tmp_path / "up.log", "--no-simulate", "--processors", "1", env=env
    )
    try:
        runtime = wait_until(
            lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up
        )
        response = httpx.post(
            f"{runtime.api_url}/ingest/filings", json=[filing("stuck-1", "F-1")],
            headers={"Authorization": f"Bearer {runtime.ingest_token}"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        wait_until(lambda: "FAULT-PAUSE mid_batch" in up.log(), 60, "the processor stuck", up)
        os.killpg(up.process.pid, signal.SIGINT)
        assert up.process.wait(60) == 0
    finally:
        if up.process.poll() is None:
            up.process.kill()
    log = up.log()
    assert "waiting for the processor to store what the broker holds… (at most 16 s)" in log
    assert "still waiting for the processor to store what the broker holds…" in log
    assert "the processor did not stop in 16 s; killing it" in log
    assert "IOC stopped." in log
    assert not (data_dir / "roles.json").exists()
