"""Reading the KPIs: the live snapshot the wall screen shows, and the catalogue by slice.

`kpi_snapshot` is what `/ws/live` and the wall show: events stored, events in the last
15 minutes, and the measures of the present (open, overdue, at risk, unattended) from
`current_totals`, which the processor keeps per agency - so it reads a handful of
rows, whatever the size of the backlog or the history, and runs in the API, not in
the processor's write transaction.

`catalogue` sums a domain's rollup over a slice - days (Vietnam time), and optionally
one agency, procedure or commune - and hands the sums to the domain's KPI formulas
(`ioc/kpi/`); `series` does the same per day or month, and `event_series` counts
events per minute or hour from `event_counts_minute`.

`as_of` is when the newest stored event was stored - the age of the data, not the
time of the query - so that a stalled pipeline shows an `as_of` that stops moving
(it is null while nothing has been stored).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from ioc.config import SOURCES
from ioc.db import Conn
from ioc.domains import DOMAINS
from ioc.domains.security import SEVERITIES, VN_TZ
from ioc.kpi.catalogue import CATALOGUES

_TOTALS = "SELECT source, events, last_stored_at FROM event_totals"
_CURRENT = """
SELECT source, dim, measure, sum(value)::bigint AS value FROM current_totals
WHERE $1::text IS NULL OR agency = $1 GROUP BY source, dim, measure
"""
_RECENT = """
SELECT source, coalesce(sum(events), 0) AS n
FROM event_counts_minute
WHERE bucket >= date_trunc('minute', $1::timestamptz) - interval '14 minutes'
  AND bucket <= $1
