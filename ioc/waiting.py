"""Starting a role whose broker or database is not up yet: wait for it, say so, and
never crash-loop.

A role that exits because a service is down at its start only moves the problem: under
`ioc up` it is restarted with a backoff and, after five exits in two minutes, `ioc up`
stops everything (see `ioc.restarts`), so a broker or database that takes a couple of
minutes to come back would take the whole system down with it. So the long-running
roles (`ioc process`, `ioc syslog`, `ioc poll`) wait instead, for as long as it takes:
one warning when the wait begins (what is unreachable, why, and which setting names
it), one a minute while it lasts, one line when the service answers. Only an
unreachable service is waited for; anything else (a refused password, a database that
does not exist, a bug) is raised at once, for the caller's one-line error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError

from ioc.db import DATABASE_UNAVAILABLE

log = logging.getLogger(__name__)

T = TypeVar("T")

# What "not up yet" looks like: a database that cannot be reached or is starting or
# shutting down, a bootstrap that found no broker.
UNREACHABLE: tuple[type[BaseException], ...] = (
    *DATABASE_UNAVAILABLE,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
)
DELAYS_S: tuple[float, ...] = (1, 2, 4, 8, 15, 30)  # then every 30 s
REPORT_EVERY_S = 60.0


class StoppedWaiting(Exception):
    """Told to stop while still waiting for a service."""


async def reach(
    start: Callable[[], Awaitable[T]],
    what: str,
    setting: str,
    *,
    stopping: asyncio.Event | None = None,
    delays: Sequence[float] = DELAYS_S,
    report_every_s: float = REPORT_EVERY_S,
) -> T:
    """`await start()` until the service it needs answers; returns what it returns.

    `what` names the service in the log ("Kafka at 127.0.0.1:9092"), `setting` the
    setting that points at it. Between attempts waits `delays` (the last one repeated);
    raises `StoppedWaiting` as soon as `stopping` is set. `start` must leave nothing
    open when it fails (see `started`).
    """
    began: float | None = None
    reported = 0.0
    attempt = 0
    while True:
        try:
            result = await start()
        except UNREACHABLE as error:
            now = time.monotonic()
            reason = str(error) or type(error).__name__
            if began is None:
                began = reported = now
                log.warning(
                    "%s is unreachable (%s); waiting for it - if it should be up, check %s",
                    what, reason, setting,
                )  # fmt: skip
            elif now - reported >= report_every_s:
                reported = now
                log.warning("still waiting for %s after %.0f s (%s)", what, now - began, reason)
            delay = delays[min(attempt, len(delays) - 1)]
            attempt += 1
            if stopping is None:
                await asyncio.sleep(delay)
                continue
            try:
                await asyncio.wait_for(stopping.wait(), delay)
            except TimeoutError:
                continue
            raise StoppedWaiting(f"stopped while waiting for {what}") from error
        if began is not None:
            log.info("%s reached after %.0f s", what, time.monotonic() - began)
        return result


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=Startable)


def started(make: Callable[[], C]) -> Callable[[], Awaitable[C]]:
    """A `start` for `reach` from a client factory (an aiokafka producer or consumer): a
    fresh client for each attempt, stopped when its start fails, so that a failed
    attempt leaves no task or socket behind."""

    async def start() -> C:
        client = make()
        try:
            await client.start()
        except BaseException:
            await client.stop()
            raise
        return client

    return start
