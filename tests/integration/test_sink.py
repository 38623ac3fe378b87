"""The database sink against a real PostgreSQL: idempotent, new rows only, state never
rolled back by a late or repeated event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from ioc.config import Settings
from ioc.db.kpis import kpi_snapshot
from ioc.events import Event, validate_event
from streams.batch import Incoming
from streams.sink import DatabaseSink
from tests.records import alert, document, filing

pytestmark = pytest.mark.integration


def _batch(*pairs: tuple[str, dict]) -> list[Incoming]:
    out = []
    for offset, (source, record) in enumerate(pairs):
        event = validate_event(source, record)
        assert isinstance(event, Event), event
        out.append(Incoming(event, datetime.now(UTC), f"t.{source}", 0, offset))
    return out


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    yield connection
    await connection.close()


async def test_writing_a_batch_twice_stores_and_counts_it_once(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    batch = _batch(
        ("filings", filing("f1", "F-1", "received", 1)),
        ("filings", filing("f2", "F-2", "received", 1)),
        ("documents", document("d1", "D-1")),
        ("security", alert("s1", "A-1", "critical")),
    )
    first = await sink.write(batch)
    assert first.delta.new_events == 4 and first.duplicates == 0
    again = await sink.write(batch)
    assert again.delta.new_events == 0 and again.duplicates == 4
    assert again.kpis["events"] == {"documents": 1, "filings": 2, "security": 1}
    per_minute = await conn.fetchval(
        "SELECT events FROM event_counts_minute WHERE source = 'filings' AND event_type = $1",
        "received",
    )
    assert per_minute == 2


async def test_a_late_event_never_rolls_state_back(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("filings", filing("f2", "F-1", "resolved", 40))))
    late = await sink.write(_batch(("filings", filing("f1", "F-1", "received", 0))))
    assert late.delta.new_events == 1  # the event itself is new and counted...
    status = await conn.fetchval("SELECT status FROM filing_state WHERE filing_id = 'F-1'")
    assert status == "resolved"  # ...but the filing stays resolved
    assert late.kpis["filings"]["open"] == 0


async def test_alert_state_follows_its_lifecycle(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    raised = await sink.write(_batch(("security", alert("s1", "A-1", "high"))))
    assert raised.kpis["security"]["open_by_severity"]["high"] == 1
    later = alert("s2", "A-1", "high", "resolved")
    later["occurred_at"] = "2026-11-22T10:45:00+07:00"
    resolved = await sink.write(_batch(("security", later)))
    assert resolved.kpis["security"]["open"] == 0


async def test_recent_counts_follow_the_clock(conn: asyncpg.Connection) -> None:
    sink = DatabaseSink(conn)
    await sink.write(_batch(("documents", document("d1", "D-1"))))  # at 02:30 UTC
    at = datetime(2026, 11, 22, 2, 40, tzinfo=UTC)
    assert (await kpi_snapshot(conn, now=at))["events_last_15_min"]["documents"] == 1
    later = datetime(2026, 11, 22, 2, 46, tzinfo=UTC)
    assert (await kpi_snapshot(conn, now=later))["events_last_15_min"]["documents"] == 0
    # An event stamped in the future (a source with a wrong clock) is not "recent".
    earlier = datetime(2026, 11, 22, 2, 20, tzinfo=UTC)
    assert (await kpi_snapshot(conn, now=earlier))["events_last_15_min"]["documents"] == 0
