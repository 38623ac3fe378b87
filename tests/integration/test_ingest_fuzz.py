"""Property-based fuzz of HTTP ingest against the real app and the real embedded broker.

Whatever is sent (arbitrary bytes, arbitrary JSON, near-valid canonical records with
mutated fields, gzip whole, in several members, cut short or followed by junk, NDJSON
with bad lines, odd headers, odd query strings, odd paths), ingest:
- never answers 5xx (the broker is up, so not even 503);
- always answers JSON: per-record answers (200/207/422) whose accepted + rejected is
  the number of results, and the number of records sent when the test knows it;
  every other answer an RFC 9457 problem;
- loses nothing: at the end, the source topics hold exactly the events the answers
  list (`events`, the `event_ids` of the records answered `accepted`), and the
  dead-letter topic exactly the records answered `rejected` plus one per 400 that says
  `"dead_lettered": true`.

CI runs IOC_FUZZ_EXAMPLES (default 3000, ~35 s) cases; IOC_FUZZ_EXAMPLES=100000 is the long run.
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import json
import os
import string
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ioc.api.app import create_app
from ioc.config import SOURCES, Settings
from ioc.kafka import make_consumer
from tests.probes import read_topic
from tests.records import alert, document, filing

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("IOC_FUZZ_EXAMPLES", "3000"))
MAX_BODY = 64 * 1024
MAX_RECORDS = 100
PROBLEM_KEYS = {"type", "title", "status", "detail"}
BUILDERS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "filings": filing,
    "documents": document,
    "security": alert,
}

# Placeholders swapped for raw JSON text after json.dumps (which cannot write them).
DEEP = "__IOC_FUZZ_DEEP__"
BIGINT = "__IOC_FUZZ_BIGINT__"
RAW_TEXT = {
    f'"{DEEP}"': "[" * 10_000 + "]" * 10_000,
    f'"{DEEP}O"': '{"a":' * 10_000 + "1" + "}" * 10_000,
    f'"{BIGINT}"': "7" * 5000,
    f'"{BIGINT}-"': "-" + "9" * 30,
}

# Values that once made ingest fail, or that storage cannot hold.
NASTY: list[Any] = [
    "\x00", "a\x00b", "\ud800", "x\udc00y", "x" * 600, "", " ", "\u2028", "ệ" * 300,
    "9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00+07:00", "1969-12-31T23:59:59Z",
    "2101-01-01T00:00:00Z", "2026-11-22T09:00:00", "2026-02-30T09:00:00+07:00",
    "2026-11-22T09:00:00+25:00", 0, -1, 10**15 + 1, 2**63, 2**64, 1e308, -0.0, 1.5,
    True, None, [], {}, DEEP, DEEP + "O", BIGINT, BIGINT + "-", 32503680000, 1e20,
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=15,
)
identifiers = st.text(string.ascii_letters + string.digits + "-._", min_size=1, max_size=24)


@dataclass
class Case:
    method: str = "POST"
    path: str = "/ingest/filings"
    params: list[tuple[str, str | int | float | bool | None]] = field(default_factory=list)
    headers: dict[str, str | bytes] = field(default_factory=dict)
    content: bytes = b""
    records: int | None = None  # how many records the body holds, when the test knows
    clean: bool = True  # authorised, known source and format, nothing odd in the headers
    must_be_400: bool = False  # unreadable on purpose (bad gzip): 400, dead-lettered


@dataclass
class Tally:
    requests: int = 0
    accepted: int = 0
    events: int = 0
    rejected: int = 0
    bodies_dead_lettered: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


def _encode(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    for placeholder, raw in RAW_TEXT.items():
        text = text.replace(placeholder, raw)
    # Without ensure_ascii a lone surrogate goes out as (invalid) UTF-8 bytes.
    return text.encode("utf-8", "surrogatepass")


@st.composite
def canonical_records(draw: st.DrawFn, source: str) -> dict[str, Any]:
    target = draw(st.sampled_from([source, *SOURCES]))  # sometimes another source's shape
    record: dict[str, Any] = BUILDERS[target](draw(identifiers), draw(identifiers))
    for _ in range(draw(st.integers(0, 3))):
        payload = record.get("payload")
        where = payload if isinstance(payload, dict) and draw(st.booleans()) else record
        key = draw(st.sampled_from([*where, "source", "colour", draw(st.text(max_size=8))]))
        action = draw(st.sampled_from(["nasty", "nasty", "value", "delete"]))
        if action == "delete":
            where.pop(key, None)
        elif action == "value":
            where[key] = draw(json_values)
        else:
            where[key] = copy.deepcopy(draw(st.sampled_from(NASTY)))  # NASTY stays as it is
    return record


@st.composite
def bodies(draw: st.DrawFn, source: str) -> tuple[bytes, int | None]:
    """(body, number of records in it when known)."""
    kind = draw(st.sampled_from(["canonical"] * 4 + ["json", "bytes", "ndjson_bad", "many"]))
    ascii_only = draw(st.booleans())
    if kind == "bytes":
        return draw(st.binary(max_size=300)), None
    if kind == "json":
        value = draw(json_values)
        return _encode(value, ascii_only), len(value) if isinstance(value, list) else 1
    if kind == "many":  # more records than a request may carry: 413
        n = draw(st.integers(MAX_RECORDS - 2, MAX_RECORDS + 20))
        return b"{}\n" * n, n
    records = draw(st.lists(canonical_records(source), max_size=8))
    lines = [_encode(r, ascii_only) for r in records]
    if kind == "ndjson_bad":
        bad = st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))
        for _ in range(draw(st.integers(1, 4))):
            line = draw(bad.filter(lambda b: b"\n" not in b and b.strip() != b""))
            lines.insert(draw(st.integers(0, len(lines))), line)
    framing = draw(st.sampled_from(["array", "ndjson", "single"]))
    if framing == "array" and kind != "ndjson_bad":
        return b"[" + b",".join(lines) + b"]", len(lines)
    if framing == "single" and len(lines) == 1:
        return lines[0], 1
    if not lines:
        return b"\n", None
    separator = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\n \n"]))
    known = None if lines[0].lstrip().startswith(b"[") else len(lines)  # would read as array
    return separator.join(lines) + draw(st.sampled_from([b"", b"\n"])), known


def _gzip_members(data: bytes, cut: int) -> bytes:
    return gzip.compress(data[:cut]) + gzip.compress(data[cut:])


@st.composite
def cases(draw: st.DrawFn, token: str) -> Case:
    case = Case()
    source = draw(st.sampled_from([*SOURCES] * 6 + ["weather", "", "filings/x"]))
    if source not in SOURCES:
        made_up = quote(draw(st.text(max_size=12)), safe="").replace(".", "%2E")
        source = draw(st.sampled_from([source, made_up]))
        case.clean = False
    case.path = f"/ingest/{source}"
    case.method = draw(st.sampled_from(["POST"] * 20 + ["GET", "PUT"]))
    case.clean &= case.method == "POST"

    body, case.records = draw(bodies(source if source in SOURCES else "filings"))
    transport = draw(
        st.sampled_from(["plain"] * 4 + ["gzip", "members", "truncated", "junk", "odd_ce"])
    )
    if transport == "gzip":
        body = gzip.compress(body)
        case.headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "x-gzip", " GZIP "]))
        if draw(st.booleans()):
            del case.headers["Content-Encoding"]  # recognised by its magic bytes
    elif transport == "members":
        body = _gzip_members(body, draw(st.integers(0, len(body))))
        case.headers["Content-Encoding"] = "gzip"
    elif transport == "truncated":
        packed = gzip.compress(body)
        body = packed[: draw(st.integers(0, len(packed) - 1))]
        case.headers["Content-Encoding"] = "gzip"
        case.must_be_400, case.records = True, None
    elif transport == "junk":
        body = gzip.compress(body) + draw(st.binary(min_size=1, max_size=40))
        case.headers["Content-Encoding"] = draw(st.sampled_from(["gzip", "x-gzip"]))
        case.must_be_400, case.records = True, None
    elif transport == "odd_ce":
        case.headers["Content-Encoding"] = draw(
            st.sampled_from(["br", "deflate", "gzip, identity", "identity", "zstd", "*"])
        )
        if case.headers["Content-Encoding"] != "identity":
            case.must_be_400, case.records = True, None
    case.content = body

    auth = draw(st.sampled_from(["ok"] * 12 + ["lower", "none", "wrong", "basic", "latin1"]))
    authorizations: dict[str, str | bytes] = {
        "ok": f"Bearer {token}",
        "lower": f"bearer   {token} ",
        "wrong": "Bearer wrong",
        "basic": "Basic dXNlcjpwYXNz",
        "latin1": b"Bearer \xe9\xff" + token.encode(),
        "none": "",
    }
    case.headers["Authorization"] = authorizations[auth]
    if auth == "none":
        del case.headers["Authorization"]
    case.clean &= auth in ("ok", "lower")

    content_type = draw(
        st.sampled_from(
            ["application/json", "application/x-ndjson", "text/plain", "", "x/y; q=\x7f", None]
        )
    )
    if content_type is not None:
        case.headers["Content-Type"] = content_type
    if draw(st.integers(0, 9)) == 0:
        odd = draw(st.sampled_from(["²", "-1", "abc", "99999999999", "0", " 7 ", "١٢"]))
        case.headers["Content-Length"] = odd.encode()  # bytes: httpx sends them as they are
        case.clean = False

    fmt = draw(st.sampled_from([None] * 6 + ["canonical", " Canonical ", "nmap", "", "x\x00"]))
    if fmt is not None:
        case.params.append(("format", fmt))
        case.clean &= (fmt or "canonical").strip().lower() == "canonical"
    if draw(st.booleans()):
        case.params.append((draw(st.text(max_size=8)), draw(st.text(max_size=8))))
        case.clean &= case.params[-1][0] != "format"
    case.clean &= len(body) <= MAX_BODY
    return case


def _check(case: Case, response: httpx.Response, tally: Tally) -> None:
    status = response.status_code
    tally.requests += 1
    tally.statuses[status] += 1
    assert status < 500, f"{status} for {case}: {response.text[:2000]}"
    if status in (307, 308):  # Starlette's trailing-slash redirect ("/ingest/x%2F"): no error
        assert response.headers["location"], case
        return
    body = response.json()  # every answer is JSON
    if response.headers["content-type"] != "application/problem+json":
        assert status in (200, 207, 422), (status, body)
        assert body["accepted"] + body["rejected"] == len(body["results"]), body
        assert [r["index"] for r in body["results"]] == list(range(len(body["results"])))
        assert status == (200 if not body["rejected"] else 207 if body["accepted"] else 422)
        if case.clean and case.records is not None:
            assert len(body["results"]) == case.records, (case, body)
        assert not case.must_be_400, (case, body)
        listed = [i for r in body["results"] if r["status"] == "accepted" for i in r["event_ids"]]
        assert body["events"] == len(listed), body
        tally.accepted += body["accepted"]
        tally.events += body["events"]
        tally.rejected += body["rejected"]
        return
    assert PROBLEM_KEYS <= set(body) and body["status"] == status, body
    assert isinstance(body["detail"], str) and body["title"], body
    if case.clean:
        assert status in (400, 413), (case, body)
        if case.must_be_400:
            assert status == 400 and body["dead_lettered"] is True, (case, body)
    if body.get("dead_lettered") is True:
        assert status == 400
        tally.bodies_dead_lettered += 1


@asynccontextmanager
async def _ingest_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app as `ioc ingest` runs it (its real lifespan: producer, pool), in-process.
    The API routes' background tasks (live hub, health monitor) are not started: they
    play no part in ingest and only slow this 2-core machine down."""
    app = create_app(settings, with_api=False)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(manager.app), base_url="http://ioc.test", timeout=60
        ) as http,
    ):
        yield http


