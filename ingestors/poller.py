"""`ioc poll`: pull a source system's HTTP endpoint on an interval, its cursor in the database.

Some source systems cannot push: a one-stop-shop's filing-sync API, for one, answers
`GET …?since=<cursor>` with the records changed after the cursor. The poller asks it
every `IOC_POLL_INTERVAL_S`, hands each answer's body to the format pipeline of its
source and format (the same parse → validate → normalise → key → produce path as
`POST /ingest/{source}`), and keeps where it stands in `poll_cursors`, keyed by its name.

**Delivery.** The next cursor is taken from an answer, but stored only after the broker
acknowledged every record of that answer (refused ones on the dead-letter topic). A
restart resumes from the stored cursor; a crash re-reads at most the last answer, whose
records the processor de-duplicates by event id, so nothing is lost or counted twice.
While the broker does not acknowledge, the poller holds that one answer - its bounded
buffer - pulls nothing more, retries with backoff, and goes on when the broker is back.

**The cursor** comes from the answer, as configured:
- `IOC_POLL_NEXT_CURSOR=body:<json.path>` (e.g. `body:next_cursor`, `body:meta.next`) or
  `header:<Name>` (e.g. `header:X-Next-Cursor`): a value the source names (a page token,
  a modification time). None, null or empty there: the cursor stays;
- otherwise `IOC_POLL_CURSOR_FIELD=<json.path>`: the records' latest value of that time
  field (ISO 8601, local time when it has no offset; `yyyyMMddHHmmss` in Vietnam time as
  the filing-sync record writes it; or a number), sent back exactly as the source wrote
  it. It never moves backwards.
When the cursor moved and the answer had records, the next request goes at once (more
pages); otherwise after the interval. A source that reads the cursor inclusively
(`>=`) sends the last records again each time; they are de-duplicated downstream.

**Errors.** Connection refused, timeouts, 5xx and 429 back off exponentially (1 s,
doubling, at most `IOC_POLL_BACKOFF_MAX_S`; a 429's or 503's `Retry-After` is honoured);
another 4xx means the request itself is wrong: it is logged with what to fix and asked
again every `IOC_POLL_SLOW_INTERVAL_S`. Each episode is logged when it starts (or
changes kind) and when it ends, never per attempt.

The pure parts (the cursor rule, the backoff, Retry-After) come first and take the time
as an argument; `Poller` is the thin I/O shell around them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import asyncpg
import httpx
import orjson
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge, start_http_server

from ingestors import pipeline
from ingestors.body import BodyError, dumps_any, parse_records
from ingestors.formats import MapContext, UnknownFormat, format_named
from ingestors.pipeline import Judgement, judge, read_body
from ingestors.publisher import Publisher, Rejected
from ioc.config import Settings
from ioc.db import DATABASE_UNAVAILABLE
from ioc.db.cursors import load_cursor, save_cursor
from ioc.events import Event
from ioc.reference_data import load_reference

log = logging.getLogger(__name__)

VIETNAM = timezone(timedelta(hours=7))  # no daylight saving time
RETRY_AFTER_MAX_S = 3600.0  # a Retry-After beyond an hour is taken as an hour
BACKOFF_BASE_S = 1.0
PUBLISH_TIMEOUT_S = 60.0  # the producer gives up by itself after its request timeout

POLLS = Counter(
    "ioc_poll_requests_total",
    "Polls of a source system by outcome: records, empty, throttled (429), server_error "
    "(5xx), client_error (other 4xx), timeout, unreachable, unreadable (a 2xx answer "
    "that cannot be read)",
    ["poller", "outcome"],
)
RECORDS = Counter(
    "ioc_poll_records_total",
    "Polled records the broker acknowledged: accepted (on the source topic) or rejected "
    "(on the dead-letter topic)",
    ["poller", "outcome"],
)
CURSOR_AGE = Gauge(
    "ioc_poll_cursor_age_seconds",
    "Seconds since the poller last knew its cursor current (an answer published and its "
    "cursor stored, or nothing new); grows while the source, broker or database fail",
    ["poller"],
)
HELD = Gauge(
    "ioc_poll_held_records",
    "Records of the one answer the poller holds while the broker does not acknowledge "
    "them (it pulls nothing more meanwhile)",
    ["poller"],
)


class PollConfigError(ValueError):
    """The poller's settings cannot work; the message says what to set."""


