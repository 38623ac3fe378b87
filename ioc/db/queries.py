"""What the API reads about entities: filtered, keyset-paginated state listings, and
how recently each source and agency sent anything.

The SQL is generated from the domain declarations (`DOMAINS[source].state_table`,
`.columns()`, `.entity_field`), so a listing returns every column of the state, in the
state dataclass's order, and no column list is written here. What is written here is
the meaning of each `state=` filter, as SQL conditions over named columns (checked
against the declarations when this module is imported).

Pagination is keyset: a page is the rows after the previous page's last sort key,
`ORDER BY <key columns>, <entity id>`, so a page costs the same wherever it is and a
row inserted or removed elsewhere never shifts the pages after it. The sort keys and
conditions are chosen to match the indexes of migration 0003:

- filings and documents, open / overdue / at risk / waiting: `(due_at, id)` over the
  partial index `<table>_open_due (due_at) WHERE is_open`, with `due_at < $now` (and the
  cursor) as index conditions; a filing or document without a due date comes last;
- flagged: `(id)` over the partial index `<table>_flagged (id) WHERE cardinality(flags) > 0`;
- alerts, open / unacknowledged: `(first_event_at, id)`, oldest first (the one
  waiting longest on top), over `alert_state_open (severity) WHERE is_open`;
- no `state`: `(id)` over the primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from ioc.config import SOURCES
from ioc.db import Conn
from ioc.domains import DOMAINS
from ioc.domains.base import Column

# `/api/sources` looks this far back in `event_counts_minute` for the last event per
# agency and per source, so that its cost is bounded by the window and never grows with
# the history kept. A source or agency silent for longer shows no last event there.
ACTIVITY_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Cond:
    """One SQL condition over a state table; each `{}` in `sql` takes the next value."""

    sql: str
    values: tuple[Any, ...] = ()


def cond(sql: str, *values: Any) -> Cond:
    return Cond(sql, values)


@dataclass(frozen=True)
class Filter:
    """A `state=` filter: its conditions and its sort key (before the entity id).
    `key_nullable`: rows whose first key column is null may match (they sort last)."""

    where: tuple[Cond, ...] = ()
    order: tuple[str, ...] = ()
    key_nullable: bool = False


def _filter(*where: Cond, order: tuple[str, ...] = (), key_nullable: bool = False) -> Filter:
    return Filter(tuple(where), order, key_nullable)


FilterOf = Callable[[datetime], Filter]  # now -> filter

OPEN = cond("is_open")
FLAGGED = cond("cardinality(flags) > 0")

# state -> filter, per source. Adding a state is adding a line here (and its docs).
STATES: dict[str, dict[str, FilterOf]] = {
    "filings": {
        "open": lambda now: _filter(OPEN, order=("due_at",), key_nullable=True),
        # The state's clock fields, as the tick and the rollups have them (766: a filing
        # waiting for the citizen is neither; at risk is within one working day); the
        # due_at bound keeps the open-and-due index in play.
        "overdue": lambda now: _filter(
            OPEN, cond("overdue"), cond("due_at < {}", now), order=("due_at",)
        ),
        "at_risk": lambda now: _filter(OPEN, cond("at_risk"), order=("due_at",)),
        "waiting": lambda now: _filter(
            OPEN,
            cond("supplement_open_since IS NOT NULL"),
            order=("due_at",),
            key_nullable=True,
        ),
        "flagged": lambda now: _filter(FLAGGED),
    },
    "documents": {
        "open": lambda now: _filter(OPEN, order=("due_at",), key_nullable=True),
        "overdue": lambda now: _filter(OPEN, cond("due_at < {}", now), order=("due_at",)),
        "flagged": lambda now: _filter(FLAGGED),
    },
    "security": {
        "open": lambda now: _filter(OPEN, order=("first_event_at",)),
        "unacknowledged": lambda now: _filter(
            OPEN, cond("acknowledged_at IS NULL"), order=("first_event_at",)
        ),
        "flagged": lambda now: _filter(FLAGGED),
    },
}
assert set(STATES) == set(SOURCES), "a source without its listing states"
ALL = _filter()  # no state: every entity, by id


@cache
def columns(source: str) -> dict[str, Column]:
    return {column.name: column for column in DOMAINS[source].columns()}


def _check_declarations() -> None:
    """Every column a filter names exists in its domain's state: a renamed field fails
    at import, not at the first request."""
    for source, states in STATES.items():
        known = columns(source)
        for name, filter_of in states.items():
            f = filter_of(datetime(2000, 1, 1))
            # A condition starts with the column it is about (`flags` is inside a call).
            needed = {"flags", *f.order}
            needed |= {c.sql.split()[0] for c in f.where if c.sql.split()[0].isidentifier()}
            missing = needed - set(known)
            assert not missing, f"{source} state={name} names unknown columns {missing}"


_check_declarations()


def sort_key(source: str, f: Filter) -> tuple[Column, ...]:
    """The full sort key of a listing: its order columns, then the entity id."""
    known = columns(source)
    return tuple(known[name] for name in (*f.order, DOMAINS[source].entity_field))


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]  # state rows, as the database returns them
    next_after: tuple[Any, ...] | None  # the last row's sort key, when more follow


class _Args:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def listing_sql(
    source: str,
    f: Filter,
    *,
    equals: Sequence[tuple[str, Any]] = (),
    any_of: Sequence[tuple[str, Sequence[str]]] = (),
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> tuple[str, list[Any]]:
    """The SELECT of one page (`limit` + 1 rows, to know whether more follow) and its
    arguments. `equals` are (column, value) filters, `any_of` (column, allowed values);
    `after` is the previous page's last sort key.

    The cursor is a row comparison `(key...) > (after...)`, which PostgreSQL turns into
    an index condition on the key's first column. When that column may be null (sorted
    last) and the cursor is not yet among the nulls, the page is the rest of the non-null
    rows followed by the null ones: two index scans under one `UNION ALL`, because an
    `OR key IS NULL` would make PostgreSQL read the index from its start on every page.
    """
    domain = DOMAINS[source]
    known = columns(source)
    arg = _Args()
    where = [c.sql.format(*(arg(value) for value in c.values)) for c in f.where]
    for name, value in equals:
        where.append(f"{known[name].name} = {arg(value)}")
    for name, values in any_of:
        where.append(f"{known[name].name} = ANY({arg(list(values))}::text[])")
    key = [c.name for c in sort_key(source, f)]
    order = ", ".join(key)
    select = f"SELECT {', '.join(known)} FROM {domain.state_table}"
    n = int(limit) + 1

    def query(conditions: Sequence[str]) -> str:
        return (
            select
            + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
            + f" ORDER BY {order} LIMIT {n}"
        )

    if after is None:
        return query(where), arg.values
    if f.key_nullable and after[0] is None:  # among the nulls: by the rest of the key
        rest, params = ", ".join(key[1:]), ", ".join(arg(value) for value in after[1:])
        return query([*where, f"{key[0]} IS NULL", f"({rest}) > ({params})"]), arg.values
    params = ", ".join(arg(value) for value in after)
    later = query([*where, f"({order}) > ({params})"])
    if not f.key_nullable:
        return later, arg.values
    nulls = query([*where, f"{key[0]} IS NULL"])
    return f"SELECT * FROM (({later}) UNION ALL ({nulls})) page ORDER BY {order} LIMIT {n}", (
        arg.values
    )


async def list_states(
    conn: Conn,
    source: str,
    f: Filter,
    *,
    equals: Sequence[tuple[str, Any]] = (),
    any_of: Sequence[tuple[str, Sequence[str]]] = (),
    after: Sequence[Any] | None = None,
    limit: int = 50,
) -> Page:
    """One page of `source`'s state rows matching `f` and the filters, after `after`."""
    sql, args = listing_sql(source, f, equals=equals, any_of=any_of, after=after, limit=limit)
    rows = [dict(row) for row in await conn.fetch(sql, *args)]
    more = len(rows) > limit
    rows = rows[:limit]
    key = sort_key(source, f)
    next_after = tuple(rows[-1][c.name] for c in key) if more and rows else None
    return Page(rows, next_after)


