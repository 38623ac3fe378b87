"""Each security format over HTTP, against the real app and the real embedded broker: what
the response says, and exactly what lands on the source and dead-letter topics."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.kafka import make_consumer
from tests.records import alert
from tests.unit.formats.samples import (
    CEF_SPEC,
    CEF_SYSLOG,
    ECS_ALERT,
    ECS_EVENT,
    SURICATA_ALERT,
    SURICATA_DNS,
    WAZUH_ALERT,
)

pytestmark = pytest.mark.integration
AGENCY = "000.00.31.H42"


@asynccontextmanager
async def _ingest_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, with_api=False)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app),
            base_url="http://ioc.test",
            timeout=60,
            headers={"Authorization": f"Bearer {settings.ingest_token}"},
        ) as http,
    ):
        yield http


async def _exactly(settings: Settings, topic: str, expected: int) -> list[Any]:
    """Every record on `topic`: waits for `expected`, then makes sure no more come."""
    consumer = make_consumer(settings, topic, group_id=None)
    await consumer.start()
    got: list[Any] = []
    try:
        quiet, deadline = 0, time.monotonic() + 60
        while quiet < 4 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(m for messages in batch.values() for m in messages)
            quiet = quiet + 1 if len(got) >= expected and not batch else 0
    finally:
        await consumer.stop()
    assert len(got) == expected, [m.value for m in got]
    return got


def _ndjson(*records: Any) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_security_format_lands_on_the_right_topic(settings: Settings) -> None:
    bad_suricata = {**SURICATA_ALERT, "alert": {**SURICATA_ALERT["alert"], "severity": 0}}
    bad_wazuh = {**WAZUH_ALERT, "rule": {**WAZUH_ALERT["rule"], "level": 42}}
    naive_ecs = {**ECS_ALERT, "@timestamp": "2026-11-22T09:48:00"}
    sent_events: list[str] = []
    sent_refused: list[tuple[str, list[str]]] = []
    dns_before = _metric(
        "ioc_ingest_skipped_records_total", source="security", format="suricata", kind="dns"
    )
    async with _ingest_app(settings) as http:

        async def post(body: bytes, status: int, **params: str) -> dict[str, Any]:
            response = await http.post(
                "/ingest/security", content=body, params={"agency": AGENCY, **params}
            )
            assert response.status_code == status, response.text
            answer = response.json()
            assert answer["accepted"] + answer["rejected"] == len(answer["results"])
            for result, line in zip(answer["results"], body.split(b"\n"), strict=False):
                if result["status"] == "accepted":
                    sent_events.extend(result["event_ids"])
                else:
                    sent_refused.append((line.decode(), result["errors"]))
            return answer

        # Suricata EVE, detected: an alert, a dns record (counted, not alerted), a bad alert.
        answer = await post(_ndjson(SURICATA_ALERT, SURICATA_DNS, bad_suricata), 207)
        assert (answer["format"], answer["detected"], answer["events"]) == ("suricata", True, 1)
        assert answer["results"][1]["event_ids"] == []
        assert answer["results"][2]["errors"] == [
            "alert.severity: must be a whole number 1-255, got 0"
        ]
        # The same lines again: the same event ids (the processor stores them once).
        again = await post(_ndjson(SURICATA_ALERT), 200)
        assert again["results"][0]["event_ids"] == answer["results"][0]["event_ids"]

        # Wazuh, named.
        answer = await post(_ndjson(WAZUH_ALERT, bad_wazuh), 207, format="wazuh")
        assert (answer["format"], answer["detected"]) == ("wazuh", False)
        assert answer["results"][1]["errors"] == ["rule.level: must be a whole number 0-16, got 42"]

        # CEF lines behind syslog headers, recognised by their framing; one line is not CEF.
        answer = await post(_ndjson(CEF_SYSLOG, CEF_SPEC, "<134>Nov 22 09:00:00 fw hello"), 207)
        assert (answer["format"], answer["detected"]) == ("cef", True)
        assert [r["status"] for r in answer["results"]] == ["accepted", "accepted", "rejected"]

        # ECS: an alert with a date in Vietnam time (a warning) and an event (no alert).
        answer = await post(_ndjson(naive_ecs, ECS_EVENT), 200)
        assert answer["format"] == "ecs" and answer["warnings"] == 1
        assert answer["results"][0]["warnings"] == [
            "@timestamp: has no time zone; taken as Asia/Ho_Chi_Minh (UTC+07:00)"
        ]

        # Mixed in one body: each record detected on its own.
        answer = await post(_ndjson(alert("canon-1", "A-9"), WAZUH_ALERT), 200)
        assert answer["format"] == "mixed"
        assert answer["formats"] == {"canonical": 1, "wazuh": 1}

        # A format of another source is refused before anything is read or queued.
        response = await http.post("/ingest/filings?format=suricata", content=b"{}")
        assert response.status_code == 400
        assert response.json()["type"] == "urn:ioc:problem:unknown-format"

    events = await _exactly(settings, settings.source_topics["security"], len(sent_events))
    assert sorted(json.loads(m.value)["event_id"] for m in events) == sorted(sent_events)
    for message in events:  # keyed by the alert, so one alert's events stay in order
        assert message.key.decode() == json.loads(message.value)["payload"]["alert_id"]
    stored = [json.loads(m.value) for m in events]
    suricata = [e for e in stored if e["event_id"].startswith("suricata-")]
    assert len(suricata) == 2 and len({e["event_id"] for e in suricata}) == 1
    assert {e["payload"]["severity"] for e in suricata} == {"high"}

    letters = await _exactly(settings, settings.deadletter_topic, len(sent_refused))
    got = sorted((json.loads(m.value)["raw"], json.loads(m.value)["errors"]) for m in letters)
    assert got == sorted(sent_refused)
    assert {json.loads(m.value)["reason"] for m in letters} == {"invalid_record"}
    assert (
        _metric(
            "ioc_ingest_skipped_records_total", source="security", format="suricata", kind="dns"
        )
        == dns_before + 1
    )