async def _records(settings: Settings, topics: list[str], expected: int) -> list[Any]:
    """Every record on `topics`: waits for `expected` of them, then makes sure no more come."""
    consumer = make_consumer(settings, *topics, group_id=None)
    await consumer.start()
    got: list[Any] = []
    try:
        quiet, deadline = 0, time.monotonic() + 60 + expected / 1000
        while quiet < 4 and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(m for messages in batch.values() for m in messages)
            quiet = quiet + 1 if len(got) >= expected and not batch else 0
    finally:
        await consumer.stop()
    return got


async def test_no_input_makes_ingest_fail_or_lose_anything(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"ingest_max_body_bytes": MAX_BODY, "ingest_max_records": MAX_RECORDS}
    )
    loop = asyncio.get_running_loop()
    tally = Tally()
    async with _ingest_app(settings) as http:

        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases(settings.ingest_token))
        def fuzz(case: Case) -> None:
            headers = {
                k.encode(): v if isinstance(v, bytes) else v.encode()
                for k, v in case.headers.items()
            }
            request = http.request(
                case.method, case.path, params=case.params, headers=headers, content=case.content
            )
            response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=120)
            _check(case, response, tally)

        # Hypothesis drives a plain function; the app keeps running on this loop meanwhile.
        await asyncio.to_thread(fuzz)

    print(f"fuzz: {tally.requests} requests, statuses {dict(sorted(tally.statuses.items()))}")
    assert tally.accepted and tally.rejected and tally.bodies_dead_lettered, tally
    events = await _records(settings, list(settings.source_topics.values()), tally.events)
    assert len(events) == tally.events, tally
    letters = tally.rejected + tally.bodies_dead_lettered
    dead = await _records(settings, [settings.deadletter_topic], letters)
    assert len(dead) == letters, tally
    reasons = Counter(json.loads(m.value)["reason"] for m in dead)
    assert reasons == {
        "invalid_record": tally.rejected,
        "unreadable_body": tally.bodies_dead_lettered,
    }


async def test_a_2mb_unreadable_body_is_dead_lettered_not_lost(settings: Settings) -> None:
    """Its 1 MB of hex used to exceed Kafka's request size: the send failed, the body was
    gone, and the client had been told 400."""
    body = b"\x1f\x8b" + os.urandom(2 * 1024 * 1024)
    async with _ingest_app(settings) as http:
        response = await http.post(
            "/ingest/security",
            content=body,
            headers={"Authorization": f"Bearer {settings.ingest_token}"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["dead_lettered"] is True
    [message] = await read_topic(settings, settings.deadletter_topic, 1)
    letter = json.loads(message.value)
    assert letter["reason"] == "unreadable_body" and letter["raw_truncated"] is True
    assert letter["raw_bytes"] == len(body) and letter["raw_encoding"] == "hex"
    assert bytes.fromhex(letter["raw"]) == body[: 256 * 1024]