GROUP BY source
"""


async def kpi_snapshot(
    conn: Conn, now: datetime | None = None, agency: str | None = None
) -> dict[str, Any]:
    """The live KPI values. `now` is injectable so tests can pin the clock."""
    now = now or datetime.now(UTC)
    rows = await conn.fetch(_TOTALS)
    totals = {row["source"]: row["events"] for row in rows}
    stored = [row["last_stored_at"] for row in rows if row["last_stored_at"] is not None]
    recent = {row["source"]: row["n"] for row in await conn.fetch(_RECENT, now)}
    current: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_severity: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in await conn.fetch(_CURRENT, agency):
        current[row["source"]][row["measure"]] += row["value"]
        if row["source"] == "security":
            by_severity[row["measure"]][row["dim"]] += row["value"]
    filings, documents, security = current["filings"], current["documents"], current["security"]
    return {
        "as_of": max(stored).isoformat() if stored else None,
        "events": {source: int(totals.get(source, 0)) for source in SOURCES},
        "events_last_15_min": {source: int(recent.get(source, 0)) for source in SOURCES},
        "filings": {
            "open": filings["open"],
            "overdue": filings["overdue"],
            "at_risk": filings["at_risk"],
            "waiting_for_citizen": filings["waiting"],
        },
        "documents": {"open": documents["open"], "overdue": documents["overdue"]},
        "security": {
            "open": security["open"],
            "unattended": security["unattended"],
            "open_by_severity": {sev: by_severity["open"][sev] for sev in SEVERITIES},
        },
    }


@dataclass(frozen=True)
class Slice:
    """Which part of the province and which days (Vietnam time, both ends included)."""

    start: date
    end: date
    agency: str | None = None
    procedure: str | None = None  # filings only
    commune: str | None = None  # filings only


def _where(source: str, s: Slice) -> tuple[str, list[Any]]:
    dims = DOMAINS[source].rollup.dims
    clauses: list[str] = ["day BETWEEN $1 AND $2"]
    params: list[Any] = [s.start, s.end]
    for column, value in (("agency", s.agency), ("procedure_code", s.procedure),
                          ("commune_code", s.commune)):  # fmt: skip
        if value is None:
            continue
        if column not in dims:
            clauses.append("false")  # documents have no procedure: nothing matches
            continue
        params.append(value)
        clauses.append(f"{column} = ${len(params)}")
    return " AND ".join(clauses), params


TOP_ASSETS = 10


async def catalogue(conn: Conn, s: Slice) -> dict[str, dict[str, Any]]:
    """Every domain's KPI catalogue for the slice, split by its rollup's `breakdowns`
    (`by_<dim>`, each value's catalogue, the most numerous first), and for security the
    assets hit most (`top_assets`)."""
    out = {}
    for source, domain in DOMAINS.items():
        rollup = domain.rollup
        where, params = _where(source, s)
        sums = ", ".join(f"coalesce(sum({m}), 0)::bigint AS {m}" for m in rollup.measures)
        row = await conn.fetchrow(f"SELECT {sums} FROM {rollup.table} WHERE {where}", *params)
        out[source] = CATALOGUES[source](dict(row) if row else {})
        for dim in rollup.breakdowns:
            rows = await conn.fetch(
                f"SELECT {dim} AS value, {sums} FROM {rollup.table} WHERE {where} "
                f"GROUP BY 1 ORDER BY {rollup.measures[0]} DESC, 1",
                *params,
            )
            out[source][f"by_{dim}"] = {
                row["value"]: CATALOGUES[source]({m: row[m] for m in rollup.measures})
                for row in rows
            }
    out["security"]["top_assets"] = await top_assets(conn, s)
    return out


async def top_assets(conn: Conn, s: Slice, limit: int = TOP_ASSETS) -> list[dict[str, Any]]:
    """The assets with the most alerts raised in the slice's days (Vietnam time), with
    how many of those are still open. Read from `alert_state` by `raised_at` (indexed):
    the asset is no rollup dimension, since there may be thousands."""
    if s.procedure is not None or s.commune is not None:
        return []  # alerts have neither
    first = datetime.combine(s.start, time(), VN_TZ).astimezone(UTC)
    last = datetime.combine(s.end + timedelta(days=1), time(), VN_TZ).astimezone(UTC)
    rows = await conn.fetch(
        "SELECT asset, count(*) AS alerts, count(*) FILTER (WHERE is_open) AS open "
        "FROM alert_state WHERE raised_at >= $1 AND raised_at < $2 AND asset IS NOT NULL "
        "AND ($3::text IS NULL OR agency = $3) "
        "GROUP BY asset ORDER BY alerts DESC, asset LIMIT $4",
        first, last, s.agency, limit,
    )  # fmt: skip
    return [{"asset": r["asset"], "alerts": r["alerts"], "open": r["open"]} for r in rows]


Period = Literal["day", "month"]


async def series(conn: Conn, s: Slice, period: Period) -> list[dict[str, Any]]:
    """Every domain's catalogue per day or month of the slice, oldest first."""
    periods: dict[date, dict[str, dict[str, Any]]] = defaultdict(dict)
    for source, domain in DOMAINS.items():
        rollup = domain.rollup
        where, params = _where(source, s)
        sums = ", ".join(f"coalesce(sum({m}), 0)::bigint AS {m}" for m in rollup.measures)
        bucket = "day" if period == "day" else "date_trunc('month', day)::date"
        rows = await conn.fetch(
            f"SELECT {bucket} AS period, {sums} FROM {rollup.table} WHERE {where} "
            f"GROUP BY 1 ORDER BY 1",
            *params,
        )
        for row in rows:
            measures = {m: row[m] for m in rollup.measures}
            periods[row["period"]][source] = CATALOGUES[source](measures)
    return [
        {"period": key.isoformat()[: 7 if period == "month" else 10], **values}
        for key, values in sorted(periods.items())
    ]


async def event_series(
    conn: Conn, start: datetime, end: datetime, period: Literal["minute", "hour"],
    agency: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Events per source per minute or hour (Vietnam is UTC+7: hours align), and the
    alerts newly raised in each (`new_alerts`, from `alert_state` by `raised_at`)."""
    rows = await conn.fetch(
        f"SELECT date_trunc('{period}', bucket) AS at, source, sum(events)::bigint AS n "
        "FROM event_counts_minute WHERE bucket >= $1 AND bucket < $2 "
        "AND ($3::text IS NULL OR agency = $3) GROUP BY 1, 2 ORDER BY 1",
        start, end, agency,
    )  # fmt: skip
    out: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SOURCES, 0))
    for row in rows:
        out[row["at"]][row["source"]] = row["n"]
    raised = await conn.fetch(
        f"SELECT date_trunc('{period}', raised_at) AS at, count(*) AS n FROM alert_state "
        "WHERE raised_at >= $1 AND raised_at < $2 AND ($3::text IS NULL OR agency = $3) "
        "GROUP BY 1",
        start, end, agency,
    )  # fmt: skip
    new = {row["at"]: row["n"] for row in raised}
    for at in new:  # a minute with a new alert is in the series, even before its events
        out.setdefault(at, dict.fromkeys(SOURCES, 0))
    return [
        {"at": at.isoformat(), "events": counts, "new_alerts": new.get(at, 0)}
        for at, counts in sorted(out.items())
    ]
