"""IOC's own record shape (see the README, *The canonical record*): already canonical.

Parsed as a JSON array, one JSON object or NDJSON; mapped to itself, so the pipeline's
canonical validation is the whole judgement and its errors are the canonical field
names. The fallback when `?format=` is omitted and no other format recognises a record.
"""

from __future__ import annotations

from typing import Any

from ingestors.body import parse_records
from ingestors.formats.base import Format, MapContext, Mapped
from ioc.config import SOURCES


def map_record(record: Any, ctx: MapContext) -> Mapped:
    return Mapped(events=[record])


FORMAT = Format(
    name="canonical",
    title="IOC canonical JSON",
    sources=frozenset(SOURCES),
    parser=parse_records,
    mapper=map_record,
)
