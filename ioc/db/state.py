"""Entity state in the database, worked out from the domain declarations alone.

`refold` reads every stored event of the given entities, folds each entity's history
with its domain's pure `fold` (in the working calendar of the clock it is given, the
same one the clock fields are judged with), upserts the result and moves the entities'
contributions in the domain's rollup from their old state to the new; the SQL (columns, types, the
upsert) is generated from the domain's state dataclass, so no column list is written
twice. Runs inside the caller's transaction: the processor calls it for the entities a
batch touched, `ioc migrate` for every entity of a state table it finds empty.

Concurrency: the state rows that exist are locked (`FOR UPDATE`) before the history is
read, so two transactions never fold one entity at once. Two transactions creating the
same entity at the same moment would need its events on two partitions, which keying
topics by entity id rules out.

Reading histories back is most of a batch's cost, so the processor keeps the histories
it has folded and committed in a `HistoryCache` and hands `refold` the batch's new
events: an entity whose cached history still matches its state row (same event count,
same last event; events are only ever added, and every transaction that stores an
entity's events refolds it, so a match means nothing was added since) is folded from
the cache plus its new events; an entity without a state row has no stored events but
its new ones; only the rest are read from the database. The fold is the same either
way - the tests compare a cached run against a refold from the raw events.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import orjson

from ioc.clock import Clock
from ioc.db import Conn, rollups
from ioc.domains import DOMAINS
from ioc.domains.base import Domain, StoredEvent, in_order

log = logging.getLogger(__name__)

_HISTORY = """
SELECT entity_id, event_id, event_type, occurred_at, agency, payload::text AS payload
FROM events WHERE source = $1 AND entity_id = ANY($2::text[])
ORDER BY entity_id, occurred_at, event_id
"""


@cache
def _upsert_sql(source: str) -> str:
    """Upsert states sent as one JSON array of objects: the server parses it, so no value
    is encoded one by one on the way (which cost more than the fold itself)."""
    domain = DOMAINS[source]
    names = ", ".join(c.name for c in domain.columns())
    updates = ", ".join(
        f"{c.name} = EXCLUDED.{c.name}" for c in domain.columns() if c.name != domain.entity_field
    )
    return (
        f"INSERT INTO {domain.state_table} ({names}) "
        f"SELECT {names} FROM json_populate_recordset(NULL::{domain.state_table}, $1::json) "
        f"ORDER BY {domain.entity_field} "
        f"ON CONFLICT ({domain.entity_field}) DO UPDATE SET {updates}"
    )


@cache
def _current_sql(source: str) -> str:
    domain = DOMAINS[source]
    return (
        f"SELECT * FROM {domain.state_table} WHERE {domain.entity_field} = ANY($1::text[]) "
        f"ORDER BY {domain.entity_field} FOR UPDATE"
    )


History = tuple[StoredEvent, ...]


class HistoryCache:
    """Committed entity histories, least recently used out first, bounded in events.

    A hit must still match the entity's state row (`valid_for`), so a history another
    processor extended (after a rebalance) or a transaction that rolled back is never
    folded from. Only `put` after the transaction commits.
    """

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._histories: OrderedDict[tuple[str, str], History] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._histories)

    def history(self, source: str, entity_id: str) -> History | None:
        """What is cached for an entity, as it is (whether still valid or not)."""
        return self._histories.get((source, entity_id))

    def valid_for(self, source: str, state: Any) -> History | None:
        """The cached history of `state`'s entity if it is the one `state` was folded from."""
        key = (source, getattr(state, DOMAINS[source].entity_field))
        history = self._histories.get(key)
        if (
            history is not None
            and len(history) == state.events
            and history[-1].event_id == state.last_event_id
        ):
            self._histories.move_to_end(key)
            self.hits += 1
            return history
        self.misses += 1
        return None

    def put(self, histories: Mapping[tuple[str, str], History]) -> None:
        for key, history in histories.items():
            if len(history) > self.max_events:
                continue
            previous = self._histories.pop(key, None)
            self._size += len(history) - (len(previous) if previous else 0)
            self._histories[key] = history
        while self._size > self.max_events and self._histories:
            _, evicted = self._histories.popitem(last=False)
            self._size -= len(evicted)


