"""`ioc up`: start the whole IOC on one machine, keep it running, stop it without losing data.

With no broker or database configured it starts the embedded ones; then it creates the
topics, applies migrations and runs as child processes ("roles") the processors -
`ioc process`, as many as `ioc.processor_roles` says (`process`, or `process-1` …
`process-N`, one consumer group) - `ioc serve`, `ioc syslog` (unless --no-syslog, or
both its ports are 0) and (unless --no-simulate) `ioc simulate`. Every child is also
told by the kernel to exit if this process dies without cleaning up, so nothing is
orphaned.

A role that exits is restarted with backoff; a role in a crash loop stops everything
(`ioc.restarts` decides, for each role on its own). Each change of a role's state is
written to `<data-dir>/roles.json` (`ioc.roles_status`) for the wall screen.

Ctrl-C or SIGTERM stops in an order that loses nothing accepted: the simulator, the
syslog listener and `ioc serve` (ingest) first, so nothing new comes in; then the
processors, all at once, each storing what the broker still holds for it before it
exits; then the broker and the database."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

import httpx

from ioc.clock import clock_for, working_calendar
from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.broker import EmbeddedBroker
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.embedded.process import can_bind, free_port, kill_with_parent, port_open
from ioc.kafka import ensure_topics
from ioc.processor_roles import (
    is_processor_role,
    metrics_ports,
    processor_count,
    processor_names,
    source_partitions,
    usable_cpus,
)
from ioc.restarts import CrashLoop, RestartPolicy
from ioc.roles_status import RolesStatus, RoleState, RoleStatus, roles_file, write_roles
from ioc.runtime import Runtime, TokenOrigin, api_url, data_dir_token, write_runtime

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "ioc"
# Waited for on top of IOC_PROCESSOR_DRAIN_S, the time `ioc process` may take on SIGTERM
# to store what the broker holds: closing the consumer, producer and database connection.
PROCESSOR_STOP_GRACE_S = 15.0
PROGRESS_EVERY_S = 5.0
TICK_S = 0.2


class CrashLooping(Exception):
    """A role exited too often: stop everything; the message says what to look at."""


@dataclass
class Child:
    """One role: its command line (made afresh for each start), the `IOC_*` settings of
    its own, and its current run."""

    name: str
    args: Callable[[], list[str]]
    policy: RestartPolicy
    command: str  # the `ioc` subcommand, as in its own error lines ('ioc process: …')
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    state: RoleState = "running"
    restarts: int = 0
    restart_at: float = 0.0
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None

    def status(self) -> RoleStatus:
        running = self.state == "running" and self.process is not None
        return RoleStatus(
            pid=self.process.pid if running and self.process else None,
            state=self.state,
            restarts=self.restarts,
            last_exit_code=self.last_exit_code,
            last_exit_at=self.last_exit_at,
        )


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name} (code {code})"
        except ValueError:
            return f"signal {-code} (code {code})"
    return f"code {code}"


@dataclass
class Supervisor:
    settings: Settings
    simulate: bool = True
    simulate_rate: float = 10.0
    simulate_format: str = "native"  # `ioc simulate --format`: every adapter, end to end
    syslog: bool = True  # `ioc syslog` on IOC_SYSLOG_UDP_PORT / IOC_SYSLOG_TCP_PORT
    clock: Callable[[], float] = time.monotonic
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    children: dict[str, Child] = field(default_factory=dict)
    _env: dict[str, str] = field(default_factory=dict)
    _metrics_ports: Mapping[str, int] = field(default_factory=dict)  # processor -> port
    _count_why: str = ""
    _syslog_where: list[str] = field(default_factory=list)
    _stop_requested: bool = False
    _stopping: bool = False
    _force: bool = False
    _wrote_runtime: bool = False
    _wrote_roles: bool = False

    def run(self) -> int:
        """Start everything, keep the roles running until a signal or a crash loop, stop."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        failure = ""
        try:
            self._start()
            self._watch()
            return 0
        except CrashLooping as error:
            failure = f"ioc up: stopping: {error}"
            log.error("%s", failure)
            return 1
        except Exception as error:
            log.error("ioc up failed: %s", error)
            return 1
        finally:
            self._stop()
            if failure:  # the last line on the terminal says what to look at
                print(failure, file=sys.stderr, flush=True)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._stopping:
            if not self._force:
                log.warning(
                    "received %s again; telling the processor to stop without draining", name
                )
            self._force = True
            return
        log.info("received %s; stopping", name)
        self._stop_requested = True

    # -- starting -------------------------------------------------------------------

    def _start(self) -> None:
        s = self.settings
        if port_open(s.api_host, s.api_port):
            raise RuntimeError(
                f"port {s.api_port} on {s.api_host} is taken; stop what uses it or pass --port"
            )
        processors = self._plan_processors()
        syslog = self._syslog_listens()
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
        s, token_origin = data_dir_token(s)
        self.settings = s = s.model_copy(update={"api_url": api_url(s)})
        self._env = {**os.environ, **s.environment()}
        for name, port in processors.items():
            self._add(
                name, lambda: ["process"],
                {"IOC_PROCESSOR_NAME": name, "IOC_PROCESSOR_METRICS_PORT": str(port)},
            )  # fmt: skip
        self._add("serve", lambda: ["serve"])
        self._wait_ready(api_url(s))
        if self._stop_requested:
            return
        if syslog:
            self._add("syslog", lambda: ["syslog"])
        if self.simulate:
            rate, format = str(self.simulate_rate), self.simulate_format
            # A new seed for every start, so a restarted simulator sends new events.
            self._add(
                "simulate",
                lambda: ["simulate", "--seed", str(random.SystemRandom().randrange(1, 2**31)),
                         "--rate", rate, "--format", format],
            )  # fmt: skip
        write_runtime(
            s.runtime_file,
            Runtime(api_url=api_url(s), kafka_bootstrap=kafka, database_url=database,
                    ingest_token=s.ingest_token, pid=os.getpid()),
        )  # fmt: skip
        self._wrote_runtime = True
        self._announce(token_origin)

    def _plan_processors(self) -> Mapping[str, int]:
        """The processor roles to run, each with its metrics port."""
        s = self.settings
        partitions = source_partitions(s.topic_partitions)
        count = processor_count(s.processors, usable_cpus(), partitions)
        if count.idle:
            log.warning(
                "%d processors for %d partitions: %d of them will be given none and idle",
                count.count, partitions, count.idle,
            )  # fmt: skip
        self._count_why = count.why
        names = processor_names(count.count)
        self._metrics_ports = metrics_ports(names, s.processor_metrics_port, s.api_port, free_port)
        return self._metrics_ports

    def _syslog_listens(self) -> list[str]:
        """Where `ioc syslog` will listen (`udp://host:port`…), after checking that it can:
        a taken port stops `ioc up` at once with what to set. None: no syslog role."""
        s = self.settings
        if not self.syslog:
            return []
        where = []
        for kind, port, setting in (
            (socket.SOCK_DGRAM, s.syslog_udp_port, "IOC_SYSLOG_UDP_PORT"),
            (socket.SOCK_STREAM, s.syslog_tcp_port, "IOC_SYSLOG_TCP_PORT"),
        ):
            if not port:
                continue
            scheme = "udp" if kind == socket.SOCK_DGRAM else "tcp"
            if not can_bind(s.syslog_host, port, kind):
                raise RuntimeError(
                    f"syslog port {port}/{scheme} on {s.syslog_host} is taken; stop what uses "
                    f"it, set {setting} (0 = none), or pass --no-syslog"
                )
            host = f"[{s.syslog_host}]" if ":" in s.syslog_host else s.syslog_host
            where.append(f"{scheme}://{host}:{port}")
        self._syslog_where = where
        return where

    async def _prepare(self, s: Settings) -> None:
        await ensure_database(s.database_url)
        # A state a migration rebuilds counts working time in the configured calendar.
        applied = await migrate(s.database_url, clock_for(s, working_calendar(s)))
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        created = await ensure_topics(s)
        if created:
            log.info("created topics: %s", ", ".join(created))

    def _add(
        self, name: str, args: Callable[[], list[str]], env: Mapping[str, str] | None = None
    ) -> None:
        child = Child(name, args, RestartPolicy(self.clock), args()[0], env or {})
        self.children[name] = child
        self._launch(child)
        log.info("started ioc %s (pid %d)", name, child.process.pid if child.process else 0)

    def _launch(self, child: Child) -> None:
        child.process = subprocess.Popen(
            [sys.executable, "-m", "ioc", *child.args()],
            env={**self._env, **child.env},
            preexec_fn=kill_with_parent(),
            # Own session: a Ctrl-C in the terminal reaches only `ioc up`, which then
            # stops the roles in order, before the broker and the database.
            start_new_session=True,
        )
        child.state = "running"
        child.policy.started()
        self._write_roles()

    def _wait_ready(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline and not self._stop_requested:
            self._tend()
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

    def _announce(self, token_origin: TokenOrigin) -> None:
        s = self.settings
        url = api_url(s)
        token_note = {
            "set": "  (from IOC_INGEST_TOKEN)",
            "reused": f"  (reused from {s.data_dir / 'ingest-token'}; "
            "set IOC_INGEST_TOKEN to choose)",
            "generated": f"  (generated now, kept in {s.data_dir / 'ingest-token'}; "
            "set IOC_INGEST_TOKEN to choose)",
        }[token_origin]
        lines = [
            "",
            "IOC is up.",
            f"  wall screen    {url}/",
            f"  API docs       {url}/docs",
            f"  live feed      {url.replace('http', 'ws', 1)}/ws/live",
            f"  metrics        {url}/metrics, {self._processor_metrics()}",
            f"  processors     {len(self._metrics_ports)} in consumer group "
            f"{s.processor_group}: {self._count_why}",
            f"  Kafka          {s.kafka_bootstrap}"
            + ("  (embedded, in memory)" if self.broker else ""),
            *self._syslog_line(),
            f"  PostgreSQL     {s.database_url}"
            + (f"  (embedded, data in {s.data_dir / 'postgres'})" if self.postgres else ""),
            f"  ingest token   {s.ingest_token}{token_note}",
            f"  runtime file   {s.runtime_file}",
            f"  role status    {roles_file(s.data_dir)}",
            "  processes      "
            + ", ".join(f"{c.name} (pid {c.process.pid})" for c in self._running() if c.process),
            "Press Ctrl-C to stop everything.",
            "",
        ]
        print("\n".join(lines), flush=True)

    def _syslog_line(self) -> list[str]:
        if "syslog" not in self.children:
            return []
        s = self.settings
        what = s.syslog_format or "CEF or JSON, detected"
        return [f"  syslog         {', '.join(self._syslog_where)}  ({s.syslog_source}: {what})"]

    def _processor_metrics(self) -> str:
        ports = self._metrics_ports
        if len(ports) == 1:
            return f"processor http://127.0.0.1:{next(iter(ports.values()))}/metrics"
        return "processors " + ", ".join(
            f"{name} http://127.0.0.1:{port}/metrics" for name, port in ports.items()
        )

    # -- keeping the roles running ----------------------------------------------------

    def _running(self) -> list[Child]:
        return [c for c in self.children.values() if c.process and c.state == "running"]

    def _watch(self) -> None:
        while not self._stop_requested:
            self._tend()
            time.sleep(TICK_S)

    def _tend(self) -> None:
        """One look at every role: note exits, restart those whose backoff is over."""
        for child in self.children.values():
            if self._stop_requested:
                return
            if child.state == "running" and child.process is not None:
                code = child.process.poll()
                if code is not None:
                    self._exited(child, code)
            elif child.state == "restarting" and self.clock() >= child.restart_at:
                child.restarts += 1
                self._launch(child)
                pid = child.process.pid if child.process else 0
                log.warning("restarted ioc %s: pid %d, restart %d", child.name, pid, child.restarts)

    def _exited(self, child: Child, code: int) -> None:
        pid = child.process.pid if child.process else 0
        child.last_exit_code = code
        child.last_exit_at = datetime.now(UTC)
        decision = child.policy.exited()
        if isinstance(decision, CrashLoop):
            child.state = "stopped"
            self._write_roles()
            raise CrashLooping(
                f"ioc {child.name} exited {decision.exits} times within "
                f"{decision.window_s:.0f} s, last with {describe_exit(code)}; see its output "
                f"above (lines with [{child.name}] or starting 'ioc {child.command}:')"
            )
        child.state = "restarting"
        child.restart_at = self.clock() + decision.delay_s
        self._write_roles()
        log.warning(
            "ioc %s (pid %d) exited with %s; restarting it in %g s (restart %d)",
            child.name, pid, describe_exit(code), decision.delay_s, child.restarts + 1,
        )  # fmt: skip

    def _write_roles(self) -> None:
        status = RolesStatus(
            updated_at=datetime.now(UTC),
            supervisor_pid=os.getpid(),
            roles={name: child.status() for name, child in self.children.items()},
        )
        write_roles(roles_file(self.settings.data_dir), status)
        self._wrote_roles = True

    # -- stopping ---------------------------------------------------------------------

    def _stop(self) -> None:
        self._stopping = True
        # Ingest first, so that nothing new is accepted while the processors drain.
        syslog_s = self.settings.syslog_drain_s + 5.0  # it delivers what it holds first
        for name, timeout in (("simulate", 10.0), ("syslog", syslog_s), ("serve", 15.0)):
            if name in self.children:
                self._stop_role(self.children[name], timeout)
        processors = [c for c in self.children.values() if is_processor_role(c.name)]
        if processors:
            self._stop_processors(processors)
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._wrote_runtime:
            self.settings.runtime_file.unlink(missing_ok=True)
        if self._wrote_roles:
            roles_file(self.settings.data_dir).unlink(missing_ok=True)
        if self.children or self.postgres or self.broker:
            print("IOC stopped.", flush=True)

    def _stopped(self, child: Child) -> None:
        child.state = "stopped"
        self._write_roles()

    def _stop_role(self, child: Child, timeout: float) -> None:
        process = child.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("ioc %s did not stop in %g s; killing it", child.name, timeout)
                process.kill()
                process.wait()
        self._stopped(child)

    def _stop_processors(self, children: list[Child]) -> None:
        """SIGTERM to every processor at once, then wait while each stores what the broker
        holds for it (bounded, the same bound for all), then kill those still running."""
        single = len(children) == 1

        def who(child: Child) -> str:
            return "the processor" if single else f"ioc {child.name}"

        running: list[Child] = []
        for child in children:
            process = child.process
            if child.state == "running" and process is not None and process.poll() is None:
                running.append(child)
                continue
            if self.broker is not None:
                log.warning(
                    "%s is not running, so events the embedded broker holds for it that were "
                    "not stored yet (if any) %s lost with it",
                    who(child), "are" if single else "may be",
                )  # fmt: skip
            self._stopped(child)
        if not running:
            return
        bound = self.settings.processor_drain_s + PROCESSOR_STOP_GRACE_S
        for child in running:
            assert child.process is not None
            child.process.terminate()
        log.info(
            "waiting for %s to store what the broker holds… (at most %.0f s)",
            "the processor" if single else f"the {len(running)} processors", bound,
        )  # fmt: skip
        started = time.monotonic()
        next_progress = started + PROGRESS_EVERY_S
        forced = False
        left, killed = running, []
        while left:
            now = time.monotonic()
            if self._force and not forced:
                # A second signal makes the processors stop after their current batch;
                # what they have not stored stays in the broker (lost if embedded).
                forced = True
                for child in left:
                    assert child.process is not None
                    child.process.terminate()
                bound = min(bound, now - started + PROCESSOR_STOP_GRACE_S)
            if now - started >= bound:
                for child in left:
                    assert child.process is not None
                    log.warning("%s did not stop in %.0f s; killing it", who(child), bound)
                    child.process.kill()
                    child.process.wait()
                    self._stopped(child)
                killed = left
                break
            if now >= next_progress:
                log.info(
                    "still waiting for %s to %s… (%.0f s of at most %.0f s)",
                    "the processor" if single else ", ".join(f"ioc {c.name}" for c in left),
                    "stop" if forced else "store what the broker holds", now - started, bound,
                )  # fmt: skip
                next_progress += PROGRESS_EVERY_S
            time.sleep(TICK_S)
            still: list[Child] = []
            for child in left:
                assert child.process is not None
                if child.process.poll() is None:
                    still.append(child)
                else:
                    self._stopped(child)
            left = still
        for child in running:
            assert child.process is not None
            code = child.process.returncode
            if child not in killed and code not in (0, -signal.SIGTERM):
                log.warning("%s exited with %s", who(child), describe_exit(code))
