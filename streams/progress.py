"""What a processor says about its own progress, and how it reports it.

The processor's loop updates a `Progress` as batches commit, fail and retry; a
`ProgressReporter` task beside the loop turns it into Prometheus gauges and a row in
`processor_status` every few seconds. It runs apart from the loop on purpose: a loop
stuck retrying a batch keeps reporting, with a `last_commit_at` that stops moving and
a lag that grows, which is what the API's health check needs to call it stalled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from aiokafka.structs import TopicPartition

from ioc.config import Settings
from ioc.db import DATABASE_UNAVAILABLE, describe
from streams import metrics

log = logging.getLogger(__name__)

LagReader = Callable[[], Awaitable[Mapping[TopicPartition, int]]]

_UPSERT = """
INSERT INTO processor_status AS p (instance, host, pid, consumer_group, started_at,
    reported_at, last_commit_at, retrying_since, retry_reason, draining, lag, name)
VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6, $7, $8, $9, $10::jsonb, $11)
ON CONFLICT (instance) DO UPDATE SET
    reported_at = EXCLUDED.reported_at, last_commit_at = EXCLUDED.last_commit_at,
    retrying_since = EXCLUDED.retrying_since, retry_reason = EXCLUDED.retry_reason,
    draining = EXCLUDED.draining, lag = EXCLUDED.lag
"""
# Rows of processors that stopped reporting long ago say nothing about the present.
_FORGET_OLD = "DELETE FROM processor_status WHERE reported_at < now() - interval '1 hour'"
_FORGET_ME = "DELETE FROM processor_status WHERE instance = $1"
# Reporting is best effort: a database that is away shows as a stale report.
_REPORT_ERRORS: tuple[type[Exception], ...] = (*DATABASE_UNAVAILABLE, asyncpg.PostgresError)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Progress:
    """The processor's own account of itself; the loop writes it, the reporter reads it."""

    started_at: datetime = field(default_factory=_now)
    last_commit_at: datetime | None = None
    retrying_since: datetime | None = None
    retry_reason: str | None = None
    draining: bool = False
    lag: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> records

    def committed(self) -> None:
        self.last_commit_at = _now()
        self.retrying_since = None
        self.retry_reason = None
        metrics.LAST_COMMIT.set(self.last_commit_at.timestamp())
        metrics.RETRYING.set(0)

    def retrying(self, reason: str) -> None:
        if self.retrying_since is None:
            self.retrying_since = _now()
        self.retry_reason = reason
        metrics.RETRYING.set(1)


class ProgressReporter:
    """Publishes a `Progress` as gauges and as this instance's `processor_status` row,
    which carries the processor's name (IOC_PROCESSOR_NAME): a restart is a new instance,
    and the health check follows a processor across them by its name."""

    def __init__(self, settings: Settings, progress: Progress, read_lag: LagReader) -> None:
        self._settings = settings
        self._progress = progress
        self._read_lag = read_lag
        started = int(progress.started_at.timestamp())
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{started}"
        self._conn: asyncpg.Connection | None = None
        self._lag_labels: set[tuple[str, str]] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.report_once()
            except Exception:  # a report is best effort; the next one tries again
                log.exception("progress report failed")
            await asyncio.sleep(self._settings.processor_status_s)

    async def report_once(self) -> None:
        await self._refresh_lag()
        await self._write_row()

    async def _refresh_lag(self) -> None:
        try:
            lag = await self._read_lag()
        except Exception as error:  # the broker is away: keep the last known lag
            log.debug("could not read consumer lag: %s", error)
            return
        self._progress.lag = {f"{tp.topic}/{tp.partition}": n for tp, n in sorted(lag.items())}
        labels = {(tp.topic, str(tp.partition)) for tp in lag}
        for gone in self._lag_labels - labels:
            metrics.LAG.remove(*gone)
        for tp, n in lag.items():
            metrics.LAG.labels(tp.topic, str(tp.partition)).set(n)
        self._lag_labels = labels

    async def _write_row(self) -> None:
        p = self._progress
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self._settings.database_url)
                await self._conn.execute(_FORGET_OLD)
            await self._conn.execute(
                _UPSERT, self.instance, socket.gethostname(), os.getpid(),
                self._settings.processor_group, p.started_at, p.last_commit_at,
                p.retrying_since, p.retry_reason, p.draining, json.dumps(p.lag),
                self._settings.processor_name,
            )  # fmt: skip
        except _REPORT_ERRORS as error:
            log.debug("could not report progress: %s", describe(error))
            await self._drop()

    async def close(self) -> None:
        """Remove this instance's row (it stopped cleanly) and the connection."""
        if self._conn is not None and not self._conn.is_closed():
            try:
                await self._conn.execute(_FORGET_ME, self.instance)
            except _REPORT_ERRORS:
                pass
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
