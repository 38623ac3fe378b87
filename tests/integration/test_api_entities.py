"""The entity listings (/api/filings, /api/documents, /api/alerts) and /api/sources against
a real `ioc serve` and `ioc process`: each state filter on hand-built cases, keyset
pagination without duplicates or gaps, errors as problems, and the indexes the queries use.

One module-wide setup posts every record once through HTTP ingest and waits until the
processor stored them; the tests only read. Due dates are relative to the real clock, far
enough from every boundary (hours) that the seconds a run takes never move a filing. The
processor judges "at risk" in working time (the shipped calendar), so an open filing that
must not be at risk is due whole working days ahead, whatever night, weekend or Tết the
run falls in.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from ioc.config import Settings
from ioc.db import queries
from ioc.db.migrate import ensure_database, migrate, with_database
from ioc.domains import DOMAINS
from ioc.kafka import ensure_topics
from ioc.working_time import WorkingCalendar
from tests.probes import event_totals
from tests.roles import Role, start_api, start_role, wait_until

pytestmark = pytest.mark.integration

A = "000.00.31.H42"
B = "000.00.32.H42"
NOW = datetime.now(UTC).replace(microsecond=0)
_ids = itertools.count()


CALENDAR = WorkingCalendar.load()  # what `ioc process` judges with here


def _at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def _in_working_days(days: int) -> str:
    return CALENDAR.add_working_time(NOW, CALENDAR.working_days(days)).isoformat()


def _record(type_: str, hours: float, agency: str, **payload: Any) -> dict[str, Any]:
    return {"event_id": f"e{next(_ids)}", "type": type_, "occurred_at": _at(hours),
            "agency": agency, "payload": payload}  # fmt: skip


def _received(filing_id: str, hours: float, due: float | str | None, agency: str = A,
              **extra: Any) -> dict[str, Any]:  # fmt: skip
    payload: dict[str, Any] = {"filing_id": filing_id, "procedure_code": "1.004227.000.00.00.H42",
                               "channel": "online", **extra}  # fmt: skip
    if due is not None:
        payload["due_at"] = due if isinstance(due, str) else _at(due)
    return _record("received", hours, agency, **payload)


FILINGS = [
    _received("F-overdue", -72, -2, commune_code="26734"),
    _received("F-soon", -24, 3),
    _received("F-later", -24, _in_working_days(10)),  # after F-waiting, never at risk
    _received("F-waiting", -48, 72),
    _record("supplement_requested", -1, A, filing_id="F-waiting"),
    _received("F-resolved", -72, -24),
    _record("resolved", -30, A, filing_id="F-resolved"),
    _record("in_process", -5, A, filing_id="F-noreceipt"),  # flagged: no receipt
]
# Agency B: 23 open filings to page through - due dates with ties and 3 without one.
PAGED = [f"P-{i:02d}" for i in range(23)]
FILINGS += [
    _received(pid, -(0.1 + i / 1000), None if i % 8 == 7 else _in_working_days(20 + i // 3), B)
    for i, pid in enumerate(PAGED)
]
DOCUMENTS = [
    _record("received", -48, A, document_id="D-overdue", direction="incoming", due_at=_at(-1)),
    _record("received", -24, A, document_id="D-open", direction="incoming", due_at=_at(48)),
    _record("received", -24, A, document_id="D-done", direction="incoming", due_at=_at(48)),
    _record("done", -2, A, document_id="D-done"),
    _record("assigned", -3, A, document_id="D-flagged"),  # flagged: no first step
]
ALERTS = [
    _record("raised", -0.05, A, alert_id="S-critical", severity="critical", category="intrusion"),
    _record("raised", -2, A, alert_id="S-acked", severity="high", category="intrusion"),
    _record("acknowledged", -1.9, A, alert_id="S-acked", actor="soc1"),
    _record("raised", -3, A, alert_id="S-resolved", severity="medium", category="ddos"),
    _record("resolved", -2.5, A, alert_id="S-resolved"),
    _record("raised", -4, B, alert_id="S-low", severity="low", category="malware"),
    _record("acknowledged", -0.08, A, alert_id="S-flagged"),  # flagged: never raised
]
POSTED = {"filings": FILINGS, "documents": DOCUMENTS, "security": ALERTS}


@dataclass
class Stack:
    settings: Settings

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.settings.api_url}{path}", params=params, timeout=10)

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, path: str, **params: Any) -> list[str]:
        body = self.ok(path, limit=500, **params)
        assert body["next_cursor"] is None
        field = {"/api/filings": "filing_id", "/api/documents": "document_id"}.get(path, "alert_id")
        return [item[field] for item in body["items"]]


@pytest.fixture(scope="module")
def entities(stack: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A database, topics, `ioc serve` and `ioc process` of this module's own, with every
    record above posted and stored."""
    bootstrap, server_url = stack
    name = f"entities_{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("entities")
    settings = Settings(
        kafka_bootstrap=bootstrap, database_url=with_database(server_url, name),
        topic_prefix=name, processor_group=f"{name}-processor", ingest_token=f"token-{name}",
        data_dir=tmp / "data",
    )  # fmt: skip

    async def prepare() -> None:
        await ensure_database(settings.database_url)
        await migrate(settings.database_url)
        await ensure_topics(settings)

    asyncio.run(prepare())
    roles: list[Role] = []
    try:
        api, settings = start_api(settings, tmp)
        roles.append(api)
        roles.append(start_role(settings, "process", tmp))
        headers = {"Authorization": f"Bearer {settings.ingest_token}"}
        for source, records in POSTED.items():
            response = httpx.post(f"{settings.api_url}/ingest/{source}", json=records,
                                  headers=headers, timeout=30)  # fmt: skip
            assert response.status_code == 200, response.text
        expected = {source: len(records) for source, records in POSTED.items()}
        wait_until(
            lambda: asyncio.run(event_totals(settings.database_url)) == expected,
            60, "every posted record stored", *roles,
        )  # fmt: skip
        yield Stack(settings)
    finally:
        for role in reversed(roles):
            role.stop()


