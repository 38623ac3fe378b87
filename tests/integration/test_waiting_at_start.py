"""A role started while its broker or database is down waits for it and says so, then
works once the service is up: it never exits into a restart loop that would make
`ioc up` give up."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestors.publisher import Publisher
from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.broker import EmbeddedBroker
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.embedded.process import free_port
from ioc.events import Event, validate_event
from ioc.kafka import ensure_topics, make_producer
from tests.probes import event_totals
from tests.records import filing
from tests.roles import Role, async_wait_until, start_role, wait_until

pytestmark = pytest.mark.integration


async def _publish_one(settings: Settings) -> None:
    event = validate_event("filings", filing("late-start", "F-LATE"))
    assert isinstance(event, Event)
    producer = make_producer(settings)
    await producer.start()
    try:
        await Publisher(producer, settings).publish([event])
    finally:
        await producer.stop()


async def _stored(settings: Settings, process: Role) -> None:
    async def one_filing() -> bool:
        return (await event_totals(settings.database_url)).get("filings") == 1

    await async_wait_until(one_filing, 90, "the filing stored", process)


async def test_a_processor_started_before_its_broker_waits_for_it_then_stores(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{port}"})
    broker = EmbeddedBroker(tmp_path / "broker.log", port=port)
    process = start_role(settings, "process", tmp_path)
    try:
        wait_until(lambda: "waiting for it" in process.log(), 60, "the waiting line", process)
        assert f"Kafka at 127.0.0.1:{port} is unreachable" in process.log()
        assert "check IOC_KAFKA_BOOTSTRAP" in process.log()
        broker.start()
        await ensure_topics(settings)
        await _publish_one(settings)
        await _stored(settings, process)
        assert f"Kafka at 127.0.0.1:{port} reached after" in process.log()
        assert process.process.poll() is None
    finally:
        process.stop()
        broker.stop()


async def test_a_processor_started_before_its_database_waits_for_it_then_stores(
    settings: Settings, tmp_path: Path
) -> None:
    postgres = EmbeddedPostgres(tmp_path / "postgres")
    database = with_database(postgres.start(), "late")
    await ensure_database(database)
    await migrate(database)
    postgres.stop()
    settings = settings.model_copy(update={"database_url": database})
    process = start_role(settings, "process", tmp_path)
    try:
        wait_until(lambda: "waiting for it" in process.log(), 60, "the waiting line", process)
        assert f"the database at 127.0.0.1:{postgres.port}/late is unreachable" in process.log()
        assert "check IOC_DATABASE_URL" in process.log()
        postgres.start()  # the same data directory and port
        await _publish_one(settings)
        await _stored(settings, process)
        assert process.process.poll() is None
    finally:
        process.stop()
        postgres.stop()
