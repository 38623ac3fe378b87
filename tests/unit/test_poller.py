"""The poller's pure parts - the cursor rule, the backoff, Retry-After - on a fake clock, and
its loop against a fake source (httpx.MockTransport), a fake broker and a fake cursor store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from ingestors.body import BodyError
from ingestors.poller import (
    CursorRule,
    PollConfigError,
    Poller,
    PollSpec,
    Trouble,
    classify,
    retry_after_s,
    split_answer,
    time_order,
)
from ioc.config import Settings
from tests.probes import FlakyBroker
from tests.records import filing

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


# --- the cursor rule ---------------------------------------------------------------------------


def test_the_rule_comes_from_the_settings_and_says_what_to_write() -> None:
    assert CursorRule.from_settings("body:meta.next", "") == CursorRule("body", "meta.next")
    assert CursorRule.from_settings(" header:X-Next-Cursor ", "x") == CursorRule(
        "header", "X-Next-Cursor"
    )
    assert CursorRule.from_settings("", "NgayCapNhat") == CursorRule("records", "NgayCapNhat")
    with pytest.raises(PollConfigError, match=r"body:<json\.path>"):
        CursorRule.from_settings("json:next", "")
    with pytest.raises(PollConfigError, match="IOC_POLL_CURSOR_FIELD"):
        CursorRule.from_settings("", "")


def test_a_named_cursor_is_taken_as_written_and_a_missing_one_keeps_the_current() -> None:
    body = CursorRule("body", "meta.next")
    assert body.next_cursor("5", {}, {"meta": {"next": "tok-6"}}, []) == "tok-6"
    assert body.next_cursor("5", {}, {"meta": {"next": 12}}, []) == "12"
    for nothing in ({"meta": {"next": None}}, {"meta": {}}, {"meta": {"next": ""}}, None, []):
        assert body.next_cursor("5", {}, nothing, []) == "5"
    assert body.next_cursor("5", {}, {"meta": {"next": True}}, []) == "5"
    header = CursorRule("header", "X-Next-Cursor")
    headers = httpx.Headers({"x-next-cursor": "abc"})  # header names ignore case
    assert header.next_cursor(None, headers, None, None) == "abc"
    assert header.next_cursor("abc", httpx.Headers({}), None, None) == "abc"


def test_a_time_field_gives_its_latest_value_as_the_source_wrote_it() -> None:
    rule = CursorRule("records", "NgayCapNhat")
    records = [
        {"NgayCapNhat": "20261122090000"},
        {"NgayCapNhat": "20261122101500"},
        {"NgayCapNhat": "not a date"},
        {"other": 1},
        "not a record",
    ]
    assert rule.next_cursor(None, {}, records, records) == "20261122101500"
    # Never backwards: an answer older than the cursor keeps the cursor.
    assert rule.next_cursor("20261123000000", {}, records, records) == "20261123000000"
    assert rule.next_cursor("20261122090000", {}, records, records) == "20261122101500"
    # Nothing usable: the cursor stays.
    assert rule.next_cursor("c", {}, [], []) == "c"
    assert rule.next_cursor("c", {}, None, None) == "c"


def test_iso_times_are_compared_as_instants_not_as_text() -> None:
    rule = CursorRule("records", "occurred_at")
    records = [
        {"occurred_at": "2026-11-22T09:00:00+07:00"},  # 02:00 UTC
        {"occurred_at": "2026-11-22T03:00:00+00:00"},  # later, though it sorts first as text
    ]
    assert rule.next_cursor(None, {}, records, records) == "2026-11-22T03:00:00+00:00"


def test_time_order_reads_iso_the_sync_format_and_numbers() -> None:
    vietnam_nine = datetime(2026, 11, 22, 2, 0, tzinfo=UTC).timestamp()
    assert time_order("2026-11-22T09:00:00+07:00") == vietnam_nine
    assert time_order("2026-11-22T09:00:00") == vietnam_nine  # no offset: Vietnam time
    assert time_order("20261122090000") == vietnam_nine
    assert time_order(1700000000) == 1700000000.0
    for unreadable in ("", "yesterday", "20261399000000", True, None, float("nan"), {}, []):
        assert time_order(unreadable) is None


def test_an_answer_is_split_into_its_records_and_the_body_for_the_pipeline() -> None:
    page = {"items": [filing("e1", "F-1")], "next": "2"}
    document, body, records = split_answer(orjson.dumps(page), "items")
    assert document == page and records == page["items"]
    assert orjson.loads(body) == page["items"]
    assert split_answer(orjson.dumps({"next": None}), "items")[1:] == (b"[]", [])
    with pytest.raises(BodyError, match="IOC_POLL_RECORDS_FIELD"):
        split_answer(b'{"items": {"a": 1}}', "items")
    with pytest.raises(BodyError, match="not one JSON document"):
        split_answer(b"<xml/>", "items")
    array = orjson.dumps([filing("e1", "F-1")])
    assert split_answer(array, "") == ([filing("e1", "F-1")], array, [filing("e1", "F-1")])
    ndjson = b'{"a": 1}\nnot json\n{"a": 2}\n'
    assert split_answer(ndjson, "") == (None, ndjson, [{"a": 1}, {"a": 2}])
    assert split_answer(b"", "")[2] == []
    assert split_answer(b"<xml/>", "")[2] is None  # only the format's own parser reads it
    assert split_answer(b"CEF:0|a|b|1|2|x|5|\n", "")[2] is None


# --- errors and backoff -------------------------------------------------------------------------


def test_statuses_are_sorted_into_passing_and_the_requests_own_fault() -> None:
    assert [classify(s) for s in (200, 204, 429, 500, 503, 408, 400, 401, 404, 302)] == [
        "ok", "ok", "throttled", "server_error", "server_error", "server_error",
        "client_error", "client_error", "client_error", "client_error",
    ]  # fmt: skip


def test_retry_after_in_seconds_or_as_a_date_bounded_to_an_hour() -> None:
    assert retry_after_s("7", NOW) == 7.0
    assert retry_after_s("Sun, 22 Nov 2026 02:00:30 GMT", NOW) == 30.0
    assert retry_after_s("Sun, 22 Nov 2026 01:00:00 GMT", NOW) == 0.0  # in the past
    assert retry_after_s("999999", NOW) == 3600.0
    for nothing in (None, "", "soon", "-5", "1.5"):
        assert retry_after_s(nothing, NOW) is None


def test_backoff_doubles_to_its_bound_and_logs_once_per_episode() -> None:
    trouble = Trouble(max_s=10)
    clock = 100.0
    delays, logged = [], []
    for _ in range(6):
        delay, news = trouble.failed("server_error", clock)
        delays.append(delay)
        logged.append(news)
        clock += delay
    assert delays == [1, 2, 4, 8, 10, 10]
    assert logged == [True, False, False, False, False, False]
    # Another kind of failure is worth a line, but the backoff keeps growing.
    assert trouble.failed("timeout", clock) == (10, True)
    ended = trouble.recovered(clock + 5)
    assert ended is not None
    assert (ended.kind, ended.attempts, ended.seconds) == ("timeout", 7, clock + 5 - 100)
    assert trouble.recovered(clock + 6) is None  # nothing more to say
    # A fresh episode starts from the bottom again.
    assert trouble.failed("server_error", clock + 7) == (1, True)


def test_the_peers_word_and_a_fixed_pause_replace_the_doubling() -> None:
    trouble = Trouble(max_s=300)
    assert trouble.failed("throttled", 0, retry_after=42) == (42, True)
    assert trouble.failed("throttled", 42) == (2, False)  # no Retry-After: the backoff
    assert trouble.failed("client_error", 44, wait=300) == (300, True)
    # `Retry-After: 0`, or a date already past, still waits the first backoff step.
    assert Trouble(max_s=300).failed("throttled", 0, retry_after=0.0) == (1.0, True)


def test_the_spec_refuses_settings_that_cannot_work() -> None:
    base = Settings(poll_name="motcua", poll_url="https://motcua.example/api/sync",
                    poll_source="filings", poll_next_cursor="body:next")  # fmt: skip
    assert PollSpec.from_settings(base).format is None  # detected per record
    with pytest.raises(PollConfigError, match="IOC_POLL_NAME, IOC_POLL_URL"):
        PollSpec.from_settings(base.model_copy(update={"poll_name": "", "poll_url": ""}))
    with pytest.raises(PollConfigError, match="http"):
        PollSpec.from_settings(base.model_copy(update={"poll_url": "motcua.example"}))
    with pytest.raises(PollConfigError, match="IOC_POLL_FORMAT"):
        PollSpec.from_settings(base.model_copy(update={"poll_format": "nope"}))
    with pytest.raises(PollConfigError, match="IOC_POLL_NEXT_CURSOR"):
        PollSpec.from_settings(base.model_copy(update={"poll_next_cursor": ""}))


# --- the loop, against fakes -------------------------------------------------------------------


class FakeCursors:
    def __init__(self, stored: str | None = None) -> None:
        self.stored = stored
        self.saves: list[str] = []

    async def load(self, poller: str) -> str | None:
        return self.stored

    async def save(self, poller: str, cursor: str, url: str) -> None:
        self.stored = cursor
        self.saves.append(cursor)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_poller(
    answer: Callable[[httpx.Request], httpx.Response],
    broker: FlakyBroker,
    cursors: FakeCursors,
    **settings: Any,
) -> tuple[Poller, list[float], list[httpx.Request]]:
    spec = PollSpec.from_settings(
        Settings(
            poll_name="motcua",
            poll_url="http://motcua.test/sync",
            poll_source="filings",
            poll_next_cursor="body:next",
            poll_records_field="items",
            poll_cursor_param="after",
            **settings,
        )
    )
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answer(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    clock = FakeClock()
    poller = Poller(spec, broker, cursors, http, clock=clock, now=lambda: NOW)
    pauses: list[float] = []

    async def pause(seconds: float) -> bool:  # the fake clock moves instead of sleeping
        pauses.append(seconds)
        clock.now += seconds
        return True

    poller._pause = pause  # type: ignore[method-assign]
    return poller, pauses, requests


RECORDS = [filing(f"e{i}", f"F-{i}") for i in range(5)]


def pages(request: httpx.Request) -> httpx.Response:
    """Two records a page, `after` = how many were read."""
    after = int(request.url.params.get("after", "0"))
    items = RECORDS[after : after + 2]
    return httpx.Response(200, json={"items": items, "next": str(after + len(items))})


async def test_pages_are_read_until_the_cursor_stands_still() -> None:
    broker, cursors = FlakyBroker(0), FakeCursors()
    poller, _, requests = make_poller(pages, broker, cursors, poll_interval_s=30)
    assert await poller.resume() and poller.cursor is None
    waits = [await poller.poll_once() for _ in range(4)]
    assert waits == [0, 0, 0, 30]  # more pages at once; caught up: the interval
    assert [r.url.params.get("after") for r in requests] == [None, "2", "4", "5"]
    assert [e.event_id for e in broker.events] == [f"e{i}" for i in range(5)]
    assert cursors.saves == ["2", "4", "5"]


async def test_a_restart_resumes_from_the_stored_cursor() -> None:
    broker, cursors = FlakyBroker(0), FakeCursors(stored="4")
    poller, _, requests = make_poller(pages, broker, cursors, poll_initial_cursor="0")
    assert await poller.resume()
    assert poller.cursor == "4"
    await poller.poll_once()
    assert requests[0].url.params["after"] == "4"
    assert [e.event_id for e in broker.events] == ["e4"]


async def test_the_broker_down_holds_one_answer_and_pulls_nothing_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, cursors = FlakyBroker(0), FakeCursors()
    poller, pauses, requests = make_poller(pages, broker, cursors, poll_backoff_max_s=4)
    broker.failures = 5
    with caplog.at_level(logging.INFO, logger="ingestors.poller"):
        assert await poller.poll_once() == 0
    assert len(requests) == 1, "nothing more is pulled while the answer is held"
    assert pauses == [1, 2, 4, 4, 4]
    assert [e.event_id for e in broker.events] == ["e0", "e1"]
    assert cursors.saves == ["2"], "the cursor moves only after the acknowledgement"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "holding this answer's 2 records" in warnings[0].message
    assert any("polling resumes" in r.message for r in caplog.records)


async def test_failures_back_off_and_a_4xx_says_what_to_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script: list[httpx.Response | Exception] = [
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(429, headers={"Retry-After": "17"}),
        httpx.Response(401, text="invalid token"),
        httpx.Response(401, text="invalid token"),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if script:
            step = script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return pages(request)

    broker, cursors = FlakyBroker(0), FakeCursors()
    poller, _, _ = make_poller(
        answer, broker, cursors, poll_backoff_max_s=60, poll_slow_interval_s=300
    )
    with caplog.at_level(logging.INFO, logger="ingestors.poller"):
        waits = [await poller.poll_once() for _ in range(8)]
    assert waits == [1, 2, 4, 8, 17, 300, 300, 0]
    assert [e.event_id for e in broker.events] == ["e0", "e1"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5, warnings  # one per kind: unreachable, 5xx, timeout, 429, 401
    assert "IOC_POLL_TOKEN" in warnings[-1] and "invalid token" in warnings[-1]
    assert "asking again every 300 s" in warnings[-1]
    recovered = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("answers again, after 7 failed polls" in m for m in recovered), recovered


async def test_refused_records_are_dead_lettered_and_the_cursor_moves_past_them() -> None:
    bad = {"event_id": "x", "type": "received"}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [RECORDS[0], bad], "next": "2"})

    broker, cursors = FlakyBroker(0), FakeCursors()
    poller, _, _ = make_poller(answer, broker, cursors)
    await poller.poll_once()
    assert [e.event_id for e in broker.events] == ["e0"]
    assert len(broker.rejected) == 1 and orjson.loads(broker.rejected[0].raw) == bad
    assert cursors.saves == ["2"]


async def test_an_unreadable_answer_is_asked_for_again_slowly_without_moving() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>maintenance</html>")

    broker, cursors = FlakyBroker(0), FakeCursors()
    poller, _, _ = make_poller(answer, broker, cursors, poll_slow_interval_s=120)
    assert await poller.poll_once() == 120
    assert cursors.saves == [] and broker.events == []