_TOTALS = "SELECT source, last_stored_at FROM event_totals"
_RECENT = """
SELECT source, coalesce(sum(events), 0) AS n
FROM event_counts_minute
WHERE bucket >= date_trunc('minute', $1::timestamptz) - interval '14 minutes'
  AND bucket <= $1
GROUP BY source
"""
_BY_AGENCY = """
SELECT source, agency, max(bucket) AS newest
FROM event_counts_minute
WHERE bucket >= $1
GROUP BY source, agency
ORDER BY source, agency
"""


async def source_activity(conn: Conn, now: datetime) -> dict[str, Any]:
    """Per source: when it last stored an event, the minute of its newest event within
    `ACTIVITY_WINDOW`, its events in the last 15 minutes (as `/api/kpis` counts them),
    and per agency the minute of its newest event within the window."""
    stored = {row["source"]: row["last_stored_at"] for row in await conn.fetch(_TOTALS)}
    recent = {row["source"]: int(row["n"]) for row in await conn.fetch(_RECENT, now)}
    agencies: dict[str, dict[str, datetime]] = {source: {} for source in SOURCES}
    for row in await conn.fetch(_BY_AGENCY, now - ACTIVITY_WINDOW):
        agencies.setdefault(row["source"], {})[row["agency"]] = row["newest"]
    return {
        source: {
            "last_stored_at": stored.get(source),
            "last_event_minute": max(agencies[source].values(), default=None),
            "events_last_15_min": recent.get(source, 0),
            "agencies": agencies[source],
        }
        for source in SOURCES
    }
