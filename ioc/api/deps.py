"""Dependencies shared by the routes, as `Annotated` aliases.

They are `async` on purpose: FastAPI runs a plain `def` dependency in a thread pool,
which costs more than these lookups themselves.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from ioc.api.live import LiveHub
from ioc.config import Settings


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def _hub(request: Request) -> LiveHub:
    return request.app.state.hub


SettingsDep = Annotated[Settings, Depends(_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
HubDep = Annotated[LiveHub, Depends(_hub)]
