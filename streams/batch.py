"""What a micro-batch means for counts and state, computed from the events that were new.

Pure: the sink asks the database which events of a batch were new, hands exactly
those to `aggregate`, and writes what comes back: counts moved only by new events
(so nothing is counted twice), and the entities they touch, whose state the sink
then refolds from their whole stored history (`ioc.db.state.refold`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ioc.events import Event


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


@dataclass
class BatchDelta:
    """Everything one batch of new events changes: counts, and which entities to refold."""

    new_by_source: Counter[str] = field(default_factory=Counter)
    per_minute: Counter[MinuteKey] = field(default_factory=Counter)
    touched: dict[str, set[str]] = field(default_factory=dict)  # source -> entity ids

    @property
    def new_events(self) -> int:
        return sum(self.new_by_source.values())

    def add(self, other: BatchDelta) -> None:
        """Take in the delta of another part of the same batch."""
        self.new_by_source.update(other.new_by_source)
        self.per_minute.update(other.per_minute)
        for source, ids in other.touched.items():
            self.touched.setdefault(source, set()).update(ids)


def minute_bucket(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def aggregate(new_events: Iterable[Event]) -> BatchDelta:
    """Count new events per source and per minute, and note the entities they touch."""
    delta = BatchDelta()
    for event in new_events:
        delta.new_by_source[event.source] += 1
        delta.per_minute[
            (minute_bucket(event.occurred_at), event.source, event.type, event.agency)
        ] += 1
        delta.touched.setdefault(event.source, set()).add(event.entity_id)
    return delta