# --- pure: the cursor ---------------------------------------------------------------------


def lookup(value: Any, path: str) -> Any:
    """`value`'s field at a dotted path (`meta.next`), or None where there is none."""
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def time_order(value: Any) -> float | None:
    """Where `value` stands in time, to take the latest: ISO 8601 (Vietnam time when it has
    no offset), `yyyyMMddHHmmss` (Vietnam time, as the filing-sync record writes dates), or
    a number (as it is); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 14 and text.isascii() and text.isdigit():
            moment = datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class CursorRule:
    """Where an answer names the next cursor: a JSON path of the body, a header, or the
    latest value of a time field of the records."""

    kind: Literal["body", "header", "records"]
    where: str

    @classmethod
    def from_settings(cls, next_cursor: str, cursor_field: str) -> CursorRule:
        if next_cursor.strip():
            kind, colon, where = next_cursor.strip().partition(":")
            if not colon or kind not in ("body", "header") or not where.strip():
                raise PollConfigError(
                    f"IOC_POLL_NEXT_CURSOR={next_cursor!r} is not understood: write "
                    "body:<json.path> (e.g. body:next_cursor) or header:<Name> "
                    "(e.g. header:X-Next-Cursor)"
                )
            return cls("body" if kind == "body" else "header", where.strip())
        if cursor_field.strip():
            return cls("records", cursor_field.strip())
        raise PollConfigError(
            "say where the next cursor comes from: IOC_POLL_NEXT_CURSOR (body:<json.path> or "
            "header:<Name>, a value the source system names) or IOC_POLL_CURSOR_FIELD (a "
            "time field of the records, whose latest value becomes the cursor)"
        )

    def next_cursor(
        self,
        current: str | None,
        headers: Mapping[str, str],
        document: Any,
        records: list[Any] | None,
    ) -> str | None:
        """The cursor after an answer; `current` when the answer names none (or an older one)."""
        if self.kind != "records":
            named = (
                headers.get(self.where) if self.kind == "header" else lookup(document, self.where)
            )
            if isinstance(named, bool) or not isinstance(named, str | int | float):
                return current
            text = str(named)
            return text if text.strip() else current
        latest: Any = None
        latest_at = -math.inf
        for record in records or ():
            value = lookup(record, self.where)
            at = time_order(value)
            if at is not None and at > latest_at:
                latest, latest_at = value, at
        if latest is None:
            return current
        if current is not None:
            current_at = time_order(current)
            if current_at is not None and latest_at <= current_at:
                return current
        return str(latest)


def split_answer(body: bytes, records_field: str) -> tuple[Any, bytes, list[Any] | None]:
    """(the answer as one JSON document or None, the body for the format pipeline, the
    records as values or None when the body is not JSON) of a 2xx answer.

    With `records_field`, the records are that list inside a JSON document (missing or
    null: none), handed on as a JSON array; otherwise the whole body is the records (a
    JSON array, one object, or NDJSON). Raises BodyError when the answer cannot be read so.
    """
    try:
        document = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        document = None
    if records_field:
        if document is None and body.strip():
            raise BodyError(
                f"the answer is not one JSON document, so IOC_POLL_RECORDS_FIELD="
                f"{records_field!r} cannot be read in it; check IOC_POLL_URL and the format"
            )
        found = lookup(document, records_field)
        if found is None:
            return document, b"[]", []
        if not isinstance(found, list):
            raise BodyError(
                f"{records_field!r} in the answer is a {type(found).__name__}, not a list of "
                "records; check IOC_POLL_RECORDS_FIELD"
            )
        return document, dumps_any(found).encode(), found
    if not body.strip():
        return None, body, []
    if isinstance(document, list):
        return document, body, document
    if document is not None:
        return document, body, [document]
    try:  # NDJSON, or something only the format's own parser reads (XML, text lines)
        lines = parse_records(body)
    except BodyError:
        return None, body, None
    values = [line.value for line in lines if line.error is None]
    return None, body, values or None


# --- pure: errors and backoff ---------------------------------------------------------------

Outcome = Literal[
    "records", "empty", "throttled", "server_error", "client_error", "timeout", "unreachable",
    "unreadable",
]  # fmt: skip


def classify(status: int) -> Literal["ok", "throttled", "server_error", "client_error"]:
    """What an HTTP status means for the poller: 429 and 5xx (and 408) are passing, another
    non-2xx status says the request itself is wrong."""
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        return "throttled"
    if status >= 500 or status == 408:
        return "server_error"
    return "client_error"


def what_to_fix(status: int) -> str:
    """The likely fix for a 4xx (other than 429), for the log line."""
    if status == 401:
        return "check IOC_POLL_TOKEN (the source system's token for IOC)"
    if status == 403:
        return "the token may not read this endpoint: ask the source system's operators"
    if status in (404, 405, 410):
        return "check IOC_POLL_URL"
    if status in (400, 422):
        return "check IOC_POLL_URL, IOC_POLL_CURSOR_PARAM and the stored cursor"
    if 300 <= status < 400:
        return "the endpoint redirects elsewhere: point IOC_POLL_URL at the final address"
    return "check IOC_POLL_URL, IOC_POLL_TOKEN and the source system's documentation"


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from `now`, at most an
    hour; None when absent or unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return min(float(text), RETRY_AFTER_MAX_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), RETRY_AFTER_MAX_S)


@dataclass(slots=True)
class Recovery:
    kind: str
    attempts: int
    seconds: float


@dataclass
class Trouble:
    """One stretch of failures of one peer (source, broker or database): how long to wait
    before the next attempt, and when to log - at the start of an episode (or when its kind
    changes) and at its end, never per attempt. Pure: the caller passes the (monotonic)
    time in, and sleeps and logs itself."""

    max_s: float = 300.0
    base_s: float = BACKOFF_BASE_S
    kind: str | None = None
    attempts: int = 0
    since: float = 0.0

    def failed(
        self, kind: str, now: float, *, retry_after: float | None = None, wait: float | None = None
    ) -> tuple[float, bool]:
        """(seconds to wait, whether to log: a new episode or a new kind of failure).

        The delay doubles from `base_s` up to `max_s` over the episode; `retry_after` (the
        peer's own word, but never less than `base_s`) replaces it, `wait` (a fixed pause)
        too."""
        if self.kind is None:
            self.since, self.attempts = now, 0
        news = kind != self.kind
        self.kind = kind
        self.attempts += 1
        if wait is not None:
            return wait, news
        if retry_after is not None:  # at least the first backoff: `Retry-After: 0` or a
            return max(retry_after, self.base_s), news  # past date must not make a busy loop
        return min(self.max_s, self.base_s * 2.0 ** min(self.attempts - 1, 60)), news

    def recovered(self, now: float) -> Recovery | None:
        """The episode that just ended (None when there was none); starts afresh."""
        if self.kind is None:
            return None
        ended = Recovery(self.kind, self.attempts, now - self.since)
        self.kind, self.attempts = None, 0
        return ended


# --- the format pipeline ---------------------------------------------------------------------

# (source, format or None to detect, body, when it was received) -> each record's verdict.
Handle = Callable[[str, str | None, bytes, datetime], Judgement]


def formats_pipeline(max_records: int | None, communes: Mapping[str, str] | None = None) -> Handle:
    """The pipeline every transport shares (`ingestors.pipeline`): the format's parser,
    its mapper, canonical validation; refused records become dead letters with their raw
    bytes and reasons. Raises BodyError when the body as a whole cannot be read.
    `communes`: each commune-level agency's commune, from the reference data."""

    def handle(source: str, format_name: str | None, body: bytes, at: datetime) -> Judgement:
        parsed = read_body(source, body, format_name, max_records)
        context = MapContext(source, at, communes=communes or {})
        return judge(source, parsed.records, context, parsed.format)

    return handle


# --- the I/O shell ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollSpec:
    """One poller's settings, checked."""

    name: str
    url: str
    source: str
    format: str | None
    token: str
    cursor_param: str
    initial_cursor: str | None
    rule: CursorRule
    records_field: str
    interval_s: float
    slow_interval_s: float
    timeout_s: float
    backoff_max_s: float
    max_body_bytes: int

    @classmethod
    def from_settings(cls, s: Settings) -> PollSpec:
        missing = [
            variable
            for variable, value in (
                ("IOC_POLL_NAME", s.poll_name),
                ("IOC_POLL_URL", s.poll_url),
                ("IOC_POLL_SOURCE", s.poll_source),
            )
            if not value.strip()
        ]
        if missing:
            raise PollConfigError(f"set {', '.join(missing)} (or the matching --options)")
        if not s.poll_url.startswith(("http://", "https://")):
            raise PollConfigError(f"IOC_POLL_URL={s.poll_url!r} must be an http(s) URL")
        format_name = s.poll_format.strip() or None  # None: detected per record
        try:
            format_named(s.poll_source, format_name)
        except UnknownFormat as error:
            raise PollConfigError(f"IOC_POLL_FORMAT: {error}") from None
        return cls(
            name=s.poll_name.strip(),
            url=s.poll_url,
            source=s.poll_source,
            format=format_name,
            token=s.poll_token,
            cursor_param=s.poll_cursor_param,
            initial_cursor=s.poll_initial_cursor or None,
            rule=CursorRule.from_settings(s.poll_next_cursor, s.poll_cursor_field),
            records_field=s.poll_records_field.strip(),
            interval_s=s.poll_interval_s,
            slow_interval_s=s.poll_slow_interval_s,
            timeout_s=s.poll_timeout_s,
            backoff_max_s=s.poll_backoff_max_s,
            max_body_bytes=s.ingest_max_body_bytes,
        )


class CursorStore(Protocol):
    async def load(self, poller: str) -> str | None: ...
    async def save(self, poller: str, cursor: str, url: str) -> None: ...


class DatabaseCursors:
    """`poll_cursors` through a one-connection pool, which reconnects after an outage."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def load(self, poller: str) -> str | None:
        async with self._pool.acquire() as conn:
            return await load_cursor(conn, poller)

    async def save(self, poller: str, cursor: str, url: str) -> None:
        async with self._pool.acquire() as conn:
            await save_cursor(conn, poller, cursor, url)


class Sink(Protocol):
    async def publish(self, events: Sequence[Event], rejected: Sequence[Rejected] = ()) -> None: ...


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes | None  # None: larger than allowed


class Poller:
    """The loop: request, publish, store the cursor, wait; backs off on every failure."""

    def __init__(
        self,
        spec: PollSpec,
        sink: Sink,
        cursors: CursorStore,
        http: httpx.AsyncClient,
        *,
        handle: Handle | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self._sink = sink
        self._cursors = cursors
        self._http = http
        self._handle = handle or formats_pipeline(None)
        self._clock = clock
        self._now = now
        self._stopping = asyncio.Event()
        self._source = Trouble(spec.backoff_max_s)
        self._broker = Trouble(spec.backoff_max_s)
        self._database = Trouble(spec.backoff_max_s)
        self.cursor: str | None = None
        self._current_at = clock()
        CURSOR_AGE.labels(spec.name).set_function(lambda: self._clock() - self._current_at)
        HELD.labels(spec.name).set(0)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Poll until stopped."""
        if not await self.resume():
            return
        while not self._stopping.is_set():
            await self._pause(await self.poll_once())

    async def resume(self) -> bool:
        """Take up the stored cursor (IOC_POLL_INITIAL_CURSOR when none is); False when
        stopped before the database answered."""
        loaded, stored = await self._retry_database(lambda: self._cursors.load(self.spec.name))
        if not loaded:
            return False
        self.cursor = stored or self.spec.initial_cursor
        where = (
            f"resuming from its stored cursor {stored!r}" if stored is not None
            else f"no cursor stored: starting from {self.cursor!r}" if self.cursor
            else "no cursor stored: starting from the beginning"
        )  # fmt: skip
        log.info(
            "poller %s: GET %s for %s (%s format) every %g s; %s",
            self.spec.name, self.spec.url, self.spec.source, self.spec.format or "detected",
            self.spec.interval_s, where,
        )  # fmt: skip
        return True

    async def poll_once(self) -> float:
        """One request and all it implies; returns the seconds to wait before the next."""
        try:
            answer = await self._get()
        except httpx.TimeoutException:
            return self._source_failed(
                "timeout", f"no answer within {self.spec.timeout_s:g} s (IOC_POLL_TIMEOUT_S)"
            )
        except httpx.TransportError as error:
            return self._source_failed(
                "unreachable", f"cannot reach {self.spec.url}: {type(error).__name__}: {error}"
            )
        kind = classify(answer.status)
        said = f"the source system answered {answer.status}"
        if kind == "throttled" or kind == "server_error":
            return self._source_failed(
                kind, said,
                retry_after=retry_after_s(answer.headers.get("retry-after"), self._now()),
            )  # fmt: skip
        if kind == "client_error":
            excerpt = " ".join((answer.body or b"").decode("utf-8", "replace").split())[:200]
            return self._source_failed(
                kind,
                f"{said}{f' ({excerpt})' if excerpt else ''}: {what_to_fix(answer.status)}",
                wait=self.spec.slow_interval_s,
            )
        if answer.body is None:
            return self._source_failed(
                "unreadable",
                f"the answer is larger than {self.spec.max_body_bytes} bytes "
                "(IOC_INGEST_MAX_BODY_BYTES): ask for smaller pages (a page-size parameter in "
                "IOC_POLL_URL)",
                wait=self.spec.slow_interval_s,
            )
        if answer.headers.get("content-type", "").lower().startswith("text/html"):
            return self._source_failed(
                "unreadable",
                f"the source system answered {answer.status} with an HTML page (a login or "
                "maintenance page?), not records: check IOC_POLL_URL and IOC_POLL_TOKEN",
                wait=self.spec.slow_interval_s,
            )
        try:
            document, body, records = split_answer(answer.body, self.spec.records_field)
            verdict = (
                Judgement(self.spec.source) if records == []
                else self._handle(self.spec.source, self.spec.format, body, self._now())
            )  # fmt: skip
        except BodyError as error:
            return self._source_failed(
                "unreadable", f"the answer cannot be read: {error}", wait=self.spec.slow_interval_s
            )
        cursor = self.spec.rule.next_cursor(self.cursor, answer.headers, document, records)
        self._source_ok()
        count = verdict.accepted + verdict.refused
        POLLS.labels(self.spec.name, "records" if count else "empty").inc()
        if not await self._publish(verdict):
            return 0.0  # stopping: the cursor stays, this answer is asked for again
        if cursor is not None and cursor != self.cursor:
            saved, _ = await self._retry_database(
                lambda: self._cursors.save(self.spec.name, cursor, self.spec.url)
            )
            if not saved:
                return 0.0
            moved, self.cursor = True, cursor
        else:
            moved = False
        self._current_at = self._clock()
        return 0.0 if moved and count else self.spec.interval_s

    async def _get(self) -> _Answer:
        params = {self.spec.cursor_param: self.cursor} if self.cursor is not None else {}
        headers = {"Accept": "application/json, application/x-ndjson;q=0.9, */*;q=0.5"}
        if self.spec.token:
            headers["Authorization"] = f"Bearer {self.spec.token}"
        async with self._http.stream(
            "GET", self.spec.url, params=params, headers=headers, timeout=self.spec.timeout_s
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.spec.max_body_bytes:
                    return _Answer(response.status_code, response.headers, None)
                chunks.append(chunk)
            return _Answer(response.status_code, response.headers, b"".join(chunks))

    def _source_failed(
        self,
        kind: Outcome,
        what: str,
        *,
        retry_after: float | None = None,
        wait: float | None = None,
    ) -> float:
        POLLS.labels(self.spec.name, kind).inc()
        delay, news = self._source.failed(kind, self._clock(), retry_after=retry_after, wait=wait)
        if news:
            how = (
                f"asking again every {delay:g} s until it works" if wait is not None
                else f"retrying after {delay:g} s as it said (Retry-After)"
                if retry_after is not None
                else f"retrying with backoff from {delay:g} s up to {self.spec.backoff_max_s:g} s"
            )  # fmt: skip
            log.warning("poller %s: %s; %s", self.spec.name, what, how)
        return delay

    def _source_ok(self) -> None:
        ended = self._source.recovered(self._clock())
        if ended is not None:
            log.info(
                "poller %s: the source system answers again, after %d failed polls over %.0f s "
                "(%s)", self.spec.name, ended.attempts, ended.seconds, ended.kind,
            )  # fmt: skip

    async def _publish(self, verdict: Judgement) -> bool:
        """Publish until the broker acknowledged everything; False when stopped first."""
        if not verdict.events and not verdict.rejected:
            return True
        held = len(verdict.events) + len(verdict.rejected)
        while True:
            try:
                await asyncio.wait_for(
                    self._sink.publish(verdict.events, verdict.rejected), PUBLISH_TIMEOUT_S
                )
                break
            except (KafkaError, TimeoutError) as error:
                HELD.labels(self.spec.name).set(held)
                delay, news = self._broker.failed("broker", self._clock())
                if news:
                    log.warning(
                        "poller %s: the broker did not acknowledge (%s); holding this answer's "
                        "%d records and polling nothing more until it does (retrying with "
                        "backoff up to %g s)",
                        self.spec.name, type(error).__name__, held, self.spec.backoff_max_s,
                    )  # fmt: skip
                if not await self._pause(delay):
                    return False
        HELD.labels(self.spec.name).set(0)
        ended = self._broker.recovered(self._clock())
        if ended is not None:
            log.info(
                "poller %s: the broker acknowledged the held records after %d attempts over "
                "%.0f s; polling resumes", self.spec.name, ended.attempts, ended.seconds,
            )  # fmt: skip
        pipeline.count(verdict)  # the ingest metrics, as every transport moves them
        RECORDS.labels(self.spec.name, "accepted").inc(verdict.accepted)
        RECORDS.labels(self.spec.name, "rejected").inc(verdict.refused)
        return True

    async def _retry_database(self, step: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        """(True, what `step()` returned) once the database took it; (False, None) when
        stopped first. Retries with backoff while the database is unavailable."""
        while not self._stopping.is_set():
            try:
                result = await step()
            except DATABASE_UNAVAILABLE as error:
                delay, news = self._database.failed("database", self._clock())
                if news:
                    log.warning(
                        "poller %s: the database is unavailable (%s: %s); the cursor waits and "
                        "nothing more is polled (retrying with backoff up to %g s)",
                        self.spec.name, type(error).__name__, error, self.spec.backoff_max_s,
                    )  # fmt: skip
                await self._pause(delay)
                continue
            ended = self._database.recovered(self._clock())
            if ended is not None:
                log.info(
                    "poller %s: the database is back after %.0f s", self.spec.name, ended.seconds
                )
            return True, result
        return False, None

    async def _pause(self, seconds: float) -> bool:
        """Wait `seconds` (0: just yield); False when told to stop meanwhile."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return not self._stopping.is_set()
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False


async def run_poller(settings: Settings) -> None:
    """`ioc poll`: the poller of `settings`, with its own producer and database pool
    (waiting for the broker at start as long as it takes: `ioc.waiting`)."""
    from ioc.kafka import make_producer
    from ioc.waiting import reach, started

    spec = PollSpec.from_settings(settings)
    producer = await reach(
        started(lambda: make_producer(settings)), f"Kafka at {settings.kafka_bootstrap}",
        "IOC_KAFKA_BOOTSTRAP",
    )  # fmt: skip
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=1)
    try:
        async with httpx.AsyncClient(follow_redirects=True) as http:
            poller = Poller(
                spec, Publisher(producer, settings), DatabaseCursors(pool), http,
                handle=formats_pipeline(
                    settings.ingest_max_records,
                    load_reference(settings.reference_file).communes_by_agency(),
                ),
            )  # fmt: skip
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, poller.stop)
            if settings.poll_metrics_port:
                start_http_server(settings.poll_metrics_port, addr="127.0.0.1")
            await poller.run()
            log.info("poller %s: stopped at cursor %r", spec.name, poller.cursor)
    finally:
        await pool.close()
        try:
            await asyncio.wait_for(producer.stop(), 15)
        except TimeoutError:
            log.warning("poller %s: the producer did not stop within 15 s", spec.name)
