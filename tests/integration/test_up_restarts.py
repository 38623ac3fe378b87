"""`ioc up` heals itself: a processor that dies is restarted on its own while the other
and the API keep working - nothing lost, nothing counted twice - and a role in a crash
loop stops everything with one line that says what to look at."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from ioc.config import Settings
from ioc.embedded.process import free_port
from ioc.processor_roles import source_partitions
from ioc.roles_status import RolesStatus, read_roles
from ioc.runtime import read_runtime
from tests.integration.up import HealthPoller, all_gone, descendants, start_up, up_env
from tests.records import filing
from tests.roles import wait_until

pytestmark = pytest.mark.integration


def _health(api: str) -> dict[str, Any]:
    return httpx.get(f"{api}/api/health", timeout=10).json()


def _stored(api: str) -> int:
    return int(httpx.get(f"{api}/api/kpis", timeout=10).json()["events"]["filings"])


def _post(api: str, token: str, records: list[dict[str, Any]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{api}/ingest/filings", json=records, headers=headers, timeout=30)
    assert response.status_code == 200, response.text


def test_two_processors_share_the_work_and_a_killed_one_is_restarted_losing_nothing(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    roles_path = data_dir / "roles.json"
    up = start_up(data_dir, port, tmp_path / "up.log", "--no-simulate", "--processors", "2")
    poller: HealthPoller | None = None
    try:
        runtime = wait_until(
            lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up
        )
        api, token = runtime.api_url, runtime.ingest_token
        before = read_roles(roles_path)
        assert before is not None
        assert set(before.roles) == {"process-1", "process-2", "serve", "syslog"}
        pids = {name: before.roles[name].pid for name in ("process-1", "process-2")}
        assert "processors     2 in consumer group ioc-processor" in up.log()

        # Both report in /api/health, as members of one group: between them they own
        # every partition, each its own share.
        default_partitions = Settings.model_fields["topic_partitions"].default
        partitions = source_partitions(default_partitions) + 1  # and the dead-letter one

        def both_reporting() -> dict[str, Any] | None:
            body = _health(api)
            shown = {p["name"]: p for p in body["processors"]}
            if set(shown) != set(pids) or any(p["state"] != "ok" for p in shown.values()):
                return None
            one, two = (set(shown[name]["lag"]) for name in pids)
            return body if one and two and not one & two and len(one | two) == partitions else None

        body = wait_until(both_reporting, 90, "both processors sharing the partitions", up)
        assert body["status"] == "ok" and not body["reasons"]
        assert {p["name"]: p["pid"] for p in body["processors"]} == pids
        assert "[process-1] streams.processor: processor process-1 started" in up.log()
        assert "[process-2] streams.processor: processor process-2 started" in up.log()

        poller = HealthPoller(api)
        poller.start()
        wait_until(lambda: poller.answers, 10, "the first /healthz answer", up)

        # Events flow while process-2 is SIGKILLed in the middle of them.
        sent = 0
        for round_ in range(8):
            _post(api, token, [filing(f"f{round_}-{i}", f"F-{round_}-{i}") for i in range(250)])
            sent += 250
            if round_ == 3:
                wait_until(lambda: _stored(api) > 0, 60, "processing started", up)
                os.kill(pids["process-2"], signal.SIGKILL)

        def says_so() -> dict[str, Any] | None:
            body = _health(api)
            named = [r for r in body["reasons"] if "ioc process-2" in r["en"]]
            return body if named and named[0]["code"] in ("role_down", "role_restarted") else None

        body = wait_until(says_so, 30, "health naming the killed processor", up, interval=0.05)
        assert body["status"] == "degraded"
        reason = next(r for r in body["reasons"] if "ioc process-2" in r["en"])
        assert reason["vi"].startswith("Tiến trình bộ xử lý 2 (ioc process-2) đã")
        assert "mã thoát -9" in reason["vi"]
        shown = {p["name"]: p for p in body["processors"]}
        assert shown["process-2"]["role"]["last_exit_code"] == -signal.SIGKILL
        assert shown["process-1"]["role"]["restarts"] == 0

        def restarted() -> RolesStatus | None:
            status = read_roles(roles_path)
            role = status.roles["process-2"] if status else None
            running = role and role.state == "running" and role.pid != pids["process-2"]
            return status if running else None

        after = wait_until(restarted, 60, "process-2 restarted", up, interval=0.05)
        process_2 = after.roles["process-2"]
        assert process_2.restarts == 1 and process_2.last_exit_code == -signal.SIGKILL
        assert after.roles["process-1"].pid == pids["process-1"], "only the killed one restarts"
        assert after.roles["process-1"].restarts == 0 and after.roles["serve"].restarts == 0
        log = up.log()
        assert f"ioc process-2 (pid {pids['process-2']}) exited with signal SIGKILL" in log
        restarted_line = f"restarted ioc process-2: pid {process_2.pid}, restart 1"
        wait_until(lambda: restarted_line in up.log(), 10, restarted_line, up)

        # Back: its new run reports and stores its share of what comes next.
        def back() -> dict[str, Any] | None:
            body = _health(api)
            shown = {p["name"]: p for p in body["processors"]}
            new = shown.get("process-2")
            return body if new and new["state"] == "ok" and new["pid"] == process_2.pid else None

        wait_until(back, 60, "process-2 reporting again", up)
        _post(api, token, [filing(f"last-{i}", f"F-last-{i}") for i in range(250)])
        sent += 250

        def exact() -> bool:
            stored = _stored(api)
            assert stored <= sent, f"double count: {stored} > {sent}"
            return stored == sent

        wait_until(exact, 90, f"all {sent} filings stored", up)

        # Each stored its share (as its next progress report says).
        def both_committed() -> dict[str, Any] | None:
            body = _health(api)
            return body if all(p["last_commit_at"] for p in body["processors"]) else None

        body = wait_until(both_committed, 10, "both processors' reports of a commit", up)
        # Shown for a minute after the restart; nothing else is wrong, nothing is stale.
        assert {r["code"] for r in body["reasons"]} <= {"role_restarted"}, body["reasons"]
        assert not body["stale"]
        poller.stop()
        assert not poller.failures, f"/healthz failed while process-2 restarted: {poller}"
        assert poller.answers > 10

        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(90) == 0
        assert not roles_path.exists()
        assert "waiting for the 2 processors to store what the broker holds" in up.log()
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
        up = start_up(
            data_dir, port, tmp_path / "up.log", "--no-simulate", "--processors", "1", env=env
        )
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
