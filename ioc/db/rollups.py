"""Rollups kept exact without rescans: move an entity's contribution, old out, new in.

`move` takes the states of the entities a transaction is about to replace and the
states replacing them, sums what each set contributes per rollup key (the domain's
`Rollup.contribute`), and adds the difference to the rollup table in one statement.
Work is proportional to the entities touched, never to the backlog or the history.
Rows are written in key order, so two transactions lock shared rows in one order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import orjson

from ioc.db import Conn
from ioc.domains import DOMAINS
from ioc.domains.base import Rollup

Key = tuple[Any, ...]


def difference(rollup: Rollup, old: Iterable[Any], new: Iterable[Any]) -> dict[Key, Counter[str]]:
    """Per key, what `new` contributes minus what `old` contributed (zeros left out)."""
    total: dict[Key, dict[str, int]] = {}
    for states, sign in ((new, 1), (old, -1)):
        for state in states:
            for key, measures in rollup.contribute(state).items():
                row = total.get(key)
                if row is None:
                    total[key] = {m: sign * v for m, v in measures.items()}
                else:
                    for m, v in measures.items():
                        row[m] = row.get(m, 0) + sign * v
    return {
        key: Counter(row) for key, row in total.items() if any(row.get(m) for m in rollup.measures)
    }


@cache
def _add_sql(source: str) -> str:
    """Add rows sent as one JSON array of objects (parsed by the server, see `state`)."""
    rollup = DOMAINS[source].rollup
    keys = ", ".join(("day", *rollup.dims))
    columns = f"{keys}, {', '.join(rollup.measures)}"
    updates = ", ".join(f"{m} = t.{m} + EXCLUDED.{m}" for m in rollup.measures)
    return (
        f"INSERT INTO {rollup.table} AS t ({columns}) "
        f"SELECT {columns} FROM json_populate_recordset(NULL::{rollup.table}, $1::json) "
        f"ORDER BY {keys} ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


_ADD_CURRENT = """
INSERT INTO current_totals AS t (source, agency, dim, measure, value)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) ORDER BY 1, 2, 3
ON CONFLICT (source, agency, dim, measure) DO UPDATE SET value = t.value + EXCLUDED.value
"""


def current_difference(
    rollup: Rollup, delta: dict[Key, Counter[str]]
) -> dict[tuple[str, str, str], int]:
    """The rollup difference summed over days: (agency, dim value, measure) -> amount."""
    at = 1 + rollup.dims.index(rollup.current_dim) if rollup.current_dim else None
    out: Counter[tuple[str, str, str]] = Counter()
    for key, counts in delta.items():
        dim = str(key[at]) if at is not None else ""
        for measure in rollup.current:
            out[(str(key[1]), dim, measure)] += counts[measure]
    return {key: value for key, value in out.items() if value}


async def move(conn: Conn, source: str, old: Sequence[Any], new: Sequence[Any]) -> int:
    """Replace `old`'s contribution by `new`'s in the source's rollup and current totals;
    returns the rollup rows moved."""
    rollup = DOMAINS[source].rollup
    delta = difference(rollup, old, new)
    if not delta:
        return 0
    names = ("day", *rollup.dims)
    rows = [
        {**dict(zip(names, key, strict=True)), **{m: delta[key][m] for m in rollup.measures}}
        for key in delta
    ]
    await conn.execute(_add_sql(source), orjson.dumps(rows).decode())
    current = current_difference(rollup, delta)
    if current:
        moved = sorted(current.items())
        await conn.execute(
            _ADD_CURRENT, source, [k[0] for k, _ in moved], [k[1] for k, _ in moved],
            [k[2] for k, _ in moved], [v for _, v in moved],
        )  # fmt: skip
    return len(rows)
