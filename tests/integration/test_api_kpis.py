"""`GET /api/kpis` over the real app (in process) and a real database: the catalogue of a
slice matches hand-counted filings, filters narrow it, series split it by day and by
hour, and bad parameters get a problem+json that says what to send."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.events import Event, validate_event
from streams.batch import Incoming
from streams.sink import DatabaseSink

pytestmark = pytest.mark.integration

H42, H43 = "000.00.31.H42", "000.00.31.H43"


def _event(
    source: str, event_id: str, entity_id: str, type_: str, at: str, agency: str = H42,
    **payload: object,
) -> tuple[str, dict]:  # fmt: skip
    key = {"filings": "filing_id", "security": "alert_id"}[source]
    return source, {
        "event_id": event_id,
        "type": type_,
        "occurred_at": at,
        "agency": agency,
        "payload": {key: entity_id, **payload},
    }


def _filing(
    event_id: str, filing_id: str, type_: str, at: str, agency: str = H42, **payload: object
) -> tuple[str, dict]:
    return _event("filings", event_id, filing_id, type_, at, agency, **payload)


RECORDS = [
    # Three filings received on 2 Nov in H42: one online resolved early, one in person
    # resolved late, one online still open; one received on 3 Nov in H43 online.
    _filing(
        "a1",
        "F-A",
        "received",
        "2026-11-02T08:00:00+07:00",
        procedure_code="P1",
        channel="online",
        due_at="2026-11-06T17:00:00+07:00",
        fee_vnd=50000,
        paid_online=True,
    ),
    _filing("a2", "F-A", "resolved", "2026-11-04T10:00:00+07:00"),
    _filing(
        "b1",
        "F-B",
        "received",
        "2026-11-02T09:00:00+07:00",
        procedure_code="P2",
        channel="in_person",
        due_at="2026-11-03T17:00:00+07:00",
        fee_vnd=20000,
    ),
    _filing("b2", "F-B", "result_returned", "2026-11-05T10:00:00+07:00"),
    _filing(
        "c1",
        "F-C",
        "received",
        "2026-11-02T10:00:00+07:00",
        procedure_code="P1",
        channel="online",
        due_at="2099-01-01T17:00:00+07:00",
    ),
    _filing(
        "d1",
        "F-D",
        "received",
        "2026-11-03T11:00:00+07:00",
        agency=H43,
        procedure_code="P1",
        channel="online",
    ),
]


def _alert(
    event_id: str, alert_id: str, type_: str, at: str, agency: str = H42, **payload: object
) -> tuple[str, dict]:
    return _event("security", event_id, alert_id, type_, at, agency, **payload)


def _raised(event_id: str, alert_id: str, at: str, severity: str, category: str, asset: str,
            agency: str = H42) -> tuple[str, dict]:  # fmt: skip
    return _alert(event_id, alert_id, "raised", at, agency, severity=severity,
                  category=category, asset=asset)  # fmt: skip


ALERTS = [
    # 2 Nov, 09:00-09:01 in Vietnam: a sweep of portal-1 and portal-2, then malware on
    # portal-1 (acknowledged and resolved) and in H43 a DDoS on portal-3.
    _raised("s1", "A-1", "2026-11-02T09:00:10+07:00", "medium", "intrusion", "portal-1"),
    _raised("s2", "A-2", "2026-11-02T09:00:20+07:00", "medium", "intrusion", "portal-2"),
    _raised("s3", "A-3", "2026-11-02T09:00:30+07:00", "high", "malware", "portal-1"),
    _alert("s4", "A-3", "acknowledged", "2026-11-02T09:05:30+07:00"),
    _alert("s5", "A-3", "resolved", "2026-11-02T10:00:30+07:00"),
    _raised("s6", "A-4", "2026-11-02T09:01:00+07:00", "critical", "ddos", "portal-3", H43),
]


async def _serve(
    settings: Settings, records: list[tuple[str, dict]]
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over a database holding `records`, stored as the processor stores them."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        batch = []
        for offset, (source, record) in enumerate(records):
            event = validate_event(source, record)
            assert isinstance(event, Event), event
            batch.append(Incoming(event, event.occurred_at, f"t.{source}", 0, offset))
        await DatabaseSink(conn).write(batch)
    finally:
        await conn.close()
    app = create_app(settings, with_ingest=False)
    async with (
        LifespanManager(app, startup_timeout=60) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://t") as http,
    ):
        yield http


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _serve(settings, RECORDS):
        yield http


@pytest.fixture
async def alerts_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _serve(settings, RECORDS + ALERTS):
        yield http


async def test_the_catalogue_is_split_by_channel_severity_category_agency_and_asset(
    alerts_api: httpx.AsyncClient,
) -> None:
    body = (await alerts_api.get("/api/kpis", params={"from": "2026-11-01"})).json()
    channels = body["catalogue"]["filings"]["by_channel"]
    assert {c: v["received"] for c, v in channels.items()} == {"online": 3, "in_person": 1}
    s = body["catalogue"]["security"]
    assert {c: (v["alerts"], v["open"]) for c, v in s["by_category"].items()} == {
        "intrusion": (2, 2), "malware": (1, 0), "ddos": (1, 1),
    }  # fmt: skip
    assert list(s["by_category"]) == ["intrusion", "ddos", "malware"]  # most alerts first
    assert {v: k["open"] for v, k in s["by_severity"].items()} == {
        "medium": 2, "high": 0, "critical": 1,
    }  # fmt: skip
    assert s["by_severity"]["high"]["mean_time_to_acknowledge_minutes"] == 5.0
    assert [(a, v["alerts"]) for a, v in s["by_agency"].items()] == [(H42, 3), (H43, 1)]
    assert s["top_assets"] == [
        {"asset": "portal-1", "alerts": 2, "open": 1},
        {"asset": "portal-2", "alerts": 1, "open": 1},
        {"asset": "portal-3", "alerts": 1, "open": 1},
    ]
    h43 = (await alerts_api.get("/api/kpis", params={"from": "2026-11-01", "agency": H43})).json()
    assert h43["catalogue"]["security"]["top_assets"] == [
        {"asset": "portal-3", "alerts": 1, "open": 1}
    ]
    # New alerts per minute: three in 09:00, one in 09:01 (02:00 and 02:01 UTC).
    minutes = (
        await alerts_api.get(
            "/api/kpis", params={"from": "2026-11-02", "to": "2026-11-02", "granularity": "minute"}
        )
    ).json()["series"]
    new = {m["at"][11:16]: m["new_alerts"] for m in minutes if m["new_alerts"]}
    assert new == {"02:00": 3, "02:01": 1}


async def test_the_catalogue_of_a_slice_is_what_was_counted_by_hand(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/kpis", params={"from": "2026-11-01", "to": "2026-11-30"})).json()
    assert body["events"] == {"documents": 0, "filings": 6, "security": 0}
    assert body["filings"]["open"] == 2 and body["slice"]["from"] == "2026-11-01"
    f = body["catalogue"]["filings"]
    assert (f["received"], f["finished"], f["early"], f["late"], f["open"]) == (4, 2, 1, 1, 2)
    assert f["online_share"] == 0.75  # 3 of 4 received online (766 3.3)
    assert f["online_payment_share"] == 0.5  # 1 of 2 fee-bearing paid online (766 3.6)
    # 2.1: early (1) + open and not overdue (F-C; F-D has no due date) over received.
    assert f["on_time_rate"] == 0.75


async def test_filters_narrow_the_slice(api: httpx.AsyncClient) -> None:
    h43 = (await api.get("/api/kpis", params={"from": "2026-11-01", "agency": H43})).json()
    assert h43["catalogue"]["filings"]["received"] == 1 and h43["filings"]["open"] == 1
    p2 = (await api.get("/api/kpis", params={"from": "2026-11-01", "procedure": "P2"})).json()
    assert p2["catalogue"]["filings"]["late"] == 1 and p2["catalogue"]["filings"]["received"] == 1
    one_day = await api.get("/api/kpis", params={"from": "2026-11-03", "to": "2026-11-03"})
    assert one_day.json()["catalogue"]["filings"]["received"] == 1
    nothing = await api.get("/api/kpis", params={"from": "2026-10-01", "to": "2026-10-31"})
    assert nothing.json()["catalogue"]["filings"]["on_time_rate"] is None


async def test_series_by_day_and_events_by_hour(api: httpx.AsyncClient) -> None:
    days = (
        await api.get(
            "/api/kpis", params={"from": "2026-11-01", "to": "2026-11-05", "granularity": "day"}
        )
    ).json()["series"]
    received = {d["period"]: d["filings"]["received"] for d in days if "filings" in d}
    assert received == {"2026-11-02": 3, "2026-11-03": 1}
    hours = (
        await api.get(
            "/api/kpis", params={"from": "2026-11-02", "to": "2026-11-02", "granularity": "hour"}
        )
    ).json()["series"]
    assert [h["events"]["filings"] for h in hours] == [1, 1, 1]
    assert hours[0]["at"].startswith("2026-11-02T01:00:00")  # 08:00 in Vietnam, stored UTC


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"from": "2026-11-05", "to": "2026-11-01"}, 400, "swap them"),
        ({"from": "2026-01-01", "to": "2026-11-30", "granularity": "minute"}, 400, "at most"),
        ({"from": "yesterday"}, 422, "valid date"),
        ({"granularity": "week"}, 422, "minute"),
    ],
)
async def test_bad_parameters_get_a_problem_that_says_what_to_send(
    api: httpx.AsyncClient, params: dict, status: int, words: str
) -> None:
    response = await api.get("/api/kpis", params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
