"""Per-source-system tokens at the ingest door, against the real app and broker: 401
without a known token, 403 for another system's source, nothing queued either way, and
no token in any log line."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from ioc.api.app import create_app
from ioc.config import Settings
from tests.probes import read_topic
from tests.records import alert, filing

pytestmark = pytest.mark.integration

ONE_STOP = "one-stop-shop-token-0123456789"
SOC = "soc-token-abcdefghijklmnop"


@pytest.fixture
async def api(settings: Settings, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        f"tokens:\n  - {{name: motcua, token: {ONE_STOP}, sources: [filings]}}\n"
        f"  - {{name: soc, token: {SOC}, sources: [security]}}\n",
        encoding="utf-8",
    )
    scoped = settings.model_copy(update={"ingest_tokens_file": tokens})
    app = create_app(scoped, with_api=False)
    async with (
        LifespanManager(app, startup_timeout=60) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://ioc.test", timeout=60
        ) as client,
    ):
        yield client


async def _post(
    api: httpx.AsyncClient, source: str, token: str | None, record: dict
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await api.post(f"/ingest/{source}", headers=headers, content=json.dumps([record]))


async def test_each_system_posts_only_where_its_token_allows(
    api: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = [
        ("filings", None, 401),
        ("filings", "not-a-token", 401),
        ("filings", SOC, 403),  # the SOC's token, for filings
        ("security", ONE_STOP, 403),
        ("documents", ONE_STOP, 403),
    ]
    for source, token, status in refused:
        response = await _post(api, source, token, filing("x", "F-X"))
        assert response.status_code == status, (source, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == f"urn:ioc:problem:{'unauthorized' if status == 401 else 'forbidden'}"
        if status == 403:
            assert "may post to" in body["detail"] and source in body["detail"]
    accepted = await _post(api, "filings", ONE_STOP, filing("f1", "F-1"))
    assert accepted.status_code == 200, accepted.text
    everything = await _post(api, "security", settings.ingest_token, alert("s1", "A-1"))
    assert everything.status_code == 200, everything.text
    # Nothing refused was queued: each topic holds exactly the accepted record.
    filings = await read_topic(settings, settings.source_topics["filings"], 1)
    security = await read_topic(settings, settings.source_topics["security"], 1)
    assert [json.loads(r.value)["event_id"] for r in filings] == ["f1"]
    assert [json.loads(r.value)["event_id"] for r in security] == ["s1"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (ONE_STOP, SOC, settings.ingest_token):
        assert secret not in logged