async def refold(
    conn: Conn,
    source: str,
    entity_ids: Sequence[str],
    clock: Clock,
    on_flags: Callable[[str, Counter[str]], None] | None = None,
    *,
    arrivals: Mapping[str, Sequence[StoredEvent]] | None = None,
    cache: HistoryCache | None = None,
    folded: dict[tuple[str, str], History] | None = None,
) -> list[Any]:
    """Fold and store the state of `entity_ids` from all their stored events, judged
    against `clock`, and move their contributions in the rollup from the old states to
    the new; returns the new. `on_flags(source, counts)` hears of flags newly raised.

    With `arrivals` - every event of these entities that this transaction stored, by
    entity id - histories come from `cache` where it is still valid and are read back
    only for the rest; `folded` is filled with the histories used, for the caller to
    put in the cache once the transaction has committed.
    """
    if not entity_ids:
        return []
    domain = DOMAINS[source]
    ids = sorted(set(entity_ids))
    old = [domain.state_from_row(row) for row in await conn.fetch(_current_sql(source), ids)]
    histories: dict[str, History] = {}
    if arrivals is not None:
        known = {getattr(state, domain.entity_field): state for state in old}
        for entity_id in ids:
            state = known.get(entity_id)
            new = arrivals.get(entity_id, ())
            if state is None and new:  # never folded, so nothing stored before these
                histories[entity_id] = tuple(in_order(new))
            elif cache is not None and (cached := cache.valid_for(source, state)) is not None:
                histories[entity_id] = tuple(in_order([*cached, *new])) if new else cached
    missing = [entity_id for entity_id in ids if entity_id not in histories]
    if missing:
        read: dict[str, list[StoredEvent]] = defaultdict(list)
        for row in await conn.fetch(_HISTORY, source, missing):
            read[row["entity_id"]].append(
                StoredEvent(
                    event_id=row["event_id"],
                    type=row["event_type"],
                    occurred_at=row["occurred_at"],
                    agency=row["agency"],
                    payload=json.loads(row["payload"]),
                )
            )
        histories.update((entity_id, tuple(events)) for entity_id, events in read.items())
    states = [
        domain.timed(domain.fold(entity_id, histories[entity_id], clock.calendar), clock)
        for entity_id in ids
        if histories.get(entity_id)
    ]
    if folded is not None:
        folded.update(((source, entity_id), histories[entity_id]) for entity_id in ids
                      if histories.get(entity_id))  # fmt: skip
    if on_flags is not None:
        on_flags(source, new_flags(domain, old, states))
    await write_states(conn, domain, states)
    await rollups.move(conn, source, old, states)
    await record_transitions(conn, domain, old, states, clock)
    return states


def new_flags(domain: Domain, old: Sequence[Any], new: Sequence[Any]) -> Counter[str]:
    """Flag codes that `new` states carry and their old states did not, counted."""
    before = {getattr(s, domain.entity_field): set(s.flags) for s in old}
    counts: Counter[str] = Counter()
    for state in new:
        known = before.get(getattr(state, domain.entity_field), set())
        counts.update(flag.split(":", 1)[0] for flag in state.flags if flag not in known)
    return counts


_RECORD = """
INSERT INTO clock_transitions (source, entity_id, kind, crossed_at)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::timestamptz[]) ORDER BY 1, 2
ON CONFLICT DO NOTHING
"""


async def record_transitions(
    conn: Conn, domain: Domain, old: Sequence[Any], new: Sequence[Any], clock: Clock
) -> Counter[str]:
    """Record each clock field that turned true (first crossing only); count them by kind."""
    before = {getattr(state, domain.entity_field): state for state in old}
    rows: list[tuple[str, str]] = []
    for state in new:
        entity_id = getattr(state, domain.entity_field)
        previous = before.get(entity_id)
        for kind in domain.clock_fields:
            if getattr(state, kind) and not (previous and getattr(previous, kind)):
                rows.append((entity_id, kind))
    if rows:
        await conn.execute(
            _RECORD, domain.source, [r[0] for r in rows], [r[1] for r in rows],
            [clock.now] * len(rows),
        )  # fmt: skip
    return Counter(kind for _, kind in rows)


async def tick(conn: Conn, source: str, clock: Clock, limit: int = 5000) -> Counter[str]:
    """Turn the clock fields that came due by `clock.now`; returns the transitions by kind.

    Reads only the rows the domain's `tick_where` selects (indexed: open and due), locks
    them with SKIP LOCKED so two processors never take the same row, and writes only
    what changed, moving its rollup contribution. Idempotent: a row already turned is
    not selected again. Runs inside the caller's transaction.
    """
    domain = DOMAINS[source]
    moments = {
        "now": clock.now,
        "horizon": clock.at_risk_horizon,
        "ack_deadline": clock.ack_deadline,
    }
    used = [name for name in moments if "{" + name + "}" in domain.tick_where]
    where = domain.tick_where.format(**{n: f"${used.index(n) + 1}" for n in used})
    rows = await conn.fetch(
        f"SELECT * FROM {domain.state_table} WHERE {where} "
        f"ORDER BY {domain.entity_field} LIMIT {int(limit)} FOR UPDATE SKIP LOCKED",
        *[moments[name] for name in used],
    )
    old = [domain.state_from_row(row) for row in rows]
    pairs = [(state, domain.timed(state, clock)) for state in old]
    changed = [(before, after) for before, after in pairs if before != after]
    if not changed:
        return Counter()
    await write_states(conn, domain, [after for _, after in changed])
    await rollups.move(conn, source, [b for b, _ in changed], [a for _, a in changed])
    return await record_transitions(
        conn, domain, [b for b, _ in changed], [a for _, a in changed], clock
    )


async def write_states(conn: Conn, domain: Domain, states: Sequence[Any]) -> None:
    if states:
        # orjson writes the state dataclasses as they are: tuples as arrays, instants
        # in RFC 3339 with their offset.
        await conn.execute(_upsert_sql(domain.source), orjson.dumps(states).decode())


async def refold_all(conn: Conn, source: str, clock: Clock, chunk: int = 1000) -> int:
    """Refold every entity of `source` (after a migration reshaped its state table)."""
    ids = [
        row["entity_id"]
        for row in await conn.fetch(
            "SELECT DISTINCT entity_id FROM events WHERE source = $1 ORDER BY 1", source
        )
    ]
    for start in range(0, len(ids), chunk):
        await refold(conn, source, ids[start : start + chunk], clock)
    if ids:
        log.info("rebuilt the state of %d %s from their events", len(ids), source)
    return len(ids)
