"""Entity state in the database, worked out from the domain declarations alone.

`refold` reads every stored event of the given entities, folds each entity's history
with its domain's pure `fold`, upserts the result and moves the entities'
contributions in the domain's rollup from their old state to the new; the SQL (columns, types, the
upsert) is generated from the domain's state dataclass, so no column list is written
twice. Runs inside the caller's transaction: the processor calls it for the entities a
batch touched, `ioc migrate` for every entity of a state table it finds empty.

Concurrency: the state rows that exist are locked (`FOR UPDATE`) before the history is
read, so two transactions never fold one entity at once. Two transactions creating the
same entity at the same moment would need its events on two partitions, which keying
topics by entity id rules out.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

from ioc.db import Conn, rollups
from ioc.domains import DOMAINS
from ioc.domains.base import Domain, StoredEvent

log = logging.getLogger(__name__)

_HISTORY = """
SELECT entity_id, event_id, event_type, occurred_at, agency, payload::text AS payload
FROM events WHERE source = $1 AND entity_id = ANY($2::text[])
ORDER BY entity_id, occurred_at, event_id
"""


@cache
def _upsert_sql(source: str) -> str:
    domain = DOMAINS[source]
    columns = domain.columns()
    names = ", ".join(c.name for c in columns)
    arrays = ", ".join(
        f"${i}::{'text' if c.is_array else c.sql_type}[]" for i, c in enumerate(columns, 1)
    )
    aliases = ", ".join(f"c{i}" for i in range(1, len(columns) + 1))
    values = ", ".join(
        # unnest cannot carry an array per row: arrays travel as JSON text.
        f"ARRAY(SELECT jsonb_array_elements_text(c{i}::jsonb))::{c.sql_type}"
        if c.is_array
        else f"c{i}"
        for i, c in enumerate(columns, 1)
    )
    updates = ", ".join(
        f"{c.name} = EXCLUDED.{c.name}" for c in columns if c.name != domain.entity_field
    )
    return (
        f"INSERT INTO {domain.state_table} ({names}) "
        f"SELECT {values} FROM unnest({arrays}) AS u({aliases}) ORDER BY 1 "
        f"ON CONFLICT ({domain.entity_field}) DO UPDATE SET {updates}"
    )


@cache
def _current_sql(source: str) -> str:
    domain = DOMAINS[source]
    return (
        f"SELECT * FROM {domain.state_table} WHERE {domain.entity_field} = ANY($1::text[]) "
        f"ORDER BY {domain.entity_field} FOR UPDATE"
    )


def _cell(value: Any, is_array: bool) -> Any:
    return json.dumps(list(value)) if is_array else value


async def refold(conn: Conn, source: str, entity_ids: Sequence[str]) -> list[Any]:
    """Fold and store the state of `entity_ids` from all their stored events, and move
    their contributions in the rollup from the old states to the new; returns the new."""
    if not entity_ids:
        return []
    domain = DOMAINS[source]
    ids = sorted(set(entity_ids))
    old = [domain.state_from_row(row) for row in await conn.fetch(_current_sql(source), ids)]
    history: dict[str, list[StoredEvent]] = defaultdict(list)
    for row in await conn.fetch(_HISTORY, source, ids):
        history[row["entity_id"]].append(
            StoredEvent(
                event_id=row["event_id"],
                type=row["event_type"],
                occurred_at=row["occurred_at"],
                agency=row["agency"],
                payload=json.loads(row["payload"]),
            )
        )
    states = [domain.fold(entity_id, events) for entity_id, events in history.items()]
    await write_states(conn, domain, states)
    await rollups.move(conn, source, old, states)
    return states


async def write_states(conn: Conn, domain: Domain, states: Sequence[Any]) -> None:
    if not states:
        return
    columns = domain.columns()
    rows = [domain.row(state) for state in states]
    arrays = [[_cell(row[i], column.is_array) for row in rows] for i, column in enumerate(columns)]
    await conn.execute(_upsert_sql(domain.source), *arrays)


async def refold_all(conn: Conn, source: str, chunk: int = 1000) -> int:
    """Refold every entity of `source` (after a migration reshaped its state table)."""
    ids = [
        row["entity_id"]
        for row in await conn.fetch(
            "SELECT DISTINCT entity_id FROM events WHERE source = $1 ORDER BY 1", source
        )
    ]
    for start in range(0, len(ids), chunk):
        await refold(conn, source, ids[start : start + chunk])
    if ids:
        log.info("rebuilt the state of %d %s from their events", len(ids), source)
    return len(ids)