def test_each_filing_state_filter(entities: Stack) -> None:
    mine = lambda ids: [i for i in ids if i.startswith("F-")]  # noqa: E731
    assert mine(entities.ids("/api/filings", state="overdue")) == ["F-overdue"]
    assert mine(entities.ids("/api/filings", state="at_risk")) == ["F-soon"]
    assert entities.ids("/api/filings", state="waiting") == ["F-waiting"]
    assert entities.ids("/api/filings", state="flagged") == ["F-noreceipt"]
    # Open: by due date, then those without one (the one with no receipt has none).
    assert mine(entities.ids("/api/filings", state="open", agency=A)) == [
        "F-overdue", "F-soon", "F-waiting", "F-later", "F-noreceipt",
    ]  # fmt: skip
    everything = entities.ids("/api/filings")
    assert everything == sorted(everything) and "F-resolved" in everything
    assert len(everything) == 6 + len(PAGED)
    assert entities.ids("/api/filings", state="open", commune="26734") == ["F-overdue"]
    assert entities.ids("/api/filings", procedure="nope") == []


def test_a_filing_item_is_its_whole_state_as_json(entities: Stack) -> None:
    (item,) = entities.ok("/api/filings", state="waiting")["items"]
    assert list(item) == [column.name for column in DOMAINS["filings"].columns()]
    assert item["is_open"] is True and item["status"] == "supplement_requested"
    assert item["due_at"] == _at(72)
    assert item["supplement_open_since"] == _at(-1)
    assert item["flags"] == []
    (flagged,) = entities.ok("/api/filings", state="flagged")["items"]
    assert isinstance(flagged["flags"], list) and flagged["flags"][0].startswith("no_receipt")


