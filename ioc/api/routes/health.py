"""Liveness, readiness and the health of the whole pipeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ioc.api.deps import MonitorDep

router = APIRouter(tags=["health"])

_CHECKS = {
    "database": "database_down",
    "broker": "broker_down",
    "migrations": "migrations_pending",
}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(monitor: MonitorDep) -> JSONResponse:
    """Can this process serve? 200 when the broker and the database answer and every
    migration is applied; 503 otherwise.

    A degraded pipeline (a processor stalled, retrying, lagging or absent) does not
    make this process unready - taking ingest out of a load balancer because the
    processor is behind would only push the problem onto the source systems - but
    `status` says `degraded` and `reasons` say why.
    """
    health = await monitor.check()
    by_code = {reason.code: reason for reason in health.reasons}
    checks: dict[str, str] = {}
    for name, code in _CHECKS.items():
        reason = by_code.get(code)
        if reason is None:
            checks[name] = "ok"
        else:
            checks[name] = reason.en if name == "migrations" else f"unreachable: {reason.en}"
    if "database_down" in by_code:
        checks["migrations"] = "unknown"
    ready = health.status != "down"
    body: dict[str, Any] = {
        "ready": ready,
        "status": health.status,
        "checks": checks,
        "reasons": [reason.en for reason in health.reasons],
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/api/health")
async def health(monitor: MonitorDep) -> JSONResponse:
    """The health of the whole pipeline: `ok`, `degraded` or `down`, with reasons (in
    Vietnamese and English), whether the figures on screen are stale, the newest stored
    data, the consumer lag per partition and each processor's last report.
    200 when `ok`, 503 otherwise, so that a probe can alert on it."""
    verdict = await monitor.check()
    return JSONResponse(verdict.as_json(), status_code=200 if verdict.status == "ok" else 503)
