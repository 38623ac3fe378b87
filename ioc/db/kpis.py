"""The KPI snapshot: what `GET /api/kpis`, the first `/ws/live` message and every delta show.

One function, so that the API and the processor can never disagree on a number.
It reads only tables the processor keeps (totals, current state), so it is cheap
enough to run after every micro-batch.

`as_of` is when the newest stored event was stored - the age of the data, not the
time of the query - so that a stalled pipeline shows an `as_of` that stops moving
(it is null while nothing has been stored).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ioc.config import SOURCES
from ioc.db import Conn
from ioc.events import SEVERITIES

_TOTALS = "SELECT source, events, last_stored_at FROM event_totals"
_OPEN_FILINGS = "SELECT count(*) FROM filing_state WHERE is_open"
_OPEN_ALERTS = "SELECT severity, count(*) AS n FROM alert_state WHERE is_open GROUP BY severity"
_RECENT = """
SELECT source, coalesce(sum(events), 0) AS n
FROM event_counts_minute
WHERE bucket >= date_trunc('minute', $1::timestamptz) - interval '14 minutes'
  AND bucket <= $1
GROUP BY source
"""


async def kpi_snapshot(conn: Conn, now: datetime | None = None) -> dict[str, Any]:
    """Current KPI values. `now` is injectable so tests can pin the clock."""
    now = now or datetime.now(UTC)
    rows = await conn.fetch(_TOTALS)
    totals = {row["source"]: row["events"] for row in rows}
    stored = [row["last_stored_at"] for row in rows if row["last_stored_at"] is not None]
    open_filings = await conn.fetchval(_OPEN_FILINGS)
    by_severity = {row["severity"]: row["n"] for row in await conn.fetch(_OPEN_ALERTS)}
    recent = {row["source"]: row["n"] for row in await conn.fetch(_RECENT, now)}
    return {
        "as_of": max(stored).isoformat() if stored else None,
        "events": {source: int(totals.get(source, 0)) for source in SOURCES},
        "events_last_15_min": {source: int(recent.get(source, 0)) for source in SOURCES},
        "filings": {"open": int(open_filings)},
        "security": {
            "open": int(sum(by_severity.values())),
            "open_by_severity": {sev: int(by_severity.get(sev, 0)) for sev in SEVERITIES},
        },
    }
