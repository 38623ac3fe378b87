"""The ingest pipeline every transport calls: parse -> validate -> normalise -> key -> produce.

- `read_body`: choose the format (`?format=`, else sniffed from the body's framing, else
  JSON detected per record) and parse the body into records;
- `judge`: map each record with its format, validate every event it maps to as a
  canonical event, and decide per record: accepted (all its events valid; zero events
  when the format skips it on purpose) or refused (any error: the whole record goes to
  the dead-letter topic with its raw bytes and every reason). Pure: no I/O, no clock
  but the one passed in, no exception for any input;
- `Publisher.publish` (`ingestors.publisher`): keys each event by its entity id,
  produces it, and dead-letters the refused records, waiting for the broker;
- `count`: moves the ingest metrics, once the broker has acknowledged.

The HTTP receiver (`ingestors.http`) is a thin shell around these; replay goes through
it; a syslog listener or poller frames its own `RawRecord`s and calls `judge`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingestors import metrics
from ingestors.body import RawRecord, parse_records
from ingestors.formats import Format, MapContext, detect_record, format_named, sniff_body
from ingestors.formats.base import Issue, Mapped
from ingestors.publisher import Rejected
from ioc.events import Event, validate_event

log = logging.getLogger(__name__)

MAX_EVENTS_PER_RECORD = 10_000  # a snapshot with a history longer than this is refused


@dataclass(frozen=True, slots=True)
class Parsed:
    """A body read into records: `format` is None when each record's format is detected."""

    format: Format | None
    records: list[RawRecord]
    detected: bool  # not named by the sender: sniffed from the body, or detected per record


def read_body(source: str, body: bytes, format_name: str | None, max_records: int | None) -> Parsed:
    """Raises UnknownFormat (`?format=` names no format of this source), BodyError (the body
    cannot be read as a whole) or TooManyRecords."""
    chosen = format_named(source, format_name)
    detected = chosen is None
    if chosen is None:
        chosen = sniff_body(source, body)
    parser = chosen.parser if chosen is not None else parse_records
    return Parsed(chosen, parser(body, max_records), detected)


@dataclass(slots=True)
class Judgement:
    """One request's (or one batch of records') verdict, record by record."""

    source: str
    named: Format | None = None  # the format of every record (named or sniffed)
    detected: bool = True  # the sender did not name the format
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    accepted_by_format: Counter[str] = field(default_factory=Counter)
    rejected_by_format: Counter[str] = field(default_factory=Counter)
    events_by_format: Counter[str] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (format, kind)
    warnings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (format, kind)

    @property
    def accepted(self) -> int:
        return sum(self.accepted_by_format.values())

    @property
    def refused(self) -> int:
        return sum(self.rejected_by_format.values())

    @property
    def format(self) -> str:
        """The format used: the one named or sniffed, else the one every record was detected
        as, `mixed` when they differ (see `formats`)."""
        if self.named is not None:
            return self.named.name
        used = set(self.accepted_by_format) | set(self.rejected_by_format)
        return used.pop() if len(used) == 1 else ("mixed" if used else "canonical")

    @property
    def status(self) -> int:
        return 200 if not self.rejected else (207 if self.accepted else 422)

    def response(self) -> dict[str, Any]:
        formats = self.accepted_by_format + self.rejected_by_format
        return {
            "source": self.source,
            "format": self.format,
            "detected": self.detected,
            "formats": dict(sorted(formats.items())),
            "accepted": self.accepted,
            "rejected": self.refused,
            "events": len(self.events),
            "warnings": sum(self.warnings.values()),
            "results": self.results,
        }


