"""Dependencies shared by the routes, as `Annotated` aliases.

They take an `HTTPConnection`, so HTTP routes and the websocket share them, and
are `async` on purpose: FastAPI runs a plain `def` dependency in a thread pool,
which costs more than these lookups themselves.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends
from starlette.requests import HTTPConnection

from ioc.api.health_monitor import HealthMonitor
from ioc.api.live import LiveHub
from ioc.clock import Calendar
from ioc.config import Settings
from ioc.reference_data import Reference


async def _settings(connection: HTTPConnection) -> Settings:
    return connection.app.state.settings


async def _pool(connection: HTTPConnection) -> asyncpg.Pool:
    return connection.app.state.pool


async def _hub(connection: HTTPConnection) -> LiveHub:
    return connection.app.state.hub


async def _reference(connection: HTTPConnection) -> Reference:
    return connection.app.state.reference


async def _calendar(connection: HTTPConnection) -> Calendar:
    return connection.app.state.calendar


async def _monitor(connection: HTTPConnection) -> HealthMonitor:
    return connection.app.state.monitor


SettingsDep = Annotated[Settings, Depends(_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
HubDep = Annotated[LiveHub, Depends(_hub)]
MonitorDep = Annotated[HealthMonitor, Depends(_monitor)]
ReferenceDep = Annotated[Reference, Depends(_reference)]
CalendarDep = Annotated[Calendar, Depends(_calendar)]
