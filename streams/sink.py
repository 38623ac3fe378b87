"""The database sink: one micro-batch, one transaction.

Inside the transaction: store the batch's events that `events` does not hold yet and
learn which those were, then run the writers (`WRITERS`: refold the state of the
entities the new events touch from each one's whole stored history, which moves the
rollups, and count only the new events; a later stage appends its own). No KPI is
read here: the API reads them when it relays the batch's announcement. The caller
commits Kafka offsets only after `write` returns, so a crash anywhere before that
replays the batch, and the primary key turns the replay into a no-op.

Storing new rows only. Nearly every batch is wholly new (repeats come after a crash,
a rebalance or a replay), so the batch is first COPied straight into `events` under a
savepoint: one statement, and every row new. If a row is already there, the primary
key refuses the COPY, the savepoint undoes it, and the batch goes the long way - COPY
into a temporary table, then `INSERT ... ON CONFLICT DO NOTHING RETURNING`, which
tells which rows were new. After a refused COPY the sink keeps to the long way until
a batch turns out wholly new again, so a replay of a whole topic pays for the
conflict once, not on every batch.

Poison records. When the database refuses the batch because of its rows (text it
cannot encode, a value out of range, a constraint: `ioc.db.refuses_rows`), the whole
transaction is rolled back and the batch is written again in a new one that
isolates the culprits: each part is tried under a savepoint and a refused part is
split in two until the refused records stand alone. Those come back in
`WriteResult.refused` with the database's reason, for the caller to dead-letter
before it commits the offsets; every other record is stored, once, in the same single
transaction. A fault-free batch pays nothing for this. Any other error (connection
lost, serialization failure, deadlock) propagates: the caller retries the batch.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from ioc.clock import Clock, wall_clock
from ioc.db import Conn, dead_letters, describe, refuses_rows
from ioc.db.dead_letters import SeenLetter
from ioc.db.state import History, HistoryCache, refold
from ioc.domains.base import StoredEvent
from streams import metrics
from streams.batch import BatchDelta, Incoming, aggregate, first_of_each

log = logging.getLogger(__name__)

# Where a write's time goes (`ioc bench` reads these); perf_counter around each step.
_STEP = {
    step: metrics.WRITE_STEP_SECONDS.labels(step=step)
    for step in ("stage", "insert", "counts", "refold", "commit")
}

FaultHook = Callable[[str], Awaitable[None]]

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS incoming_events (
    source text, event_id text, event_type text, entity_id text, agency text,
    occurred_at timestamptz, ingested_at timestamptz, payload jsonb
) ON COMMIT DELETE ROWS
"""
# The columns a batch is COPied into, in `events` (straight) or its staging table.
EVENT_COLUMNS = [
    "source", "event_id", "event_type", "entity_id", "agency",
    "occurred_at", "ingested_at", "payload",
]  # fmt: skip

_INSERT_NEW = """
INSERT INTO events (source, event_id, event_type, entity_id, agency,
                    occurred_at, ingested_at, payload)
SELECT source, event_id, event_type, entity_id, agency, occurred_at, ingested_at, payload
FROM incoming_events
ON CONFLICT (source, event_id) DO NOTHING
RETURNING source, event_id
"""

_ADD_TOTALS = """
UPDATE event_totals t SET events = t.events + d.n, last_stored_at = clock_timestamp()
FROM unnest($1::text[], $2::bigint[]) AS d(source, n)
WHERE t.source = d.source
"""

# Rows are sorted so that two processor instances lock shared rows in one order.
_ADD_PER_MINUTE = """
INSERT INTO event_counts_minute AS c (bucket, source, event_type, agency, events)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[])
ORDER BY 1, 2, 3, 4
ON CONFLICT (bucket, source, event_type, agency)
DO UPDATE SET events = c.events + EXCLUDED.events
"""


@dataclass(frozen=True, slots=True)
class Refused:
    """A record the database can never store, and the database's reason."""

    record: Incoming
    reason: str


