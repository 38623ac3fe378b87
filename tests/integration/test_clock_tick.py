"""The clock tick on a real database, with a fake clock: it turns what came due even when
no event arrives, records each transition once - also when two processors tick at the
same moment - moves the rollups exactly, and does nothing on a second tick."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ioc.clock import Clock
from ioc.config import Settings
from ioc.db.state import refold_all, tick
from ioc.domains import DOMAINS
from ioc.events import Event, validate_event
from streams.batch import Incoming
from streams.sink import DatabaseSink
from tests.records import AGENCY

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 08:00 in Vietnam


def _record(source: str, event_id: str, type_: str, minutes: int, **payload: object) -> dict:
    return {
        "event_id": event_id, "type": type_, "agency": AGENCY,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(), "payload": payload,
    }  # fmt: skip


def _batch() -> list[Incoming]:
    due = lambda h: (T0 + timedelta(hours=h)).isoformat()  # noqa: E731
    records = [("filings", _record("filings", f"f{i}", "received", 0, filing_id=f"F-{i}",
                procedure_code="P", channel="online", due_at=due(10 + i)))
               for i in range(20)]  # fmt: skip
    records += [("security", _record("security", f"s{i}", "raised", i, alert_id=f"A-{i}",
                 severity="high", category="malware")) for i in range(5)]  # fmt: skip
    records += [("documents", _record("documents", "d1", "received", 0, document_id="D-1",
                 direction="incoming", due_at=due(3)))]  # fmt: skip
    out = []
    for offset, (source, record) in enumerate(records):
        event = validate_event(source, record)
        assert isinstance(event, Event), event
        out.append(Incoming(event, T0, f"t.{source}", 0, offset))
    return out


def _at(hours: float) -> Clock:
    return Clock(now=T0 + timedelta(hours=hours))


async def _tick_all(url: str, clock: Clock) -> Counter[str]:
    conn = await asyncpg.connect(url)
    try:
        total: Counter[str] = Counter()
        async with conn.transaction():
            for source in DOMAINS:
                total += await tick(conn, source, clock)
        return total
    finally:
        await conn.close()


async def test_ticks_turn_what_came_due_once_and_keep_the_rollups_exact(
    settings: Settings,
) -> None:
    url = settings.database_url
    conn = await asyncpg.connect(url)
    try:
        await DatabaseSink(conn, clock=lambda: _at(0)).write(_batch())
        assert await conn.fetchval("SELECT count(*) FROM clock_transitions") == 0

        # 4 h later: the document is overdue, every alert unattended, the filings due by
        # 12 h (within the 8 h at-risk window) at risk.
        first = await _tick_all(url, _at(4))
        assert first == Counter({"unattended": 5, "at_risk": 3, "overdue": 1})
        assert await _tick_all(url, _at(4)) == Counter(), "a second tick changes nothing"

        # 15 h: filings due before 15 h (0-4) overdue, those due by 23 h (5-13) at risk.
        # Two processors ticking at the same moment record each transition once.
        results = await asyncio.gather(_tick_all(url, _at(15)), _tick_all(url, _at(15)))
        both = results[0] + results[1]
        assert both == Counter({"overdue": 5, "at_risk": 9}), both
        kinds = dict(await conn.fetch("SELECT kind, count(*) FROM clock_transitions GROUP BY kind"))
        assert kinds == {"unattended": 5, "at_risk": 12, "overdue": 6}
        overdue = await conn.fetchval("SELECT count(*) FROM filing_state WHERE overdue")
        assert overdue == 5 and await conn.fetchval("SELECT sum(overdue) FROM filing_day") == 5
        at_risk = await conn.fetchval("SELECT sum(at_risk) FROM filing_day")
        assert at_risk == 9, "the filings now overdue left the at-risk count"

        # The rollups equal a recount made at the same moment.
        kept = await _rollups(conn)
        async with conn.transaction():
            for domain in DOMAINS.values():
                await conn.execute(f"TRUNCATE {domain.state_table}, {domain.rollup.table}")
                await refold_all(conn, domain.source, _at(15))
        assert await _rollups(conn) == kept
    finally:
        await conn.close()


async def _rollups(conn: asyncpg.Connection) -> dict[str, list]:
    out = {}
    for domain in DOMAINS.values():
        rollup = domain.rollup
        nonzero = " OR ".join(f"{m} <> 0" for m in rollup.measures)
        order = ", ".join(("day", *rollup.dims))
        rows = await conn.fetch(f"SELECT * FROM {rollup.table} WHERE {nonzero} ORDER BY {order}")
        out[rollup.table] = [tuple(row.values()) for row in rows]
    return out
