"""Dependencies shared by the routes, as `Annotated` aliases.

They take an `HTTPConnection`, so HTTP routes and the websocket share them, and
are `async` on purpose: FastAPI runs a plain `def` dependency in a thread pool,
which costs more than these lookups themselves.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Header
from starlette.requests import HTTPConnection

from ioc.api.auth import Principal, Tokens
from ioc.api.health_monitor import HealthMonitor
from ioc.api.live import LiveHub
from ioc.api.problems import Problem
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


async def ingest_principal(
    connection: HTTPConnection,
    source: str,
    authorization: Annotated[str | None, Header()] = None,
) -> Principal:
    """The source system behind a request to `/ingest/{source}`: 401 without a known
    bearer token, 403 when its token may not post to `source` (see `ioc.api.auth`)."""
    tokens: Tokens = connection.app.state.tokens
    scheme, _, token = (authorization or "").partition(" ")
    principal = tokens.principal(token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise Problem(
            401,
            "missing or unknown bearer token: send 'Authorization: Bearer <token>' with the "
            "token of your source system (IOC_INGEST_TOKENS_FILE) or IOC_INGEST_TOKEN",
            type="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not principal.may_post_to(source):
        allowed = ", ".join(sorted(principal.sources))
        raise Problem(
            403,
            f"the token of {principal.name!r} may post to {allowed} only, not to {source!r}",
            type="forbidden",
        )
    return principal


SettingsDep = Annotated[Settings, Depends(_settings)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
HubDep = Annotated[LiveHub, Depends(_hub)]
MonitorDep = Annotated[HealthMonitor, Depends(_monitor)]
ReferenceDep = Annotated[Reference, Depends(_reference)]
CalendarDep = Annotated[Calendar, Depends(_calendar)]
IngestPrincipalDep = Annotated[Principal, Depends(ingest_principal)]
