"""How recently each source, and each agency within it, sent anything."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from ioc.api.deps import PoolDep
from ioc.api.routes._listing import NowDep
from ioc.db.queries import ACTIVITY_WINDOW, source_activity

router = APIRouter(prefix="/api", tags=["sources"])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/sources")
async def sources(pool: PoolDep, now: NowDep) -> dict[str, Any]:
    """Per source: `last_stored_at` (when IOC last stored one of its events),
    `last_event_minute` (the minute, UTC, of its newest event by `occurred_at`),
    `events_last_15_min`, and `agencies`: agency code -> the minute of its newest event.
    Minutes are looked for in the last `window_days` only, so that this stays cheap
    however much history is kept; older ones show as null or absent."""
    async with pool.acquire() as conn:
        activity = await source_activity(conn, now)
    return {
        "as_of": now.isoformat(),
        "window_days": ACTIVITY_WINDOW.days,
        "sources": {
            source: {
                "last_stored_at": _iso(a["last_stored_at"]),
                "last_event_minute": _iso(a["last_event_minute"]),
                "events_last_15_min": a["events_last_15_min"],
                "agencies": {agency: _iso(at) for agency, at in a["agencies"].items()},
            }
            for source, a in activity.items()
        },
    }
