"""Waiting for a service at start: retried while it is unreachable, said once (then once
a minute), stopped on request, and anything else raised at once."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from ioc.waiting import StoppedWaiting, reach, started

FAST = (0.01,)


class Flaky:
    """A start that fails with `error` `failures` times, then answers."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "connected"


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(111, "Connection refused"), KafkaConnectionError("no broker"),
     asyncpg.CannotConnectNowError("the database system is starting up")],
)  # fmt: skip
async def test_an_unreachable_service_is_waited_for_and_the_wait_said_once(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    start = Flaky(5, error)
    with caplog.at_level(logging.INFO, logger="ioc.waiting"):
        result = await reach(start, "Kafka at 127.0.0.1:1", "IOC_KAFKA_BOOTSTRAP", delays=FAST)
    assert result == "connected" and start.calls == 6
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Kafka at 127.0.0.1:1 is unreachable (")
    assert "check IOC_KAFKA_BOOTSTRAP" in lines[0]
    assert lines[1].startswith("Kafka at 127.0.0.1:1 reached after")


async def test_a_long_wait_is_reported_again_while_it_lasts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = Flaky(4, ConnectionRefusedError(111, "Connection refused"))
    with caplog.at_level(logging.INFO, logger="ioc.waiting"):
        await reach(start, "the database at h:1/db", "IOC_DATABASE_URL", delays=FAST,
                    report_every_s=0)  # fmt: skip
    still = [r.getMessage() for r in caplog.records if "still waiting" in r.getMessage()]
    assert len(still) == 3 and still[0].startswith("still waiting for the database at h:1/db")


async def test_no_failure_no_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ioc.waiting"):
        assert await reach(Flaky(0, OSError()), "x", "IOC_X", delays=FAST) == "connected"
    assert caplog.records == []


@pytest.mark.parametrize(
    "error",
    [asyncpg.InvalidPasswordError("password authentication failed"),
     asyncpg.InvalidCatalogNameError('database "ioc" does not exist'), ValueError("a bug")],
)  # fmt: skip
async def test_anything_but_an_unreachable_service_is_raised_at_once(error: Exception) -> None:
    start = Flaky(1, error)
    with pytest.raises(type(error)):
        await reach(start, "x", "IOC_X", delays=FAST)
    assert start.calls == 1


async def test_asked_to_stop_while_waiting_it_stops_at_once() -> None:
    stopping = asyncio.Event()
    start = Flaky(10**9, ConnectionRefusedError(111, "Connection refused"))
    waiting = asyncio.create_task(reach(start, "x", "IOC_X", stopping=stopping, delays=(30,)))
    await asyncio.sleep(0.05)
    stopping.set()
    with pytest.raises(StoppedWaiting, match="stopped while waiting for x"):
        await asyncio.wait_for(waiting, 2)
    assert start.calls == 1


class Client:
    def __init__(self, fails: bool, made: list[Client]) -> None:
        self.fails = fails
        self.stopped = False
        made.append(self)

    async def start(self) -> None:
        if self.fails:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")

    async def stop(self) -> None:
        self.stopped = True


async def test_each_attempt_gets_a_fresh_client_and_a_failed_one_is_stopped() -> None:
    made: list[Client] = []
    outcomes = iter([True, True, False])
    client = await reach(started(lambda: Client(next(outcomes), made)), "x", "IOC_X", delays=FAST)
    assert len(made) == 3 and client is made[-1]
    assert [c.stopped for c in made] == [True, True, False]
