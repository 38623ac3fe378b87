"""`ioc up` heals itself: a role that dies is restarted while the API stays up, and a
role in a crash loop stops everything with one line that says what to look at."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from ioc.embedded.process import free_port
from ioc.roles_status import RolesStatus, read_roles
from ioc.runtime import read_runtime
from tests.integration.up import HealthPoller, all_gone, descendants, start_up, up_env
from tests.records import filing
from tests.roles import wait_until

pytestmark = pytest.mark.integration


def test_a_killed_processor_is_restarted_and_the_api_stays_up(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    roles_path = data_dir / "roles.json"
    up = start_up(data_dir, port, tmp_path / "up.log", "--no-simulate")
    poller: HealthPoller | None = None
    try:
        runtime = wait_until(
            lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up
        )
        before = read_roles(roles_path)
        assert before is not None and set(before.roles) == {"process", "serve"}
        old_pid = before.roles["process"].pid
        assert old_pid is not None
        poller = HealthPoller(runtime.api_url)
        poller.start()
        wait_until(lambda: poller.answers, 10, "the first /healthz answer", up)

        os.kill(old_pid, signal.SIGKILL)

        def restarted() -> RolesStatus | None:
            status = read_roles(roles_path)
            role = status.roles["process"] if status else None
            return status if role and role.state == "running" and role.pid != old_pid else None

        after = wait_until(restarted, 60, "the processor restarted", up, interval=0.05)
        process = after.roles["process"]
        assert process.restarts == 1 and process.last_exit_code == -signal.SIGKILL
        assert process.last_exit_at is not None
        assert after.roles["serve"].restarts == 0 and after.roles["serve"].state == "running"
        assert f"ioc process (pid {old_pid}) exited with signal SIGKILL" in up.log()
        restarted_line = f"restarted ioc process: pid {process.pid}, restart 1"
        wait_until(lambda: restarted_line in up.log(), 10, restarted_line, up)

        # Events sent after the restart are stored by the new processor.
        records = [filing(f"after-restart-{i}", f"F-{i}") for i in range(200)]
        headers = {"Authorization": f"Bearer {runtime.ingest_token}"}
        response = httpx.post(
            f"{runtime.api_url}/ingest/filings", json=records, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        wait_until(
            lambda: httpx.get(f"{runtime.api_url}/api/kpis").json()["events"]["filings"] == 200,
            60, "the events sent after the restart stored", up,
        )  # fmt: skip
        poller.stop()
        assert not poller.failures, f"/healthz failed while the processor restarted: {poller}"
        assert poller.answers > 10

        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(90) == 0
        assert not roles_path.exists()
    finally:
        if up.process.poll() is None:
            up.process.kill()
        if poller is not None:
            poller.stop()


def test_a_crash_loop_stops_ioc_up_and_says_what_to_look_at(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    # A real fault only the processor hits: its metrics port is taken, so every start fails.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        env = up_env(IOC_PROCESSOR_METRICS_PORT=str(metrics_port))
        up = start_up(data_dir, port, tmp_path / "up.log", "--no-simulate", env=env)
        try:
            wait_until(lambda: (data_dir / "roles.json").exists(), 120, "roles.json", up)
            children = descendants(up.process.pid)
            assert up.process.wait(180) == 1
        finally:
            if up.process.poll() is None:
                up.process.kill()
    log = up.log()
    last = log.strip().splitlines()[-1]
    assert last == (
        "ioc up: stopping: ioc process exited 5 times within 120 s, last with code 2; "
        "see its output above (lines with [process] or starting 'ioc process:')"
    ), log[-3000:]
    for delay, restart in ((1, 1), (2, 2), (4, 3), (8, 4)):
        assert f"restarting it in {delay} s (restart {restart})" in log
    assert "Address already in use" in log  # the processor's own words are in the output
    wait_until(lambda: all_gone(children), 30, "every child stopped")
    assert not (data_dir / "roles.json").exists()
    assert not (data_dir / "runtime.json").exists()
