"""`WS /ws/live`: a snapshot on connect, then a delta per committed batch, a `health`
message whenever the verdict of the health check changes, heartbeats between."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ioc.api.deps import HubDep, MonitorDep, PoolDep, SettingsDep
from ioc.db.kpis import kpi_snapshot

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])


@router.websocket("/ws/live")
async def live(
    websocket: WebSocket, hub: HubDep, pool: PoolDep, settings: SettingsDep, monitor: MonitorDep
) -> None:
    await websocket.accept()
    # Subscribe before reading the snapshot, so no delta falls between the two;
    # every delta carries full KPI values with `as_of`, so a client keeps the newest.
    subscriber = hub.subscribe()
    try:
        async with pool.acquire() as conn:
            snapshot = await kpi_snapshot(conn)
        health = monitor.latest or await monitor.check()
        await websocket.send_json(
            {"type": "snapshot", "kpis": snapshot, "health": health.as_json()}
        )
        heartbeat = settings.live_heartbeat_s
        while True:
            get = asyncio.ensure_future(subscriber.queue.get())
            overflow = asyncio.ensure_future(subscriber.overflowed.wait())
            done, pending = await asyncio.wait(
                {get, overflow}, timeout=heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if get in done:
                await websocket.send_json(get.result())
            elif overflow in done:
                await websocket.close(code=1013, reason="too slow; reconnect for a snapshot")
                return
            else:
                await websocket.send_json(
                    {"type": "heartbeat", "at": datetime.now(UTC).isoformat()}
                )
    except (WebSocketDisconnect, OSError):  # the client went away (uvicorn raises OSError)
        pass
    finally:
        hub.unsubscribe(subscriber)
