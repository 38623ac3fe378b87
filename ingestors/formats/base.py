"""What a format is made of, and the helpers its mapper shares with the others.

A `Format` is a parser (bytes -> records, knowing its own framing) and a mapper
(one record -> zero or more canonical records, or per-record errors), plus how it is
recognised when the sender does not name it. Everything here is pure: no I/O, no
clock (the receipt time comes in `MapContext`), no exception for bad input.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from typing import Any

import orjson

from ingestors.body import RawRecord, dumps_any
from ioc.working_time import VN_TZ

# Vietnam has kept UTC+7 without daylight saving time since 1975, so a fixed offset is
# Asia/Ho_Chi_Minh for every instant IOC stores (1970 onwards differs only before 1975-06).
NO_ZONE = "no_time_zone"  # the warning kind (a metric label) of a date taken as Vietnam time

Parser = Callable[[bytes, int | None], list[RawRecord]]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem (or warning) with one field of the record as the source sent it.

    `field` is a dotted path in the source's own names (`alert.severity`,
    `rule.level`, `header.severity`, `rt`), "" for the record as a whole. `kind` is a
    short fixed word for metric labels (warnings only); never text from the input.
    """

    field: str
    reason: str
    kind: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


@dataclass(slots=True)
class Mapped:
    """What one record becomes.

    - `events`: canonical records (dicts in IOC's own shape, see the README), zero or
      more; the pipeline validates each one as the canonical format would.
    - `errors`: when not empty the whole record is refused (dead-lettered with its raw
      bytes and these reasons), whatever `events` holds.
    - `warnings`: the record is taken, but something was assumed (a date without a time
      zone taken as Vietnam time); the sender sees them in the record's result.
    - `skipped`: for a valid record that maps to no event on purpose (a Suricata `dns`
      event): a short fixed word, counted per kind in a metric, with `note` for the
      sender. Never an error, never dead-lettered.
    - `origins`: canonical field -> the source field it came from, so that an error
      the canonical validation finds in a mapped event names the field the sender knows.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    skipped: str | None = None
    note: str | None = None
    origins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MapContext:
    """What a mapper may know besides the record: the endpoint's source, the agency the
    sender stated for the whole request (`?agency=`, or a listener's configuration),
    when ingest received it, and the commune of each commune-level agency in the
    reference data (`communes`, for formats that carry no commune: a DVC record's is
    its processing agency's) - all injected, so mappers stay pure and testable."""

    source: str
    received_at: datetime
    agency: str | None = None
    communes: Mapping[str, str] = field(default_factory=dict)


Mapper = Callable[[Any, MapContext], Mapped]


@dataclass(frozen=True, slots=True)
class Format:
    """A parser plus a mapper, and how the format is recognised.

    - `sources`: the endpoints it may be sent to (`?format=` elsewhere is a 400);
    - `parser`: the body's framing -> records (raises `BodyError`/`TooManyRecords`
      for a body that cannot be read as a whole; a bad record is a `RawRecord` with
      `error`, judged on its own);
    - `detect`: True for a record (as the JSON parser yields it, or a text line) of
      this format; used per record when the body is JSON and `?format=` is omitted;
    - `sniff`: True for a body (its first bytes, after any BOM and whitespace) that is
      framed for this format and not as JSON (XML, CEF/syslog lines); the body is then
      parsed with this format's parser and every record mapped by it.
    """

    name: str
    title: str
    sources: frozenset[str]
    parser: Parser
    mapper: Mapper
    detect: Callable[[Any], bool] | None = None
    sniff: Callable[[bytes], bool] | None = None


# -- helpers shared by the mappers ------------------------------------------------------


def content_id(prefix: str, record: Any) -> str:
    """An event id derived from the record's content: the same record sent again gets the
    same id, so the processor stores it once. Keys are sorted, so a sender that
    reorders a JSON object's keys still re-sends the same event."""
    if isinstance(record, (bytes, str)):
        data = record.encode("utf-8", "surrogatepass") if isinstance(record, str) else record
    else:
        try:
            data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            data = dumps_any(record).encode("utf-8", "backslashreplace")
    return f"{prefix}-{hashlib.sha256(data).hexdigest()[:32]}"


def short_hash(*parts: object) -> str:
    """A short stable digest of `parts` (for entity ids built from several fields)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


_IDENTIFIER = re.compile(r"^[^\s\x00]{1,200}$")


def as_identifier(value: Any) -> str | None:
    """`value` as an IOC identifier (no whitespace, at most 200 characters), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str) and _IDENTIFIER.match(value):
        return value
    return None


def get_path(record: Mapping[str, Any], path: str) -> Any:
    """`record["a"]["b"]` for "a.b", also when the sender flattened it to `record["a.b"]`
    (ECS allows both); None when absent."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def parse_instant(value: Any, where: str) -> tuple[datetime | None, Issue | None, Issue | None]:
    """(instant, error, warning) for an ISO 8601 date-time (`+07:00`, `+0700` and `Z`
    accepted). Without a time zone it is taken as Asia/Ho_Chi_Minh, and the warning
    says so. Numbers are refused here: each format says what its numbers mean."""
    if not isinstance(value, str) or not value.strip():
        return None, Issue(where, f"must be an ISO 8601 date-time, got {shown(value)}"), None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None, Issue(where, f"{shown(value)} is not an ISO 8601 date-time"), None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=VN_TZ), None, naive_warning(where)
    return parsed, None, None


def year_nearest(month: int, day: int, received_at: datetime, zone: timezone = VN_TZ) -> int:
    """The year of a date written without one (a BSD syslog or CEF `MMM dd` date): of the
    receipt's year and the years either side, the one that puts it nearest the receipt,
    so a December message read in January is last year's. Pure: the receipt time is
    passed in."""
    received = received_at.astimezone(zone)
    best, distance = received.year, None
    for year in (received.year - 1, received.year, received.year + 1):
        try:
            gap = abs((datetime(year, month, day, tzinfo=zone) - received).total_seconds())
        except ValueError:  # 29 February of a year that has none, a day out of range
            continue
        if distance is None or gap < distance:
            best, distance = year, gap
    return best


def naive_warning(where: str) -> Issue:
    return Issue(where, "has no time zone; taken as Asia/Ho_Chi_Minh (UTC+07:00)", NO_ZONE)


def iso(instant: datetime) -> str:
    """An instant as the canonical record carries it (ISO 8601 with its offset)."""
    return instant.isoformat()


def epoch_ms(value: int | float, where: str) -> tuple[datetime | None, Issue | None]:
    try:
        return datetime.fromtimestamp(value / 1000, UTC), None
    except (OverflowError, OSError, ValueError):
        return None, Issue(where, f"{value!r} milliseconds since 1970 is not a date IOC can hold")


def shown(value: Any) -> str:
    """A value as an error message may quote it: short, never the whole input."""
    text = repr(value) if not isinstance(value, dict | list) else f"a JSON {_kind(value)}"
    return text if len(text) <= 60 else text[:60] + "..."


def _kind(value: Any) -> str:
    return "object" if isinstance(value, dict) else "array"
