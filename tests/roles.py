"""Start real `ioc` processes (serve, process) for integration tests and wait until they work."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from ingestors.poller import Trouble
from ioc.config import Settings
from ioc.embedded.broker import EmbeddedBroker
from ioc.embedded.process import free_port
from ioc.kafka import ensure_topics
from tests.conftest import role_env


@dataclass
class Role:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_role(settings: Settings, command: str, tmp: Path, **env: str) -> Role:
    log_path = tmp / f"{command}-{time.monotonic_ns()}.log"
    out: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ioc", command],
        env=role_env(settings, **env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    return Role(command, process, log_path)


def start_api(
    settings: Settings, tmp: Path, port: int = 0, command: str = "serve", **env: str
) -> tuple[Role, Settings]:
    """`ioc serve` (or `ioc ingest`) on `port` (default: a free one), once /readyz says 200."""
    port = port or free_port()
    settings = settings.model_copy(update={"api_port": port, "api_url": f"http://127.0.0.1:{port}"})
    role = start_role(settings, command, tmp, **env)
    wait_until(lambda: _ready(settings.api_url), 60, "ioc serve ready", role)
    return role, settings


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, *roles: Role, interval: float = 0.2
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for role in roles:
            if role.process.poll() is not None:
                raise AssertionError(f"{role.name} exited early:\n{role.log()[-3000:]}")
        time.sleep(interval)
    logs = "\n".join(f"--- {r.name}:\n{r.log()[-3000:]}" for r in roles)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


async def async_wait_until(
    check: Callable[[], Any], seconds: float, what: str, *roles: Role
) -> Any:
    """`wait_until` for async checks: `check` returns an awaitable."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        for role in roles:
            if role.process.poll() is not None:
                raise AssertionError(f"{role.name} exited early:\n{role.log()[-3000:]}")
        await asyncio.sleep(0.2)
    logs = "\n".join(f"--- {r.name}:\n{r.log()[-3000:]}" for r in roles)
    raise AssertionError(f"timed out after {seconds}s waiting for {what} (last: {last})\n{logs}")


async def own_broker(settings: Settings, tmp: Path) -> tuple[EmbeddedBroker, Settings]:
    """A broker of the test's own, to stop and start, and `settings` pointing at it (its
    topics created)."""
    broker = EmbeddedBroker(tmp / "broker.log")
    settings = settings.model_copy(update={"kafka_bootstrap": broker.start()})
    await ensure_topics(settings)
    return broker, settings


async def restart_between_attempts(
    broker: EmbeddedBroker, trouble: Trouble, settings: Settings
) -> None:
    """Start the stopped `broker` again (on its port) once its client's next failed attempt
    is over, and create the topics at once.

    The embedded broker keeps topics in memory: restarted, it has none, and a record
    produced before they are created again may be lost by the broker itself. Restarted
    while the client sleeps between two attempts (none in flight), with the topics made
    at once, it stands for a restarted Kafka, which would simply still have them."""
    failures = trouble.attempts

    async def between_attempts() -> bool:
        return trouble.attempts > failures

    await async_wait_until(between_attempts, 60, "the next failed attempt")
    broker.start()  # the same port
    await ensure_topics(settings)
