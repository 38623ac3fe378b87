"""Assembles the FastAPI application: routes, the ingest receiver, shared clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingestors import http as ingest_http
from ingestors.publisher import Publisher
from ioc.api.auth import load_tokens
from ioc.api.docs import install_docs
from ioc.api.health_monitor import HealthMonitor
from ioc.api.live import LiveHub
from ioc.api.problems import install_problem_handlers, problem
from ioc.api.routes import alerts, documents, filings, health, kpis, live, sources, wall
from ioc.clock import working_calendar
from ioc.config import SOURCES, Settings
from ioc.db import DATABASE_UNAVAILABLE
from ioc.db.kpis import kpi_snapshot
from ioc.kafka import make_producer
from ioc.reference_data import load_reference

log = logging.getLogger(__name__)


T = TypeVar("T")


async def _with_retry(start: Callable[[], Awaitable[T]], what: str, attempts: int = 30) -> T:
    """Start a client, waiting for its server for up to ~`attempts` seconds."""
    for attempt in range(attempts):
        try:
            return await start()
        except (KafkaError, OSError, asyncpg.PostgresError) as error:
            if attempt == attempts - 1:
                raise RuntimeError(f"{what} unreachable after {attempts}s: {error}") from error
            log.info("waiting for %s (%s)", what, error)
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


def create_app(settings: Settings, *, with_ingest: bool = True, with_api: bool = True) -> FastAPI:
    if with_ingest and not settings.ingest_token and settings.ingest_tokens_file is None:
        raise ValueError(
            "the ingest receiver needs IOC_INGEST_TOKEN or IOC_INGEST_TOKENS_FILE "
            "(see Settings.with_ingest_token)"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = make_producer(settings)
        await _with_retry(producer.start, f"Kafka at {settings.kafka_bootstrap}")
        pool = await _with_retry(
            lambda: asyncpg.create_pool(settings.database_url, min_size=1, max_size=8),
            "PostgreSQL",
        )
        app.state.producer = producer
        app.state.pool = pool
        app.state.publisher = Publisher(producer, settings)

        async def snapshot() -> dict[str, Any]:
            async with pool.acquire(timeout=5) as conn:
                return await kpi_snapshot(conn)

        app.state.hub = hub = LiveHub(settings, snapshot)
        app.state.monitor = monitor = HealthMonitor(
            settings, pool, producer, hub, app.state.reference, app.state.calendar
        )
        if with_api:
            hub.start()
            monitor.start()
        try:
            yield
        finally:
            await monitor.stop()
            await hub.stop()
            await producer.stop()
            await pool.close()

    app = FastAPI(
        title="IOC",
        summary="Real-time monitoring for a provincial Intelligent Operations Center",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)  # /docs and /redoc with local assets: they work on a closed network
    app.state.settings = settings
    app.state.reference = load_reference(settings.reference_file)
    app.state.communes = app.state.reference.communes_by_agency()  # for ingest's mappers
    app.state.calendar = working_calendar(settings)
    app.state.tokens = load_tokens(settings.ingest_token, settings.ingest_tokens_file, SOURCES)
    install_problem_handlers(app)
    app.include_router(health.router)
    if with_ingest:
        app.include_router(ingest_http.router)
    if with_api:
        app.include_router(kpis.router)
        app.include_router(live.router)
        app.include_router(wall.router)
        app.include_router(filings.router)
        app.include_router(documents.router)
        app.include_router(alerts.router)
        app.include_router(sources.router)

    async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
        return problem(
            503,
            f"the database is unreachable ({type(error).__name__}); retry shortly",
            type="database-unavailable",
            headers={"Retry-After": "5"},
            retry_after=5,
        )

    for error_type in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_type, database_unavailable)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
