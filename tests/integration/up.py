"""Start the real `ioc up` as a subprocess, in its own process group, for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from ioc.embedded.process import free_port
from tests.roles import Role


def up_env(**extra: str) -> dict[str, str]:
    """The environment of a terminal without IOC_* settings, plus `extra`; the syslog
    listener `ioc up` starts on free ports unless `extra` names them (not on 5514, which
    a developer's own `ioc up` may hold)."""
    free = {"IOC_SYSLOG_UDP_PORT": str(free_port()), "IOC_SYSLOG_TCP_PORT": str(free_port())}
    terminal = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return {**terminal, **free, **extra}


def start_up(
    data_dir: Path, port: int, log: Path, *args: str, env: dict[str, str] | None = None
) -> Role:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ioc", "up", "--data-dir", str(data_dir), "--port", str(port),
             *args],
            env=env or up_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Role("up", process, log)


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def all_gone(processes: list[psutil.Process]) -> bool:
    return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)


class HealthPoller(threading.Thread):
    """Asks GET /healthz every `interval` seconds until stopped; keeps every failure."""

    def __init__(self, api_url: str, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.url = f"{api_url}/healthz"
        self.interval = interval
        self.answers = 0
        self.failures: list[str] = []
        self._done = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._done.is_set():
                try:
                    response = client.get(self.url)
                    if response.status_code == 200:
                        self.answers += 1
                    else:
                        self.failures.append(f"{time.time():.3f} {response.status_code}")
                except httpx.HTTPError as error:
                    self.failures.append(f"{time.time():.3f} {type(error).__name__}: {error}")
                self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join(5)