def test_each_document_state_filter(entities: Stack) -> None:
    assert entities.ids("/api/documents", state="overdue") == ["D-overdue"]
    assert entities.ids("/api/documents", state="open") == ["D-overdue", "D-open", "D-flagged"]
    assert entities.ids("/api/documents", state="flagged") == ["D-flagged"]
    assert entities.ids("/api/documents", agency=B) == []
    assert entities.ids("/api/documents") == ["D-done", "D-flagged", "D-open", "D-overdue"]


def test_each_alert_state_filter(entities: Stack) -> None:
    # Oldest first, so the one waiting longest is on top.
    assert entities.ids("/api/alerts", state="open") == [
        "S-low", "S-acked", "S-flagged", "S-critical",
    ]  # fmt: skip
    assert entities.ids("/api/alerts", state="unacknowledged") == ["S-low", "S-critical"]
    assert entities.ids("/api/alerts", state="unacknowledged", severity="critical,high") == [
        "S-critical"
    ]
    assert entities.ids("/api/alerts", state="open", severity=["high", "critical"]) == [
        "S-acked", "S-critical",
    ]  # fmt: skip
    assert entities.ids("/api/alerts", state="flagged") == ["S-flagged"]
    assert entities.ids("/api/alerts", category="malware,ddos") == ["S-low", "S-resolved"]
    assert entities.ids("/api/alerts", agency=B) == ["S-low"]


