"""Dead letters counted by source and reason, each record of the dead-letter topic once.

The processor reads the dead-letter topic beside the source topics and hands what it
read to `count` inside its batch transaction. Offsets of one partition arrive in
order, so a mark per partition - the next offset not yet counted - tells new records
from ones read again after a crash or a rebalance: the mark and the counts move in
the same transaction, under a row lock, so two processors never count one record twice.
The API reads the per-minute counts (`recent_by_source`), never the topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from ioc.db import Conn

_MAX_LABEL = 100  # stage, source and reason are labels: bounded, printable


@dataclass(frozen=True, slots=True)
class SeenLetter:
    """One record of the dead-letter topic, as far as counting needs it."""

    topic: str
    partition: int
    offset: int
    at: datetime  # when it was dead-lettered (the record's timestamp)
    stage: str
    source: str
    reason: str


def _label(value: Any, default: str) -> str:
    text = value if isinstance(value, str) and value else default
    return "".join(ch for ch in text if ch.isprintable())[:_MAX_LABEL] or default


def read_letter(
    topic: str, partition: int, offset: int, at: datetime, value: bytes | None
) -> SeenLetter:
    """What a dead-letter record says of itself; a record that is not one of ours (not a
    JSON object) still counts, as stage and source `unknown`, reason `unreadable`."""
    try:
        letter = orjson.loads(value or b"")
    except ValueError:
        letter = None
    if not isinstance(letter, dict):
        return SeenLetter(topic, partition, offset, at, "unknown", "unknown", "unreadable")
    return SeenLetter(
        topic, partition, offset, at,
        _label(letter.get("stage"), "unknown"),
        _label(letter.get("source"), "unknown"),
        _label(letter.get("reason"), "unknown"),
    )  # fmt: skip


_MARKS = """
INSERT INTO dead_letter_progress (topic, partition, next_offset)
SELECT t, p, 0 FROM unnest($1::text[], $2::integer[]) AS u(t, p) ORDER BY 1, 2
ON CONFLICT DO NOTHING
"""
_LOCK_MARKS = """
SELECT topic, partition, next_offset FROM dead_letter_progress
WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::integer[]))
ORDER BY topic, partition FOR UPDATE
"""
_MOVE_MARKS = """
UPDATE dead_letter_progress d SET next_offset = u.next
FROM unnest($1::text[], $2::integer[], $3::bigint[]) AS u(topic, partition, next)
WHERE d.topic = u.topic AND d.partition = u.partition
"""
_ADD = """
INSERT INTO dead_letter_counts AS c (bucket, stage, source, reason, letters)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[])
ORDER BY 1, 2, 3, 4
ON CONFLICT (bucket, stage, source, reason) DO UPDATE SET letters = c.letters + EXCLUDED.letters
"""


async def count(conn: Conn, letters: Sequence[SeenLetter]) -> int:
    """Count the letters not counted before; returns how many were new. Runs inside the
    caller's transaction."""
    if not letters:
        return 0
    parts = sorted({(letter.topic, letter.partition) for letter in letters})
    topics, partitions = [t for t, _ in parts], [p for _, p in parts]
    await conn.execute(_MARKS, topics, partitions)
    marks = {
        (row["topic"], row["partition"]): row["next_offset"]
        for row in await conn.fetch(_LOCK_MARKS, topics, partitions)
    }
    new = [letter for letter in letters if letter.offset >= marks[(letter.topic, letter.partition)]]
    if not new:
        return 0
    counts = Counter(
        (letter.at.replace(second=0, microsecond=0), letter.stage, letter.source, letter.reason)
        for letter in new
    )
    rows = sorted(counts.items())
    await conn.execute(
        _ADD, [k[0] for k, _ in rows], [k[1] for k, _ in rows], [k[2] for k, _ in rows],
        [k[3] for k, _ in rows], [n for _, n in rows],
    )  # fmt: skip
    nexts: dict[tuple[str, int], int] = {}
    for letter in new:
        key = (letter.topic, letter.partition)
        nexts[key] = max(nexts.get(key, 0), letter.offset + 1)
    moved = sorted(nexts.items())
    await conn.execute(
        _MOVE_MARKS, [k[0] for k, _ in moved], [k[1] for k, _ in moved], [n for _, n in moved]
    )
    return len(new)


_RECENT = """
SELECT source, stage, reason, sum(letters)::bigint AS letters
FROM dead_letter_counts WHERE bucket >= $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


async def recent_by_source(
    conn: Conn, now: datetime, window: timedelta = timedelta(hours=24)
) -> dict[str, dict[str, dict[str, int]]]:
    """Dead letters of the last `window`: source -> stage -> reason -> records."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in await conn.fetch(_RECENT, now - window):
        out.setdefault(row["source"], {}).setdefault(row["stage"], {})[row["reason"]] = int(
            row["letters"]
        )
    return out