@dataclass(frozen=True)
class WriteResult:
    received: int
    delta: BatchDelta
    refused: Sequence[Refused] = ()

    @property
    def duplicates(self) -> int:
        return self.received - self.delta.new_events - len(self.refused)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows to per-column lists, the shape `unnest($1::t[], ...)` takes."""
    return [[row[i] for row in rows] for i in range(width)] if rows else [[]] * width


async def _no_fault(point: str) -> None:
    return None


class DatabaseSink:
    """Writes micro-batches to PostgreSQL through one dedicated connection."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        fault: FaultHook = _no_fault,
        clock: Callable[[], Clock] = wall_clock,
        history_cache_events: int = 200_000,
        writers: Sequence[Writer] | None = None,
    ) -> None:
        self._conn = conn
        self._writers = WRITERS if writers is None else tuple(writers)
        for writer in self._writers:
            _STEP.setdefault(writer.name, metrics.WRITE_STEP_SECONDS.labels(step=writer.name))
        self._fault = fault
        self._clock = clock
        # Histories of the entities this sink folded, valid only once committed.
        self.histories = HistoryCache(history_cache_events)
        # Odd histories newly flagged, (source, flag code) -> entities: the processor
        # turns these into a metric. Counted as written, so a batch retried after a
        # failure may count its flags again - a gauge of oddities, not of events.
        self.flags_raised: Counter[tuple[str, str]] = Counter()
        self._staging_ready = False
        self._copy_direct = True  # the last batch was wholly new: try the one-COPY way

    async def write(
        self, records: Sequence[Incoming], letters: Sequence[SeenLetter] = ()
    ) -> WriteResult:
        """Store `records` and count `letters` (read from the dead-letter topic) in one
        transaction."""
        unique = first_of_each(records)
        if not self._staging_ready:
            await self._conn.execute(_STAGING)
            self._staging_ready = True
        folded: dict[tuple[str, str], History] = {}
        try:
            async with self._conn.transaction():
                delta = await self._store(unique, folded) if unique else BatchDelta()
                await dead_letters.count(self._conn, letters)
                stored = time.perf_counter()
            _STEP["commit"].inc(time.perf_counter() - stored)
            self.histories.put(folded)
            return WriteResult(received=len(records), delta=delta)
        except Exception as error:
            if not refuses_rows(error):
                raise
            log.warning(
                "the database refused a batch of %d records (%s); isolating the refused ones",
                len(unique), describe(error),
            )  # fmt: skip
        refused: list[Refused] = []
        delta = BatchDelta()
        folded = {}
        async with self._conn.transaction():
            await self._isolate(unique, delta, refused, folded)
            await dead_letters.count(self._conn, letters)
        self.histories.put(folded)
        return WriteResult(received=len(records), delta=delta, refused=refused)

    async def _isolate(
        self,
        part: Sequence[Incoming],
        delta: BatchDelta,
        refused: list[Refused],
        folded: dict[tuple[str, str], History],
    ) -> None:
        """Store `part` under a savepoint; if its rows are refused, split it and recurse."""
        used: dict[tuple[str, str], History] = {}
        try:
            async with self._conn.transaction():  # nested: a savepoint
                await self._conn.execute("TRUNCATE incoming_events")
                delta.add(await self._store(part, used))
            folded.update(used)
            return
        except Exception as error:
            if not refuses_rows(error):
                raise
            if len(part) == 1:
                refused.append(Refused(part[0], describe(error)))
                return
        middle = len(part) // 2
        await self._isolate(part[:middle], delta, refused, folded)
        await self._isolate(part[middle:], delta, refused, folded)

    async def _store(
        self, unique: Sequence[Incoming], folded: dict[tuple[str, str], History]
    ) -> BatchDelta:
        """Insert the raw events and fold the new ones; runs inside the caller's transaction.
        `folded` receives the histories the fold used (for the cache, once committed)."""
        payloads = [r.event.payload.model_dump_json() for r in unique]
        rows = [
            (
                r.event.source,
                r.event.event_id,
                r.event.type,
                r.event.entity_id,
                r.event.agency,
                r.event.occurred_at,
                r.ingested_at,
                payload,
            )
            for r, payload in zip(unique, payloads, strict=True)
        ]
        if await self._copy_all_new(rows):
            new = list(zip(unique, payloads, strict=True))
        else:
            new_keys = await self._insert_new(rows)
            new = [
                (r, payload)
                for r, payload in zip(unique, payloads, strict=True)
                if r.key in new_keys
            ]
            self._copy_direct = len(new) == len(unique)
        await self._fault("mid_batch")
        delta = aggregate(r.event for r, _ in new)
        await self._apply(delta, _arrivals(new), folded)
        return delta

    async def _copy_all_new(self, rows: Sequence[tuple[Any, ...]]) -> bool:
        """COPY `rows` straight into `events` if none is stored yet; False (and nothing
        written) if one is, or if the last batch had repeats."""
        if not self._copy_direct:
            return False
        started = time.perf_counter()
        try:
            async with self._conn.transaction():  # a savepoint: a refusal undoes the COPY only
                await self._conn.copy_records_to_table(
                    "events", columns=EVENT_COLUMNS, records=rows
                )
        except asyncpg.UniqueViolationError:
            self._copy_direct = False
            log.debug("a batch repeats stored events: de-duplicating it in a staging table")
            return False
        finally:
            _STEP["insert"].inc(time.perf_counter() - started)
        return True

    async def _insert_new(self, rows: Sequence[tuple[Any, ...]]) -> set[tuple[str, str]]:
        """Stage `rows` and insert those `events` does not hold; returns their keys."""
        started = time.perf_counter()
        await self._conn.copy_records_to_table(
            "incoming_events", columns=EVENT_COLUMNS, records=rows
        )
        staged = time.perf_counter()
        _STEP["stage"].inc(staged - started)
        new_keys = {(row["source"], row["event_id"]) for row in await self._conn.fetch(_INSERT_NEW)}
        _STEP["insert"].inc(time.perf_counter() - staged)
        return new_keys

    def count_flags(self, source: str, counts: Counter[str]) -> None:
        for code, n in counts.items():
            self.flags_raised[(source, code)] += n

    async def _apply(
        self,
        delta: BatchDelta,
        arrivals: dict[str, dict[str, list[StoredEvent]]],
        folded: dict[tuple[str, str], History],
    ) -> None:
        stored = StoredBatch(self._conn, delta, arrivals, self._clock(), self, folded)
        for writer in self._writers:
            started = time.perf_counter()
            await writer.write(stored)
            _STEP[writer.name].inc(time.perf_counter() - started)