def _pages(entities: Stack, path: str, limit: int, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        body = entities.ok(path, limit=limit, **({"cursor": cursor} if cursor else {}), **params)
        pages.append([item["filing_id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not move"


def test_pages_cover_the_listing_once_in_order_across_ties_and_missing_due_dates(
    entities: Stack,
) -> None:
    whole = entities.ids("/api/filings", state="open", agency=B)
    dated = [pid for i, pid in enumerate(PAGED) if i % 8 != 7]
    undated = [pid for i, pid in enumerate(PAGED) if i % 8 == 7]
    assert whole == dated + undated  # by due date, ties by id, no due date last
    for limit in (1, 4, 5, 22, 23):
        pages = _pages(entities, "/api/filings", limit, state="open", agency=B)
        assert [pid for page in pages for pid in page] == whole, limit
        assert all(len(page) == limit for page in pages[:-1])
        assert 1 <= len(pages[-1]) <= limit  # a full last page is not followed by an empty one
    every = entities.ids("/api/filings")
    pages = _pages(entities, "/api/filings", 7)
    assert [pid for page in pages for pid in page] == every


def _problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == "urn:ioc:problem:invalid-request"
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


def test_bad_parameters_are_problems_that_say_what_to_send(entities: Stack) -> None:
    body = _problem(entities.get("/api/filings", state="late"), 422,
                    "'late'", "open, overdue, at_risk, waiting, flagged")  # fmt: skip
    assert body["errors"][0]["loc"] == "query.state"
    _problem(entities.get("/api/documents", state="waiting"), 422, "open, overdue, flagged")
    _problem(entities.get("/api/alerts", state="overdue"), 422, "unacknowledged")
    for limit in (0, 501):
        _problem(entities.get("/api/filings", limit=limit), 422, "1 to 500", "limit=50")
    _problem(entities.get("/api/filings", limit="many"), 422)
    _problem(entities.get("/api/alerts", severity="critical,urgent"), 422,
             "'urgent'", "critical, high, medium, low")  # fmt: skip
    _problem(entities.get("/api/alerts", category="spam"), 422, "'spam'", "malware")
    for cursor in ("not-a-cursor!", base64.urlsafe_b64encode(b'{"o": 1}').decode(), "e30"):
        _problem(entities.get("/api/filings", state="open", cursor=cursor), 422, "next_cursor")
    by_id = entities.ok("/api/filings", limit=1)["next_cursor"]
    _problem(entities.get("/api/filings", state="overdue", cursor=by_id), 422, "another order")
    wrong_type = {"o": "due_at,filing_id", "k": [5, "F-1"]}
    cursor = base64.urlsafe_b64encode(json.dumps(wrong_type).encode()).decode()
    _problem(entities.get("/api/filings", state="open", cursor=cursor), 422, "next_cursor")


def test_sources_say_when_each_source_and_agency_last_sent(entities: Stack) -> None:
    body = entities.ok("/api/sources")
    assert body["window_days"] == 7
    minute = lambda hours: (NOW + timedelta(hours=hours)).replace(second=0).isoformat()  # noqa: E731
    filings = body["sources"]["filings"]
    assert filings["last_event_minute"] == minute(-0.1)
    last = {code: a["last_event_minute"] for code, a in filings["agencies"].items()}
    assert {code: at for code, at in last.items() if at} == {A: minute(-1), B: minute(-0.1)}
    assert filings["agencies"][A]["name"] == "UBND tỉnh Hà Tĩnh"  # from the reference file
    assert filings["cadence_hours"] == 2 and filings["silent"] is False
    # Agencies of the reference file never heard from in the window are silent.
    never = filings["agencies"]["000.02.31.H42"]
    assert never == {"name": "Sở Nội vụ", "last_event_minute": None, "silent": True}
    assert filings["events_last_15_min"] == len(PAGED)  # 6 to 7.5 minutes ago; the rest older
    assert filings["last_stored_at"] is not None
    security = body["sources"]["security"]
    last = {code: a["last_event_minute"] for code, a in security["agencies"].items()}
    assert last == {A: minute(-0.05), B: minute(-4)}, "no cadence: no reference agency added"
    assert security["cadence_hours"] is None and security["silent"] is False
    assert security["events_last_15_min"] == 2  # S-critical and S-flagged
    documents = body["sources"]["documents"]
    assert documents["events_last_15_min"] == 0 and documents["last_event_minute"] == minute(-2)


def test_sources_give_the_consumer_lag_of_each_partition(entities: Stack) -> None:
    # The processor reports its lag every few seconds and the API checks every two.
    def reported() -> dict[str, Any] | None:
        body = entities.ok("/api/sources")["sources"]
        return body if all(s["lag"] for s in body.values()) else None

    body = wait_until(reported, 30, "every source's lag reported")
    partitions = {str(p) for p in range(entities.settings.topic_partitions)}
    for source in body.values():
        assert set(source["lag"]) == partitions
        assert all(isinstance(n, int) and n >= 0 for n in source["lag"].values())
        assert source["lag_as_of"] is not None


EXPECTED_INDEX = {
    ("filings", None): "filing_state_pkey",
    ("filings", "open"): "filing_state_open_due",
    ("filings", "overdue"): "filing_state_open_due",
    ("filings", "at_risk"): "filing_state_open_due",
    ("filings", "waiting"): "filing_state_open_due",
    ("filings", "flagged"): "filing_state_flagged",
    ("documents", None): "document_state_pkey",
    ("documents", "open"): "document_state_open_due",
    ("documents", "overdue"): "document_state_open_due",
    ("documents", "flagged"): "document_state_flagged",
    ("security", None): "alert_state_pkey",
    ("security", "open"): "alert_state_open",
    ("security", "unacknowledged"): "alert_state_open",
    ("security", "flagged"): "alert_state_flagged",
}


async def test_every_listing_can_use_its_index(entities: Stack) -> None:
    """With sequential scans ruled out, every listing's plan - first page and later
    pages - reads its index (on tables this small the planner would rather scan)."""
    assert {(s, st) for s, st in EXPECTED_INDEX if st} == {
        (source, state) for source, states in queries.STATES.items() for state in states
    }
    conn = await asyncpg.connect(entities.settings.database_url)
    try:
        await conn.execute("SET enable_seqscan = off")
        for (source, state), index in EXPECTED_INDEX.items():
            f = queries.STATES[source][state](NOW) if state else queries.ALL
            key = queries.sort_key(source, f)
            after = tuple(NOW if c.sql_type == "timestamptz" else "X" for c in key)
            for cursor in (None, after):
                sql, args = queries.listing_sql(source, f, after=cursor)
                plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + sql, *args))
                assert index in plan and "Seq Scan" not in plan, (source, state, plan)
    finally:
        await conn.close()
