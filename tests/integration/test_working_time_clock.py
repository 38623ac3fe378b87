"""Working time in a real processor, on the real broker and database, with a hand-set
clock on the shipped working calendar (what `ioc process` judges with when
IOC_WORKING_TIME_FILE is unset): "at risk" is due within one working day of working
time, so a filing due Monday 09:00 is at risk on Friday at 16:30 - on the wall calendar
it would not be - and the clock tick turns one due after the day off of Tuesday 24/11
at risk on Monday morning; a finished filing's resolution is counted in working time,
and the KPI reads it in working days."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from ioc.clock import Clock, WallCalendar, clock_for, working_calendar
from ioc.config import Settings
from ioc.db.kpis import Slice, catalogue
from ioc.domains import DOMAINS
from ioc.kafka import make_producer
from ioc.working_time import WorkingCalendar
from streams.processor import Processor
from tests.probes import event_totals
from tests.records import AGENCY
from tests.roles import async_wait_until

pytestmark = pytest.mark.integration

VN = timezone(timedelta(hours=7))


def vn(day: int, hour: float) -> datetime:
    """A moment of November 2026 in Vietnam: Friday 20, Monday 23, Tuesday 24 (a day
    off in the shipped calendar), Wednesday 25."""
    return datetime(2026, 11, day, tzinfo=VN) + timedelta(hours=hour)


FRIDAY_1630 = vn(20, 16.5)
MONDAY_1000 = vn(23, 10)


def _event(n: int, filing_id: str, type_: str, at: datetime, **payload: Any) -> dict[str, Any]:
    return {
        "event_id": f"wt-{n}", "type": type_, "occurred_at": at.isoformat(), "agency": AGENCY,
        "payload": {"filing_id": filing_id, "procedure_code": "1.004227.000.00.00.H42",
                    "channel": "online", **payload},
    }  # fmt: skip


def _received(n: int, filing_id: str, at: datetime, due: datetime) -> dict[str, Any]:
    return _event(n, filing_id, "received", at, due_at=due.isoformat())


RECORDS = [
    _received(1, "F-MON", vn(18, 9), due=vn(23, 9)),  # 2.5 working hours left on Friday
    _received(2, "F-WED", vn(18, 9), due=vn(25, 9)),  # 10.5 on Friday, 7 on Monday 10:00
    _received(3, "F-LATE", vn(16, 9), due=vn(20, 16)),  # overdue since Friday 16:00
    # Finished: Friday 13/11 16:30 to Monday 16/11 08:00 is 0.5 h + 1 h of working time.
    _received(4, "F-DONE", vn(13, 16.5), due=vn(18, 17)),
    _event(5, "F-DONE", "resolved", vn(16, 8)),
    # Thursday 10:00 to Friday 11:00 is 5 h + 4 h; the wait for the citizen, Thursday
    # 15:00 to Friday 09:00, 2 h + 2 h: 5 h (7 h on the wall: 25 h less the 18 h wait).
    _received(6, "F-WAIT", vn(19, 10), due=vn(24, 17)),
    _event(7, "F-WAIT", "supplement_requested", vn(19, 15)),
    _event(8, "F-WAIT", "supplemented", vn(20, 9)),
    _event(9, "F-WAIT", "resolved", vn(20, 11)),
]


async def _state(conn: asyncpg.Connection, filing_id: str) -> Any:
    row = await conn.fetchrow("SELECT * FROM filing_state WHERE filing_id = $1", filing_id)
    assert row is not None, filing_id
    return DOMAINS["filings"].state_from_row(row)


async def test_a_processor_judges_at_risk_and_counts_resolution_in_working_time(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"clock_tick_s": 0.2})
    calendar = working_calendar(settings)
    now = [FRIDAY_1630]
    processor = Processor(settings, clock=clock_for(settings, calendar, now=lambda: now[0]))
    running = asyncio.create_task(processor.run())
    producer = make_producer(settings)
    await producer.start()
    conn = await asyncpg.connect(settings.database_url)
    try:
        for record in RECORDS:
            await producer.send(
                settings.source_topics["filings"], json.dumps(record).encode(),
                key=record["payload"]["filing_id"].encode(),
            )  # fmt: skip
        await producer.flush()

        async def all_stored() -> bool:
            return (await event_totals(settings.database_url)).get("filings") == len(RECORDS)

        await async_wait_until(all_stored, 60, "every filing event stored")

        # Friday 16:30: due Monday 09:00 is within one working day, on the wall it is not.
        due_monday = await _state(conn, "F-MON")
        assert due_monday.at_risk and not due_monday.overdue
        assert not DOMAINS["filings"].timed(due_monday, Clock(FRIDAY_1630, WallCalendar())).at_risk
        assert not (await _state(conn, "F-WED")).at_risk, "10.5 working hours left"
        assert (await _state(conn, "F-LATE")).overdue

        # Resolution in working time, and the KPI in working days of 8 hours.
        assert (await _state(conn, "F-DONE")).resolution_working_s == 1.5 * 3600
        waited = await _state(conn, "F-WAIT")
        assert waited.resolution_working_s == 5 * 3600 and waited.resolution_s == 7 * 3600
        kpis = await catalogue(conn, Slice(date(2026, 11, 13), date(2026, 11, 20)))
        assert kpis["filings"]["mean_resolution_working_days"] == (1.5 + 5) / 2 / 8
        assert kpis["filings"]["mean_resolution_hours"] == (63.5 + 7) / 2  # wall time

        # Monday 10:00: Tuesday is a day off, so Wednesday 09:00 is 7 working hours away;
        # the tick turns it at risk, and the one due at 09:00 overdue.
        before = await _state(conn, "F-WED")
        now[0] = MONDAY_1000

        async def turned() -> bool:
            return bool(
                await conn.fetchval("SELECT at_risk FROM filing_state WHERE filing_id = 'F-WED'")
            )

        await async_wait_until(turned, 30, "the tick to turn F-WED at risk")
        assert not DOMAINS["filings"].timed(before, Clock(MONDAY_1000, WallCalendar())).at_risk
        no_days_off = WorkingCalendar.from_mapping({"holidays": None})
        assert not DOMAINS["filings"].timed(before, Clock(MONDAY_1000, no_days_off)).at_risk
        crossed = await conn.fetchval(
            "SELECT crossed_at FROM clock_transitions WHERE entity_id = 'F-WED' "
            "AND kind = 'at_risk'"
        )
        assert crossed == MONDAY_1000, "recorded at the processor's (hand-set) time"
        assert (await _state(conn, "F-MON")).overdue
        totals = dict(
            await conn.fetch(
                "SELECT measure, sum(value) FROM current_totals WHERE source = 'filings' "
                "GROUP BY measure"
            )
        )
        assert (totals["at_risk"], totals["overdue"], totals["open"]) == (1, 2, 3)
    finally:
        await conn.close()
        await producer.stop()
        processor.stop()
        await asyncio.wait_for(running, 60)
