"""Keeps the API's view of IOC's health current, and tells the wall screens when it changes.

Every `interval` seconds (and on demand, for /readyz and /api/health) it gathers the
facts - the database and the broker answer, migrations, the processors' reports in
`processor_status`, the roles of `ioc up` in `<data-dir>/roles.json` - and lets
`ioc.health.assess` judge them. When the verdict changes, a `health` message goes to
every /ws/live client, so the wall screen shows "degraded" or "data not updating"
within seconds, even while no event arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from ioc.api.live import LiveHub
from ioc.clock import Calendar, WallCalendar
from ioc.config import Settings
from ioc.db import describe
from ioc.db.migrate import pending_migrations
from ioc.health import Facts, Health, ProcessorReport, RoleReport, Thresholds, assess
from ioc.reference_data import Reference, silent
from ioc.roles_status import read_roles, roles_file

log = logging.getLogger(__name__)

_PROCESSORS = """
SELECT instance, name, pid, started_at, reported_at, last_commit_at, retrying_since,
       retry_reason, draining, lag
FROM processor_status WHERE consumer_group = $1
"""
_LAST_STORED = "SELECT source, last_stored_at FROM event_totals"


class HealthMonitor:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        hub: LiveHub,
        reference: Reference | None = None,
        calendar: Calendar | None = None,
        interval: float = 2.0,
    ) -> None:
        self._reference = reference
        self._calendar = calendar or WallCalendar()
        self._settings = settings
        self._pool = pool
        self._producer = producer
        self._hub = hub
        self._interval = interval
        self._limits = Thresholds(
            stall_s=settings.health_stall_s,
            max_lag=settings.health_max_lag,
            report_s=settings.processor_status_s,
        )
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.latest: Health | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="health-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def message(self) -> dict[str, Any] | None:
        """The `health` message of the live feed, for the latest verdict."""
        return {"type": "health", "health": self.latest.as_json()} if self.latest else None

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # never let the monitor die; the next round tries again
                log.exception("health check failed")
            await asyncio.sleep(self._interval)

    async def check(self) -> Health:
        """Gather the facts now, judge them, announce a changed verdict; returns it."""
        async with self._lock:
            health = assess(await self._facts(), self._limits)
            if not health.same_verdict(self.latest):
                level = logging.INFO if health.status == "ok" else logging.WARNING
                log.log(
                    level,
                    "health: %s%s",
                    health.status,
                    "".join(f"; {r.en}" for r in health.reasons),
                )
                self._hub.publish({"type": "health", "health": health.as_json()})
            self.latest = health
            return health

    async def _facts(self) -> Facts:
        database_error, pending, processors, newest, last_by_source = await self._database_facts()
        now = datetime.now(UTC)
        return Facts(
            now=now,
            silent_sources=self._silent(last_by_source, now),
            database_error=database_error,
            broker_error=await self._broker_error(),
            pending_migrations=pending,
            processors=processors,
            roles=self._roles(),
            newest_data_at=newest,
        )

    def _silent(self, last_by_source: dict[str, datetime], now: datetime) -> list[str]:
        if self._reference is None:
            return []
        return sorted(
            source
            for source, last in last_by_source.items()
            if silent(last, now, self._reference.cadence_for(source), self._calendar)
        )

    async def _database_facts(
        self,
    ) -> tuple[str | None, list[str], list[ProcessorReport], datetime | None, dict[str, datetime]]:
        try:
            async with self._pool.acquire(timeout=2) as conn:
                pending = await asyncio.wait_for(pending_migrations(conn), 2)
                if pending:
                    return None, pending, [], None, {}
                rows = await conn.fetch(_PROCESSORS, self._settings.processor_group)
                last_by_source = {
                    row["source"]: row["last_stored_at"]
                    for row in await conn.fetch(_LAST_STORED)
                    if row["last_stored_at"] is not None
                }
        except Exception as error:  # whatever it is, the database is not usable now
            return describe(error), [], [], None, {}
        newest = max(last_by_source.values(), default=None)
        processors = [
            ProcessorReport(
                instance=row["instance"],
                started_at=row["started_at"],
                reported_at=row["reported_at"],
                last_commit_at=row["last_commit_at"],
                retrying_since=row["retrying_since"],
                retry_reason=row["retry_reason"],
                draining=row["draining"],
                lag=_lag(row["lag"]),
                name=row["name"],
                pid=row["pid"],
            )
            for row in rows
        ]
        return None, [], processors, newest, last_by_source

    async def _broker_error(self) -> str | None:
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), 3)
        except Exception as error:  # whatever it is, the broker is not usable now
            return describe(error)
        return None

    def _roles(self) -> list[RoleReport]:
        status = read_roles(roles_file(self._settings.data_dir))
        if status is None or not status.supervisor_alive():
            return []
        return [
            RoleReport(
                name=name,
                state=role.state,
                restarts=role.restarts,
                last_exit_code=role.last_exit_code,
                last_exit_at=role.last_exit_at,
                pid=role.pid,
            )
            for name, role in status.roles.items()
        ]


def _lag(value: Any) -> dict[str, int]:
    """The jsonb `lag` column as asyncpg hands it over (text, without a codec)."""
    data = json.loads(value) if isinstance(value, str | bytes) else value
    return {str(k): int(v) for k, v in (data or {}).items()}
