"""`GET /api/kpis`: the live values and the KPI catalogue for a slice of the province."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ioc.api.deps import PoolDep
from ioc.api.problems import Problem
from ioc.db.kpis import Slice, catalogue, event_series, kpi_snapshot, series
from ioc.working_time import VN_TZ

router = APIRouter(prefix="/api", tags=["kpis"])

# Longest period each granularity answers, so that no request reads without bound.
MAX_DAYS = {"minute": 1, "hour": 31, "day": 400, "month": 3660}

Code = Annotated[str | None, Query(max_length=200, pattern=r"^[^\s\x00]+$")]


@router.get("/kpis")
async def kpis(
    pool: PoolDep,
    agency: Code = None,
    procedure: Code = None,
    commune: Code = None,
    from_: Annotated[
        date | None, Query(alias="from", description="first day (Vietnam time), yyyy-mm-dd")
    ] = None,
    to: Annotated[date | None, Query(description="last day, included; default today")] = None,
    granularity: Literal["minute", "hour", "day", "month"] | None = None,
) -> dict[str, Any]:
    """Live values (`events` - distinct events stored per source -, events in the last
    15 minutes, open / overdue / at risk / unattended now, `as_of`) and the KPI
    catalogue of every domain for the slice: days `from`-`to` (default: this month to
    date, Vietnam time), optionally one `agency`, `procedure` or `commune`. With
    `granularity`, a `series` per day or month (the catalogue) or per minute or hour
    (events per source)."""
    today = datetime.now(VN_TZ).date()
    end = to or today
    start = from_ or end.replace(day=1)
    if start > end:
        raise Problem(400, f"'from' ({start}) is after 'to' ({end}); swap them",
                      type="invalid-period")  # fmt: skip
    if granularity and (end - start).days + 1 > MAX_DAYS[granularity]:
        raise Problem(
            400,
            f"a {granularity} series covers at most {MAX_DAYS[granularity]} days; "
            "narrow 'from'-'to' or choose a coarser granularity",
            type="period-too-long",
        )
    chosen = Slice(start, end, agency, procedure, commune)
    async with pool.acquire() as conn:
        body = await kpi_snapshot(conn, agency=agency)
        body["slice"] = {"from": start.isoformat(), "to": end.isoformat(), "agency": agency,
                         "procedure": procedure, "commune": commune}  # fmt: skip
        body["catalogue"] = await catalogue(conn, chosen)
        if granularity in ("day", "month"):
            body["series"] = await series(conn, chosen, granularity)
        elif granularity in ("minute", "hour"):
            first = datetime.combine(start, time(), VN_TZ).astimezone(UTC)
            last = datetime.combine(end + timedelta(days=1), time(), VN_TZ).astimezone(UTC)
            body["series"] = await event_series(conn, first, last, granularity, agency)
    return body
