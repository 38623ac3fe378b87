"""`ioc up` on embedded defaults: starts everything, is found through runtime.json, and
leaves nothing running after SIGTERM - or after being killed outright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from ingestors.render import NATIVE
from ioc.config import Settings
from ioc.embedded.process import free_port, port_open
from ioc.processor_roles import processor_count, processor_names, source_partitions, usable_cpus
from ioc.roles_status import read_roles
from ioc.runtime import Runtime, read_runtime
from tests.conftest import role_env
from tests.integration.up import all_gone, descendants, start_up, up_env
from tests.roles import Role, wait_until

pytestmark = pytest.mark.integration


def formats_accepted(api: str) -> set[str]:
    """The ingest formats the API has accepted records in."""
    return {
        line.split('format="')[1].split('"')[0]
        for line in httpx.get(f"{api}/metrics").text.splitlines()
        if line.startswith("ioc_ingest_records_total{") and 'outcome="accepted"' in line
        and not line.endswith(" 0.0")
    }  # fmt: skip


SYSLOG_AGENCY = "000.00.99.H42"  # an agency the simulator never uses


def syslog_cef(transport: str) -> bytes:
    """A FortiGate IPS alert as a relay forwards it over syslog: one per transport, each
    with its own signature id, so two alerts."""
    now = datetime.now(UTC).astimezone(timezone(timedelta(hours=7)))
    return (
        f"<134>1 {now.isoformat()} fw-tinh FortiGate - - - CEF:0|Fortinet|FortiGate|7.2.5|"
        f"{len(transport)}{ord(transport[0])}|IOC up syslog {transport}|High|"
        f"src=203.0.113.7 dst=10.20.0.15 cat=ips"
    ).encode()


def test_up_runs_everything_and_stops_everything(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    udp, tcp = free_port(), free_port()
    env = up_env(IOC_SYSLOG_UDP_PORT=str(udp), IOC_SYSLOG_TCP_PORT=str(tcp),
                 IOC_SYSLOG_AGENCY=SYSLOG_AGENCY)  # fmt: skip
    up = start_up(data_dir, port, tmp_path / "up.log", "--rate", "50", env=env)
    try:
        runtime = wait_until(
            lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up
        )
        assert runtime.api_url == f"http://127.0.0.1:{port}"
        assert runtime.kafka_bootstrap.startswith("127.0.0.1:")
        assert runtime.database_url.startswith("postgresql://")
        assert runtime.ingest_token in up.log(), "a generated token must be printed"
        log = up.log()
        for line in (
            "IOC is up.",
            f"wall screen    http://127.0.0.1:{port}/",
            "(embedded, in memory)",
            f"(generated now, kept in {data_dir / 'ingest-token'}",
            f"syslog         udp://127.0.0.1:{udp}, tcp://127.0.0.1:{tcp}",
        ):
            assert line in log
        roles = read_roles(data_dir / "roles.json")
        assert roles is not None and roles.supervisor_pid == up.process.pid
        # By default one processor per CPU core (at most one per partition).
        count = processor_count(0, usable_cpus(), source_partitions(3))
        processors = processor_names(count.count)
        assert set(roles.roles) == {*processors, "serve", "syslog", "simulate"}
        assert f"processors     {count.count} in consumer group ioc-processor: {count.why}" in log
        assert not roles.not_running()
        assert all(r.pid and r.restarts == 0 for r in roles.roles.values()), roles

        api = runtime.api_url
        assert httpx.get(f"{api}/readyz").json()["ready"] is True
        assert "<html" in httpx.get(f"{api}/").text.lower()
        # The simulator started by `ioc up` feeds all three sources.
        wait_until(
            lambda: all(httpx.get(f"{api}/api/kpis").json()["events"].values()),
            60, "simulated events of every source", up,
        )  # fmt: skip
        # ... in every source system's own format, so every ingest adapter is exercised.
        wait_until(
            lambda: NATIVE.keys() <= formats_accepted(api), 60, "records of every format", up
        )
        # A device's syslog reaches the wall screen's data, over UDP and over TCP.
        wait_until(lambda: port_open("127.0.0.1", tcp), 30, "the syslog listener", up)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(syslog_cef("UDP"), ("127.0.0.1", udp))
        with socket.create_connection(("127.0.0.1", tcp), timeout=5) as sock:
            sock.sendall(syslog_cef("TCP") + b"\n")

        def syslog_alerts() -> set[str]:
            answer = httpx.get(f"{api}/api/alerts", params={"agency": SYSLOG_AGENCY})
            return {item["signature"].split(": ")[-1] for item in answer.json()["items"]}

        wait_until(
            lambda: syslog_alerts() == {"IOC up syslog UDP", "IOC up syslog TCP"},
            60, "the alerts sent over syslog", up,
        )  # fmt: skip
        # Another command finds the running system through runtime.json alone.
        sent = subprocess.run(
            [sys.executable, "-m", "ioc", "simulate", "--seed", "99", "--count", "40",
             "--data-dir", str(data_dir)],
            env=up_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert "40 accepted, 0 rejected" in sent.stderr

        children = descendants(up.process.pid)
        names = {p.name() for p in children}
        assert any("postgres" in n for n in names) and any("tansu" in n for n in names), names
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(60) == 0
        wait_until(lambda: all_gone(children), 15, "every child stopped")
        assert not (data_dir / "runtime.json").exists()
        assert not (data_dir / "roles.json").exists()
        assert "IOC stopped." in up.log()
    finally:
        if up.process.poll() is None:
            up.process.kill()


def test_up_killed_outright_orphans_nothing_and_restarts_on_its_data(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    up = start_up(data_dir, port, tmp_path / "up.log", "--no-simulate")
    try:
        first = wait_until(lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up)
        children = descendants(up.process.pid)
        assert len(children) >= 4  # broker, postgres, serve, the processors
        up.process.kill()
        up.process.wait(10)
        wait_until(lambda: all_gone(children), 30, "children to follow their parent")

        # The stale runtime.json and postmaster.pid left behind do not stop a restart.
        again = start_up(data_dir, port, tmp_path / "up2.log", "--no-simulate")
        try:

            def restarted() -> Runtime | None:
                runtime = read_runtime(data_dir / "runtime.json")
                return runtime if runtime and runtime.pid == again.process.pid else None

            runtime = wait_until(restarted, 120, "restart", again)
            assert httpx.get(f"{runtime.api_url}/readyz").json()["ready"] is True
            # The data directory keeps its generated ingest token, and the banner says so.
            assert runtime.ingest_token == first.ingest_token
            assert f"(reused from {data_dir / 'ingest-token'}" in again.log()
            # Ctrl-C in a terminal signals the whole process group at once.
            os.killpg(again.process.pid, signal.SIGINT)
            assert again.process.wait(60) == 0
            errors = [line for line in again.log().splitlines() if " ERROR " in line]
            assert not errors, "a clean stop logs no errors:\n" + "\n".join(errors)
        finally:
            if again.process.poll() is None:
                again.process.kill()
    finally:
        if up.process.poll() is None:
            up.process.kill()


def test_up_uses_the_configured_broker_and_database_instead_of_its_own(
    settings: Settings, tmp_path: Path
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    env = role_env(settings, IOC_SYSLOG_UDP_PORT="0", IOC_SYSLOG_TCP_PORT=str(free_port()))
    env.pop("IOC_INGEST_TOKEN")
    env.pop("IOC_API_PORT")
    with (tmp_path / "up.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ioc", "up", "--data-dir", str(data_dir), "--port", str(port),
             "--rate", "50"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    up = Role("up", process, tmp_path / "up.log")
    try:
        runtime = wait_until(
            lambda: read_runtime(data_dir / "runtime.json"), 120, "runtime.json", up
        )
        assert runtime.kafka_bootstrap == settings.kafka_bootstrap
        assert runtime.database_url == settings.database_url
        names = {p.name() for p in descendants(up.process.pid)}
        assert not any("postgres" in n or "tansu" in n for n in names), names
        assert "(embedded" not in up.log()
        wait_until(
            lambda: sum(httpx.get(f"{runtime.api_url}/api/kpis").json()["events"].values()) > 0,
            60, "simulated events stored in the configured database", up,
        )  # fmt: skip
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(60) == 0
    finally:
        if up.process.poll() is None:
            up.process.kill()
