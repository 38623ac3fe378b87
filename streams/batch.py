"""What a micro-batch means for state and KPIs, computed from the events that were new.

Pure: the sink asks the database which events of a batch were new, hands exactly
those to `aggregate`, and writes what comes back. Because nothing here sees a
duplicate, nothing here can count one twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ioc.events import (
    ALERT_CLOSING_TYPES,
    FILING_TERMINAL_TYPES,
    Event,
    FilingEvent,
    SecurityEvent,
)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One decoded Kafka record: the event, when ingest accepted it, where it came from,
    and the bytes as read (what the dead-letter topic gets if the database refuses it)."""

    event: Event
    ingested_at: datetime
    topic: str
    partition: int
    offset: int
    raw: bytes = b""

    @property
    def key(self) -> tuple[str, str]:
        return (self.event.source, self.event.event_id)


def first_of_each(records: Iterable[Incoming]) -> list[Incoming]:
    """Drop repeats of an event inside one batch (a client re-send), keeping the first."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for record in records:
        if record.key not in seen:
            seen.add(record.key)
            unique.append(record)
    return unique


MinuteKey = tuple[datetime, str, str, str]  # (bucket, source, event_type, agency)


@dataclass(frozen=True, slots=True)
class FilingState:
    filing_id: str
    agency: str
    procedure_code: str
    channel: str
    status: str
    is_open: bool
    due_at: datetime | None
    last_event_at: datetime
    last_event_id: str


@dataclass(frozen=True, slots=True)
class AlertState:
    alert_id: str
    agency: str
    severity: str
    category: str
    asset: str | None
    signature: str | None
    status: str
    is_open: bool
    last_event_at: datetime
    last_event_id: str


@dataclass
class BatchDelta:
    """Everything one batch of new events changes."""

    new_by_source: Counter[str] = field(default_factory=Counter)
    per_minute: Counter[MinuteKey] = field(default_factory=Counter)
    filings: dict[str, FilingState] = field(default_factory=dict)
    alerts: dict[str, AlertState] = field(default_factory=dict)

    @property
    def new_events(self) -> int:
        return sum(self.new_by_source.values())

    def add(self, other: BatchDelta) -> None:
        """Take in the delta of another part of the same batch (written after this one).

        State keeps the later of two entries for one entity, as the database's
        last-writer-wins guard would.
        """
        self.new_by_source.update(other.new_by_source)
        self.per_minute.update(other.per_minute)
        for key, filing in other.filings.items():
            mine = self.filings.get(key)
            if mine is None or _state_order(filing) > _state_order(mine):
                self.filings[key] = filing
        for key, alert in other.alerts.items():
            current = self.alerts.get(key)
            if current is None or _state_order(alert) > _state_order(current):
                self.alerts[key] = alert


def minute_bucket(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _order(event: Event) -> tuple[datetime, str]:
    """Which of two events about one entity is later: occurrence time, then event id."""
    return (event.occurred_at, event.event_id)


def _state_order(state: FilingState | AlertState) -> tuple[datetime, str]:
    return (state.last_event_at, state.last_event_id)


def filing_state(event: FilingEvent) -> FilingState:
    p = event.payload
    return FilingState(
        filing_id=p.filing_id,
        agency=event.agency,
        procedure_code=p.procedure_code,
        channel=p.channel,
        status=event.type,
        is_open=event.type not in FILING_TERMINAL_TYPES,
        due_at=p.due_at,
        last_event_at=event.occurred_at,
        last_event_id=event.event_id,
    )


def alert_state(event: SecurityEvent) -> AlertState:
    p = event.payload
    return AlertState(
        alert_id=p.alert_id,
        agency=event.agency,
        severity=p.severity,
        category=p.category,
        asset=p.asset,
        signature=p.signature,
        status=event.type,
        is_open=event.type not in ALERT_CLOSING_TYPES,
        last_event_at=event.occurred_at,
        last_event_id=event.event_id,
    )


def aggregate(new_events: Iterable[Event]) -> BatchDelta:
    """Fold new events into counts and the latest state per filing and per alert."""
    delta = BatchDelta()
    latest: dict[tuple[str, str], Event] = {}
    for event in new_events:
        delta.new_by_source[event.source] += 1
        delta.per_minute[
            (minute_bucket(event.occurred_at), event.source, event.type, event.agency)
        ] += 1
        if isinstance(event, FilingEvent | SecurityEvent):
            key = (event.source, event.entity_id)
            current = latest.get(key)
            if current is None or _order(event) > _order(current):
                latest[key] = event
    for event in latest.values():
        if isinstance(event, FilingEvent):
            delta.filings[event.payload.filing_id] = filing_state(event)
        elif isinstance(event, SecurityEvent):
            delta.alerts[event.payload.alert_id] = alert_state(event)
    return delta
