"""Filings (hồ sơ TTHC) and their state, filtered and paginated."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ioc.api.deps import PoolDep
from ioc.api.routes._listing import (
    LIMIT_DEFAULT,
    CursorQuery,
    LimitQuery,
    NowDep,
    listing,
    pick_state,
)

router = APIRouter(prefix="/api", tags=["entities"])


@router.get("/filings")
async def filings(
    pool: PoolDep,
    now: NowDep,
    state: Annotated[
        str | None, Query(description="open, overdue, at_risk, waiting or flagged")
    ] = None,
    agency: Annotated[str | None, Query(description="agency code")] = None,
    procedure: Annotated[str | None, Query(description="procedure code (MaTTHC)")] = None,
    commune: Annotated[str | None, Query(description="commune code")] = None,
    limit: LimitQuery = LIMIT_DEFAULT,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    """Filings with their whole state, `{"items": [...], "next_cursor": ...}`.

    `state`: `open` (not finished); `overdue` (open and past its due date, the time spent
    waiting for the citizen not counted); `at_risk` (open, not overdue, due within
    IOC_AT_RISK_WORKING_HOURS of working time) - both as the processor's clock last
    turned them, so they agree with the KPIs; `waiting` (open and waiting for the
    citizen's supplement); `flagged` (its history has something odd, see `flags`); none: every
    filing. Sorted by due date (none last), then id; `flagged` and none by id.
    """
    f = pick_state("filings", state, "filing", now)
    return await listing(
        pool, "filings", f, limit=limit, cursor=cursor,
        equals=[("agency", agency), ("procedure_code", procedure), ("commune_code", commune)],
    )  # fmt: skip
