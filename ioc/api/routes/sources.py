"""How recently each source, and each agency within it, sent anything."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter

from ioc.api.deps import CalendarDep, MonitorDep, PoolDep, ReferenceDep, SettingsDep
from ioc.api.routes._listing import NowDep
from ioc.db import dead_letters
from ioc.db.queries import ACTIVITY_WINDOW, source_activity
from ioc.reference_data import silent

router = APIRouter(prefix="/api", tags=["sources"])

DEAD_LETTER_WINDOW = timedelta(hours=24)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _lag(lag: Mapping[str, int], topic: str) -> dict[str, int]:
    """The lag of `topic`'s partitions, by partition number, from "topic/partition" keys."""
    prefix = f"{topic}/"
    return {key[len(prefix) :]: n for key, n in sorted(lag.items()) if key.startswith(prefix)}


@router.get("/sources")
async def sources(
    pool: PoolDep,
    now: NowDep,
    reference: ReferenceDep,
    calendar: CalendarDep,
    monitor: MonitorDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Per source: `last_stored_at` (when IOC last stored one of its events),
    `last_event_minute` (the minute, UTC, of its newest event by `occurred_at`),
    `events_last_15_min`, its expected `cadence_hours` (working time, from the reference
    file; null: silence is no fault) and whether it is `silent` (quiet past its cadence,
    in working time), and `agencies`: per agency code its `name`, `last_event_minute`
    and `silent` - every agency of the reference file, heard from or not, and every
    other agency heard from. Minutes are looked for in the last `window_days` only, so
    this stays cheap however much history is kept; an agency quiet for longer shows
    null, and silent when it has a cadence. `lag`: per partition of the source's topic,
    the records the processors have not stored yet, as they last reported it at
    `lag_as_of` (null before the first health check; a partition no running processor
    owns is absent). `dead_lettered`: the records of this source refused in the last
    `dead_letter_window_hours`, by stage (ingest, processor) and reason, counted by the
    processor from the dead-letter topic (so they show once it has read them)."""
    async with pool.acquire() as conn:
        activity = await source_activity(conn, now)
        letters = await dead_letters.recent_by_source(conn, now, DEAD_LETTER_WINDOW)
    health = monitor.latest
    out = {}
    for source, a in activity.items():
        cadence = reference.cadence_for(source)
        heard: dict[str, datetime | None] = dict(a["agencies"])
        for agency in reference.agencies:
            if reference.cadence_for(source, agency.code) is not None:
                heard.setdefault(agency.code, None)
        agencies = {}
        for code, last in sorted(heard.items()):
            expected = reference.cadence_for(source, code)
            quiet = expected is not None and (last is None or silent(last, now, expected, calendar))
            agencies[code] = {
                "name": reference.agency_name(code),
                "last_event_minute": _iso(last),
                "silent": quiet,
            }
        out[source] = {
            "last_stored_at": _iso(a["last_stored_at"]),
            "last_event_minute": _iso(a["last_event_minute"]),
            "events_last_15_min": a["events_last_15_min"],
            "cadence_hours": cadence.total_seconds() / 3600 if cadence else None,
            "silent": silent(a["last_stored_at"], now, cadence, calendar),
            "agencies": agencies,
            "lag": _lag(health.lag, settings.source_topics[source]) if health else None,
            "dead_lettered": letters.get(source, {}),
            "lag_as_of": _iso(health.checked_at) if health else None,
        }
    return {
        "as_of": now.isoformat(),
        "window_days": ACTIVITY_WINDOW.days,
        "dead_letter_window_hours": DEAD_LETTER_WINDOW.total_seconds() / 3600,
        "sources": out,
        # Dead letters for a source IOC does not know (e.g. a mistyped /ingest/ path).
        "dead_lettered_elsewhere": {k: v for k, v in letters.items() if k not in out},
    }