@dataclass(frozen=True)
class StoredBatch:
    """What a writer is given: the transaction's connection, the events it stored that
    were new (`delta` counts them, `arrivals` holds them as folds see them) and the
    clock of the batch. Writers run in order, inside the batch's one transaction."""

    conn: Conn
    delta: BatchDelta
    arrivals: dict[str, dict[str, list[StoredEvent]]]
    clock: Clock
    sink: DatabaseSink
    folded: dict[tuple[str, str], History]


@dataclass(frozen=True)
class Writer:
    """A step of the batch's transaction; `name` labels its time on /metrics."""

    name: str
    write: Callable[[StoredBatch], Awaitable[None]]


async def _count_events(batch: StoredBatch) -> None:
    """Event totals per source and counts per minute, moved by new events only."""
    delta = batch.delta
    if delta.new_by_source:
        await batch.conn.execute(_ADD_TOTALS, *_columns(list(delta.new_by_source.items()), 2))
    if delta.per_minute:
        counts = [(*key, n) for key, n in delta.per_minute.items()]
        await batch.conn.execute(_ADD_PER_MINUTE, *_columns(counts, 5))


async def _refold_touched(batch: StoredBatch) -> None:
    """The state of every entity the new events touch, and its rollup contribution."""
    sink = batch.sink
    for source, ids in sorted(batch.delta.touched.items()):
        await refold(
            batch.conn, source, sorted(ids), batch.clock, on_flags=sink.count_flags,
            arrivals=batch.arrivals.get(source, {}), cache=sink.histories, folded=batch.folded,
        )  # fmt: skip


COUNTS = Writer("counts", _count_events)
REFOLD = Writer("refold", _refold_touched)
# What every batch writes, in this order; a later stage adds its own writers after them.
# The counts come last: their rows (one per source, one per minute) are the ones every
# processor's transactions share, and a row lock is held until the commit - taken
# first, it would make two processors' transactions wait for each other whole.
WRITERS: tuple[Writer, ...] = (REFOLD, COUNTS)


def _arrivals(new: Sequence[tuple[Incoming, str]]) -> dict[str, dict[str, list[StoredEvent]]]:
    """The events this transaction stored, as a fold sees them, by source and entity id.

    The payload is read back from the JSON text that was stored, so it is exactly what
    reading the history from the database would give."""
    out: dict[str, dict[str, list[StoredEvent]]] = {}
    for record, payload in new:
        event = record.event
        out.setdefault(event.source, {}).setdefault(event.entity_id, []).append(
            StoredEvent(event.event_id, event.type, event.occurred_at, event.agency,
                        orjson.loads(payload))
        )  # fmt: skip
    return out
