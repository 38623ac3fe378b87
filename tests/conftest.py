"""Shared fixtures: one real embedded PostgreSQL and one real Tansu broker per test session.

Each test gets its own database and its own topic prefix on them, so tests stay
independent without paying for a new server each time. If the embedded runtime is
not installed the integration tests fail loudly (they never skip).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.broker import EmbeddedBroker
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.kafka import ensure_topics

_counter = itertools.count()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(kafka bootstrap, postgres server URL) of the session's embedded services."""
    root = tmp_path_factory.mktemp("stack")
    postgres = EmbeddedPostgres(root / "postgres")
    broker = EmbeddedBroker(root / "broker.log")
    try:
        server_url = postgres.start()
        bootstrap = broker.start()
        yield bootstrap, server_url
    finally:
        broker.stop()
        postgres.stop()


@pytest.fixture
async def settings(stack: tuple[str, str], tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for one test: its own database, topics, token and data dir, all prepared."""
    bootstrap, server_url = stack
    name = f"t{next(_counter)}_{uuid.uuid4().hex[:8]}"
    s = Settings(
        kafka_bootstrap=bootstrap,
        database_url=with_database(server_url, name),
        topic_prefix=name,
        processor_group=f"{name}-processor",
        ingest_token=f"token-{name}",
        data_dir=tmp_path / "data",
        live_heartbeat_s=2.0,
    )
    await ensure_database(s.database_url)
    await migrate(s.database_url)
    await ensure_topics(s)
    yield s


def role_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for an `ioc` subprocess that must use exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return {**env, **settings.environment(), **extra}
