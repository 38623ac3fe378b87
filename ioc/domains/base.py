"""What a domain declares, once, for the generic machinery to work from.

A domain (filings, documents, security) is one module that says: its payload model,
which payload field names the entity, its event types, which of them create an entity
and what creating needs (a later status update may omit the rest), its state (a
frozen dataclass whose fields are the columns of its state table), and its fold - the
pure function from all of one entity's stored events (and the working-time calendar,
passed in, for what is counted in working time) to that state. The processor's
writer and the API's readers take everything else (columns, SQL types, the upsert)
from these declarations, so a new domain is one new module.

Why a fold of the whole history rather than "apply the latest event": events arrive
out of order, are redelivered and split across batches. A state that is a function
of the *set* of an entity's events, taken in `(occurred_at, event_id)` order, is the
same whatever the arrival order - which property-based tests check for every domain.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from ioc.clock import Calendar, Clock
from ioc.fields import Strict

S = TypeVar("S")  # a domain's state dataclass


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event as a fold sees it: the payload as sent (nulls = not sent)."""

    event_id: str
    type: str
    occurred_at: datetime
    agency: str
    payload: Mapping[str, Any]

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


@dataclass(frozen=True, slots=True)
class Flag:
    """Something odd about an entity's history: kept, counted, listed - never fatal."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def in_order(events: Iterable[StoredEvent]) -> list[StoredEvent]:
    return sorted(events, key=lambda e: e.order)


def latest(events: Sequence[StoredEvent], field: str) -> Any:
    """The value of `field` in the latest event that sent one (events in order)."""
    for event in reversed(events):
        value = event.payload.get(field)
        if value is not None:
            return value
    return None


def instant(value: Any) -> datetime | None:
    """A payload instant (ISO 8601 text in stored JSON) as an aware UTC datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC)


def with_fields(state: S, **values: Any) -> S:
    """`state` with `values`, copied only if one of them differs: a domain's `timed` runs
    on every state folded and most are unchanged by the clock, and copying each one
    costs more than the fold."""
    if all(getattr(state, name) == value for name, value in values.items()):
        return state
    return dataclasses.replace(state, **values)  # type: ignore[type-var]


def first_at(events: Sequence[StoredEvent], *types_: str) -> datetime | None:
    for event in events:
        if event.type in types_:
            return event.occurred_at
    return None


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


# Python types of state fields -> PostgreSQL column types.
_SQL_TYPES: dict[Any, str] = {
    str: "text",
    bool: "boolean",
    int: "bigint",
    float: "double precision",
    datetime: "timestamptz",
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    sql_type: str  # e.g. text, timestamptz, text[]
    nullable: bool

    @property
    def is_array(self) -> bool:
        return self.sql_type.endswith("[]")


def sql_type(annotation: Any) -> tuple[str, bool]:
    """(column type, nullable) for a state field's annotation; `X | None` is nullable X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return sql_type(inner)[0], True
    if typing.get_origin(annotation) is tuple:
        return sql_type(typing.get_args(annotation)[0])[0] + "[]", False
    return _SQL_TYPES[annotation], False


Contribution = dict[tuple[Any, ...], dict[str, int]]  # rollup key -> measure -> amount


@dataclass(frozen=True)
class Rollup:
    """A table of sums per key that the KPIs read instead of scanning state or history.

    Every entity contributes to it through `contribute(state)`; when a batch or the
    clock changes an entity, its old contribution is taken out and its new one put
    in, inside the same transaction, so the table always equals a full recount.
    The key is `day` (the entity's day in Vietnam time) followed by `dims`, the first
    of which is always `agency`.

    Measures of the present (how many are open, overdue now) are asked for across all
    days; `current` names them, and they are also kept summed over days in the small
    `current_totals` table, per agency and per value of `current_dim` (e.g. severity),
    so the wall screen's numbers never need a scan that grows with the days.

    `breakdowns` names the dimensions the KPI answer splits the catalogue by
    (`by_<dim>`: the catalogue of each value, e.g. alerts by category, filings by channel).
    """

    table: str
    dims: tuple[str, ...]
    measures: tuple[str, ...]
    contribute: Callable[[Any], Contribution]
    current: tuple[str, ...] = ()
    current_dim: str | None = None
    breakdowns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.dims[0] == "agency", "the first dimension of a rollup is the agency"
        assert set(self.current) <= set(self.measures)
        assert self.current_dim is None or self.current_dim in self.dims
        assert set(self.breakdowns) <= set(self.dims)


def one(key: tuple[Any, ...], **measures: int | bool | None) -> Contribution:
    """A single-key contribution; booleans count as 1/0, None as 0. Whole numbers only,
    so that taking a contribution out and putting it back in is exact."""
    return {key: {name: int(value or 0) for name, value in measures.items()}}


def ms(duration_s: float | None) -> int:
    """A duration as whole milliseconds, the unit rollups sum durations in."""
    return round(duration_s * 1000) if duration_s is not None else 0


# Derived once per state type: `typing.get_type_hints` is far too slow to run per row.
@functools.cache
def _columns(state_type: type) -> tuple[Column, ...]:
    hints = typing.get_type_hints(state_type)
    return tuple(Column(f.name, *sql_type(hints[f.name])) for f in dataclasses.fields(state_type))


@functools.cache
def _field_names(state_type: type) -> tuple[str, ...]:
    return tuple(c.name for c in _columns(state_type))


@functools.cache
def _row_shape(state_type: type) -> tuple[tuple[str, bool], ...]:
    return tuple((c.name, c.is_array) for c in _columns(state_type))


@dataclass(frozen=True)
class Domain:
    source: str
    entity_field: str  # the payload field that names the entity, e.g. filing_id
    payload_model: type[Strict]
    event_types: tuple[str, ...]
    creating_types: frozenset[str]  # event types that may open an entity
    required_to_create: tuple[str, ...]  # payload fields a creating event must carry
    state_type: type  # a frozen dataclass; its fields are the state table's columns
    state_table: str
    # (entity id, events in order, working calendar) -> state. The calendar is an
    # argument, so the fold stays pure: what counts working time (a filing's 766
    # resolution time) counts it in the calendar of the clock the caller judges with.
    fold: Callable[[str, Sequence[StoredEvent], Calendar], Any]
    rollup: Rollup
    # What the clock adds: `timed(state, clock)` sets the state's clock fields (e.g.
    # overdue) for the time now; `tick_where` selects, in SQL over the state table, the
    # rows whose clock fields may turn true by now ({now}, {horizon}: the at-risk
    # horizon, {ack_deadline}: the acknowledgement deadline), so a tick reads only those.
    timed: Callable[[Any, Clock], Any]
    clock_fields: tuple[str, ...]
    tick_where: str

    def columns(self) -> list[Column]:
        """The state table's columns, in the state dataclass's field order."""
        return list(_columns(self.state_type))

    def row(self, state: Any) -> tuple[Any, ...]:
        return tuple(getattr(state, name) for name in _field_names(self.state_type))

    def state_from_row(self, row: Any) -> Any:
        """A state read back from its table row (a mapping; arrays come back as lists)."""
        return self.state_type(
            **{
                name: tuple(row[name]) if is_array else row[name]
                for name, is_array in _row_shape(self.state_type)
            }
        )

    def missing_to_create(self, event_type: str, payload: Mapping[str, Any]) -> list[str]:
        """Payload fields an event of `event_type` lacks to create its entity."""
        if event_type not in self.creating_types:
            return []
        return [name for name in self.required_to_create if payload.get(name) is None]
