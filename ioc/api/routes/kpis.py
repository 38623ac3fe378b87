"""KPI values as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ioc.api.deps import PoolDep
from ioc.db.kpis import kpi_snapshot

router = APIRouter(prefix="/api", tags=["kpis"])


@router.get("/kpis")
async def kpis(pool: PoolDep) -> dict[str, Any]:
    """Current KPIs; `events` counts distinct events stored per source."""
    async with pool.acquire() as conn:
        return await kpi_snapshot(conn)
