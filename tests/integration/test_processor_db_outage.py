"""The database goes away under load and comes back: the processor retries the same batch,
never moves past it, and ends with exact counts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ioc.config import Settings
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.embedded.postgres import EmbeddedPostgres
from ioc.kafka import ensure_topics
from tests.probes import event_totals
from tests.records import document, filing
from tests.roles import async_wait_until, start_api, start_role, wait_until

pytestmark = pytest.mark.integration


async def test_processor_survives_a_database_outage(stack: tuple[str, str], tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg")
    url = with_database(postgres.start(), "outage")
    settings = Settings(
        kafka_bootstrap=stack[0], database_url=url, topic_prefix="outage",
        processor_group="outage-processor", ingest_token="t", data_dir=tmp_path / "data",
    )  # fmt: skip
    await ensure_database(url)
    await migrate(url)
    await ensure_topics(settings)
    api, settings = start_api(settings, tmp_path)
    processor = start_role(settings, "process", tmp_path)
    headers = {"Authorization": "Bearer t"}
    try:
        async with httpx.AsyncClient(base_url=settings.api_url, headers=headers) as http:
            response = await http.post(
                "/ingest/filings", json=[filing(f"f{i}", f"F-{i}") for i in range(200)]
            )
            assert response.status_code == 200

            async def first_part() -> bool:
                return (await event_totals(url))["filings"] == 200

            await async_wait_until(first_part, 60, "the first 200 stored", processor)

            postgres.stop()
            # Ingest does not need the database: the broker keeps what arrives meanwhile.
            response = await http.post(
                "/ingest/documents", json=[document(f"d{i}", f"D-{i}") for i in range(300)]
            )
            assert response.status_code == 200
            wait_until(
                lambda: "retrying the same batch" in processor.log(), 60, "a retry", processor
            )

            postgres.start()

            async def exact() -> bool:
                totals = await event_totals(url)
                assert totals["documents"] <= 300 and totals["filings"] == 200, totals
                return totals["documents"] == 300

            await async_wait_until(exact, 90, "the rest stored after the outage", processor)
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
    finally:
        processor.stop()
        api.stop()
        postgres.stop()