def judge(
    source: str,
    records: Iterable[RawRecord],
    ctx: MapContext,
    fmt: Format | None = None,
    *,
    detected: bool | None = None,
) -> Judgement:
    """Every record's verdict; `fmt` None detects each record's format. `detected` says
    whether the sender left the format out (default: when `fmt` is None)."""
    verdict = Judgement(
        source=source, named=fmt, detected=fmt is None if detected is None else detected
    )
    for record in records:
        if record.error is not None:  # framed but unreadable: judged under the format asked
            _refuse(verdict, record, fmt.name if fmt else "canonical", [record.error])
            continue
        used = fmt or detect_record(source, record.value)
        name = used.name
        mapped = _map(used, record.value, ctx)
        errors = [str(e) for e in mapped.errors]
        events: list[Event] = []
        if not errors:
            for i, candidate in enumerate(mapped.events):
                outcome = validate_event(source, candidate)
                if isinstance(outcome, list):
                    n = len(mapped.events)
                    where = f"event {i + 1} of {n}: " if n > 1 else ""
                    errors += [where + _named(str(e.loc), e.msg, mapped.origins) for e in outcome]
                else:
                    events.append(outcome)
        if errors:
            _refuse(verdict, record, name, errors, mapped.warnings)
            continue
        verdict.events += events
        verdict.events_by_format[name] += len(events)
        verdict.accepted_by_format[name] += 1
        result: dict[str, Any] = {
            "index": record.index,
            "status": "accepted",
            "format": name,
            "event_ids": [e.event_id for e in events],
        }
        if mapped.skipped is not None:
            verdict.skipped[(name, mapped.skipped)] += 1
            result["note"] = mapped.note or f"not an event ({mapped.skipped})"
        _warn(verdict, result, name, mapped.warnings)
        verdict.results.append(result)
    return verdict


def _map(fmt: Format, value: Any, ctx: MapContext) -> Mapped:
    """The format's mapping, bounded: a mapper that fails on an input it did not foresee
    refuses that record rather than the request (and never answers 500); the property
    tests hold every mapper to never getting here."""
    try:
        mapped = fmt.mapper(value, ctx)
    except Exception as error:  # a mapper bug must cost one record, not the request
        log.exception("the %s mapper failed on a record", fmt.name)
        reason = f"the {fmt.name} mapper could not read it ({type(error).__name__})"
        return Mapped(errors=[Issue("", reason)])
    if len(mapped.events) > MAX_EVENTS_PER_RECORD:
        return Mapped(
            errors=[Issue("", f"maps to {len(mapped.events)} events, more than "
                          f"{MAX_EVENTS_PER_RECORD}; send it in parts")]
        )  # fmt: skip
    return mapped


def _named(loc: str, msg: str, origins: Any) -> str:
    """A canonical validation error in the sender's field names when the mapper said where
    the value came from."""
    origin = origins.get(loc) if loc else None
    if origin is None:
        return f"{loc}: {msg}" if loc else msg
    return f"{origin}: {msg} (as {loc})"


def _refuse(
    verdict: Judgement,
    record: RawRecord,
    name: str,
    errors: list[str],
    warnings: Sequence[Issue] = (),
) -> None:
    verdict.rejected.append(Rejected(source=verdict.source, errors=errors, raw=record.text))
    verdict.rejected_by_format[name] += 1
    result: dict[str, Any] = {
        "index": record.index,
        "status": "rejected",
        "format": name,
        "errors": errors,
    }
    _warn(verdict, result, name, warnings)
    verdict.results.append(result)


def _warn(verdict: Judgement, result: dict[str, Any], name: str, warnings: Sequence[Issue]) -> None:
    if warnings:
        result["warnings"] = [str(w) for w in warnings]
        for w in warnings:
            verdict.warnings[(name, w.kind or "other")] += 1


def count(verdict: Judgement) -> None:
    """Move the ingest metrics for a verdict the broker has acknowledged."""
    source = verdict.source
    for name, n in verdict.accepted_by_format.items():
        metrics.RECORDS.labels(source, name, "accepted").inc(n)
    for name, n in verdict.rejected_by_format.items():
        metrics.RECORDS.labels(source, name, "rejected").inc(n)
    for name, n in verdict.events_by_format.items():
        metrics.EVENTS.labels(source, name).inc(n)
    for (name, kind), n in verdict.skipped.items():
        metrics.SKIPPED.labels(source, name, kind).inc(n)
    for (name, kind), n in verdict.warnings.items():
        metrics.WARNINGS.labels(source, name, kind).inc(n)


def received_now() -> datetime:
    """The receipt time a transport passes in `MapContext` (the only clock read here)."""
    return datetime.now(UTC)
