"""`ioc up`: start the whole IOC on one machine and stop all of it on Ctrl-C or SIGTERM.

With no broker or database configured it starts the embedded ones; then it creates
the topics, applies migrations and runs `ioc serve`, `ioc process` and (unless
--no-simulate) `ioc simulate` as child processes. Every child is also told by the
kernel to exit if this process dies without cleaning up, so nothing is orphaned.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

import httpx

from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.broker import EmbeddedBroker
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.embedded.process import free_port, kill_with_parent, port_open
from ioc.kafka import ensure_topics
from ioc.runtime import Runtime, api_url, write_runtime

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "ioc"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


@dataclass
class Supervisor:
    settings: Settings
    simulate: bool = True
    simulate_rate: float = 10.0
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    children: list[Child] = field(default_factory=list)
    _stop_requested: bool = False
    _wrote_runtime: bool = False

    def run(self) -> int:
        """Start everything, wait for a signal or a failing child, stop everything."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request_stop)
        try:
            self._start()
            return self._watch()
        except Exception as error:
            log.error("ioc up failed: %s", error)
            return 1
        finally:
            self._stop()

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        self._stop_requested = True

    def _start(self) -> None:
        s = self.settings
        if port_open(s.api_host, s.api_port):
            raise RuntimeError(
                f"port {s.api_port} on {s.api_host} is taken; stop what uses it or pass --port"
            )
        s.data_dir.mkdir(parents=True, exist_ok=True)
        kafka = s.kafka_bootstrap
        if not kafka:
            self.broker = EmbeddedBroker(s.data_dir / "broker.log")
            kafka = self.broker.start()
        database = s.database_url
        if not database:
            self.postgres = EmbeddedPostgres(s.data_dir / "postgres")
            database = with_database(self.postgres.start(), EMBEDDED_DATABASE)
        self.settings = s = s.model_copy(
            update={"kafka_bootstrap": kafka, "database_url": database}
        )
        asyncio.run(self._prepare(s))
        s, generated = s.with_ingest_token()
        self.settings = s = s.model_copy(
            update={
                "api_url": api_url(s),
                "processor_metrics_port": s.processor_metrics_port or free_port(),
            }
        )
        token = s.ingest_token
        env = {**os.environ, **s.environment()}
        self._spawn("process", ["process"], env)
        self._spawn("serve", ["serve"], env)
        self._wait_ready(api_url(s))
        if self.simulate:
            seed = random.SystemRandom().randrange(1, 2**31)
            self._spawn(
                "simulate",
                ["simulate", "--seed", str(seed), "--rate", str(self.simulate_rate)],
                env,
            )
        write_runtime(
            s.runtime_file,
            Runtime(api_url=api_url(s), kafka_bootstrap=kafka, database_url=database,
                    ingest_token=token, pid=os.getpid()),
        )  # fmt: skip
        self._wrote_runtime = True
        self._announce(generated)

    async def _prepare(self, s: Settings) -> None:
        await ensure_database(s.database_url)
        applied = await migrate(s.database_url)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        created = await ensure_topics(s)
        if created:
            log.info("created topics: %s", ", ".join(created))

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "ioc", *args],
            env=env,
            preexec_fn=kill_with_parent(),
            # Own session: a Ctrl-C in the terminal reaches only `ioc up`, which then
            # stops the roles before the broker and the database they still talk to.
            start_new_session=True,
        )
        self.children.append(Child(name, process))
        log.info("started ioc %s (pid %d)", name, process.pid)

    def _wait_ready(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline and not self._stop_requested:
            self._check_children()
            try:
                response = httpx.get(f"{url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.3)
        if not self._stop_requested:
            raise RuntimeError(f"the API did not become ready in {timeout}s: {last}")

    def _announce(self, token_generated: bool) -> None:
        s = self.settings
        url = api_url(s)
        lines = [
            "",
            "IOC is up.",
            f"  wall screen    {url}/",
            f"  API docs       {url}/docs",
            f"  live feed      {url.replace('http', 'ws', 1)}/ws/live",
            f"  metrics        {url}/metrics, "
            f"processor http://127.0.0.1:{s.processor_metrics_port}/metrics",
            f"  Kafka          {s.kafka_bootstrap}"
            + ("  (embedded, in memory)" if self.broker else ""),
            f"  PostgreSQL     {s.database_url}"
            + (f"  (embedded, data in {s.data_dir / 'postgres'})" if self.postgres else ""),
            f"  ingest token   {s.ingest_token}"
            + ("  (generated; set IOC_INGEST_TOKEN to choose)" if token_generated else ""),
            f"  runtime file   {s.runtime_file}",
            "  processes      "
            + ", ".join(f"{c.name} (pid {c.process.pid})" for c in self.children),
            "Press Ctrl-C to stop everything.",
            "",
        ]
        print("\n".join(lines), flush=True)

    def _check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise RuntimeError(f"ioc {child.name} exited with code {code}; see its log above")

    def _watch(self) -> int:
        while not self._stop_requested:
            try:
                self._check_children()
            except RuntimeError as error:
                log.error("%s; stopping everything", error)
                return 1
            time.sleep(0.5)
        return 0

    def _stop(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        for child in reversed(self.children):
            try:
                child.process.wait(15)
            except subprocess.TimeoutExpired:
                log.warning("ioc %s did not stop in 15s; killing it", child.name)
                child.process.kill()
                child.process.wait()
        if self.postgres is not None:
            self.postgres.stop()
        if self.broker is not None:
            self.broker.stop()
        if self._wrote_runtime:
            self.settings.runtime_file.unlink(missing_ok=True)
        if self.children or self.postgres or self.broker:
            print("IOC stopped.", flush=True)
