"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ioc.api.deps import PoolDep
from ioc.db.migrate import pending_migrations

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, pool: PoolDep) -> JSONResponse:
    """200 only when the broker and the database answer and every migration is applied."""
    checks: dict[str, str] = {}
    try:
        async with pool.acquire(timeout=2) as conn:
            pending = await asyncio.wait_for(pending_migrations(conn), 2)
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if not pending else f"pending: {', '.join(pending)}; run `ioc migrate`"
        )
    except Exception as error:
        checks["database"] = f"unreachable: {type(error).__name__}: {error}"
        checks["migrations"] = "unknown"
    try:
        producer = request.app.state.producer
        await asyncio.wait_for(producer.client.fetch_all_metadata(), 3)
        checks["broker"] = "ok"
    except Exception as error:
        checks["broker"] = f"unreachable: {type(error).__name__}: {error}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
