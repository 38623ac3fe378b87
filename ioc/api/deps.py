"""Dependencies shared by the routes, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from ioc.api.live import LiveHub
from ioc.config import Settings


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


def _hub(request: Request) -> LiveHub:
    return request.app.state.hub


SettingsDep = Annotated[Settings, Depends(_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
HubDep = Annotated[LiveHub, Depends(_hub)]
